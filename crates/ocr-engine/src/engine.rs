//! The PP-OCR pipeline on ONNX Runtime: detection, then recognition of each line in
//! batches. Models load once; a run is CPU-bound and blocking (call it from a blocking
//! pool); the sessions are behind mutexes, so concurrent runs queue instead of
//! oversubscribing the cores each session already uses.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use image::{DynamicImage, RgbImage};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use crate::det::{DbParams, TextBox, boxes, reading_order};
use crate::prep::{REC_HEIGHT, crop, det_input, det_size, rec_batch};
use crate::rec::{Alphabet, decode};
use crate::types::{EngineError, Read, Reader, Side, TextLine};

/// Lines recognised in one run: similar widths batched (they are sorted by width), so the
/// padding is small and the per-run overhead shared.
const REC_BATCH: usize = 8;

/// File names of the pinned model release (RapidOCR 1.4.4's PP-OCRv4 models) and of the
/// ONNX Runtime library, as `scripts/ocr-models.sh` lays them out.
pub const DET_MODEL: &str = "ch_PP-OCRv4_det_infer.onnx";
pub const REC_MODEL: &str = "ch_PP-OCRv4_rec_infer.onnx";
pub const RUNTIME_LIB: &str = "libonnxruntime.so";

/// Where the models are and how to run them.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Directory holding the two models and the runtime library.
    pub models_dir: PathBuf,
    /// Threads one inference uses (ONNX Runtime intra-op threads).
    pub threads: usize,
    /// The detector's input: short side at least this (small photos enlarged) ...
    pub det_min_side: u32,
    /// ... and long side at most this.
    pub det_max_side: u32,
    /// Lines recognised with less confidence than this are dropped (RapidOCR: 0.5).
    pub min_line_confidence: f32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            models_dir: default_models_dir(),
            threads: 2,
            det_min_side: 480,
            det_max_side: 800,
            min_line_confidence: 0.5,
        }
    }
}

/// `$AXLE_OCR_MODELS`, else `~/.cache/axle/ocr-models` (where the setup script puts them).
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AXLE_OCR_MODELS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/axle/ocr-models")
}

/// The loaded pipeline.
#[derive(Debug)]
pub struct Engine {
    det: Mutex<Session>,
    rec: Mutex<Session>,
    alphabet: Alphabet,
    cfg: EngineConfig,
}

/// How long a run's stages took, for the evaluation and the logs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub detect_ms: f64,
    pub recognise_ms: f64,
    pub lines: usize,
}

impl Engine {
    /// Loads the runtime and both models. Fails (never panics) when a file is missing or
    /// the library cannot be loaded, naming the file and how to get it.
    pub fn load(cfg: &EngineConfig) -> Result<Self, EngineError> {
        let file = |name: &str| -> Result<PathBuf, EngineError> {
            let p = cfg.models_dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(EngineError::Missing(p))
            }
        };
        let lib = file(RUNTIME_LIB)?;
        let det_path = file(DET_MODEL)?;
        let rec_path = file(REC_MODEL)?;
        // ort panics when the library cannot be loaded or is too old: turn that into an
        // error the service can report at start.
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            ort::init_from(lib.display().to_string())
                .with_name("axle-ocr")
                .commit()
        }))
        .map_err(|_| EngineError::Runtime(format!("cannot load {}", lib.display())))?
        .map_err(|e| EngineError::Runtime(e.to_string()))?;
        let session = |path: &Path| -> Result<Session, EngineError> {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                Session::builder()?
                    .with_optimization_level(GraphOptimizationLevel::Level3)?
                    .with_intra_threads(cfg.threads.max(1))?
                    .with_inter_threads(1)?
                    // A service's cores are shared with other requests: idle inference
                    // threads sleep instead of spinning.
                    .with_intra_op_spinning(false)?
                    .commit_from_file(path)
            }))
            .map_err(|_| EngineError::Runtime(format!("loading {} panicked", path.display())))?
            .map_err(|e| EngineError::Runtime(format!("{}: {e}", path.display())))
        };
        let det = session(&det_path)?;
        let rec = session(&rec_path)?;
        let characters = rec
            .metadata()
            .and_then(|m| m.custom("character"))
            .map_err(|e| EngineError::Runtime(e.to_string()))?
            .ok_or_else(|| {
                EngineError::Runtime(format!(
                    "{} carries no `character` metadata (not a PP-OCR recogniser export)",
                    rec_path.display()
                ))
            })?;
        let alphabet = Alphabet::from_metadata(&characters);
        Ok(Self {
            det: Mutex::new(det),
            rec: Mutex::new(rec),
            alphabet,
            cfg: cfg.clone(),
        })
    }

    /// Every text line in `img`, in reading order.
    pub fn lines(&self, img: &DynamicImage) -> Result<(Vec<TextLine>, Timings), EngineError> {
        let rgb = img.to_rgb8();
        let started = Instant::now();
        let mut found = self.detect(&rgb)?;
        reading_order(&mut found, 10.0);
        let detect_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let lines = self.recognise(&rgb, &found)?;
        let timings = Timings {
            detect_ms,
            recognise_ms: started.elapsed().as_secs_f64() * 1000.0,
            lines: lines.len(),
        };
        Ok((lines, timings))
    }

    fn detect(&self, rgb: &RgbImage) -> Result<Vec<TextBox>, EngineError> {
        let (w, h) = det_size(
            rgb.width(),
            rgb.height(),
            self.cfg.det_min_side,
            self.cfg.det_max_side,
        );
        let input = det_input(rgb, w, h);
        let tensor = Tensor::from_array(([1usize, 3, input.height, input.width], input.data))
            .map_err(|e| EngineError::Inference(e.to_string()))?;
        let mut det = self
            .det
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = det
            .run(ort::inputs![tensor])
            .map_err(|e| EngineError::Inference(e.to_string()))?;
        let (shape, prob) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| EngineError::Inference(e.to_string()))?;
        // [1, 1, h, w]
        let (ph, pw) = match shape.len() {
            4 => (to_usize(shape[2]), to_usize(shape[3])),
            _ => {
                return Err(EngineError::Inference(format!(
                    "detector output shape {shape:?}"
                )));
            }
        };
        if prob.len() < ph * pw {
            return Err(EngineError::Inference(
                "detector output too short".to_owned(),
            ));
        }
        Ok(boxes(
            &prob[..ph * pw],
            pw,
            ph,
            rgb.width(),
            rgb.height(),
            &DbParams::default(),
        ))
    }

    fn recognise(&self, rgb: &RgbImage, found: &[TextBox]) -> Result<Vec<TextLine>, EngineError> {
        let crops: Vec<(usize, RgbImage)> = found
            .iter()
            .enumerate()
            .filter_map(|(i, b)| crop(rgb, &b.quad).map(|c| (i, c)))
            .collect();
        // Similar widths together, so that padding wastes little.
        let mut order: Vec<usize> = (0..crops.len()).collect();
        let ratio = |c: &RgbImage| f64::from(c.width()) / f64::from(c.height().max(1));
        order.sort_by(|&a, &b| ratio(&crops[a].1).total_cmp(&ratio(&crops[b].1)));
        let mut read: Vec<Option<(String, f32)>> = vec![None; crops.len()];
        let mut rec = self
            .rec
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for chunk in order.chunks(REC_BATCH) {
            // The batch's own widest line, not PaddleOCR's 320-pixel floor: most lines
            // of a licence are short labels, and padding them to 320 doubles the work.
            let max_ratio = chunk
                .iter()
                .map(|&i| ratio(&crops[i].1))
                .fold(1.0, f64::max)
                .min(40.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let width = (f64::from(REC_HEIGHT) * max_ratio).ceil() as u32;
            let lines: Vec<&RgbImage> = chunk.iter().map(|&i| &crops[i].1).collect();
            let batch = rec_batch(&lines, width);
            let tensor =
                Tensor::from_array(([lines.len(), 3, batch.height, batch.width], batch.data))
                    .map_err(|e| EngineError::Inference(e.to_string()))?;
            let outputs = rec
                .run(ort::inputs![tensor])
                .map_err(|e| EngineError::Inference(e.to_string()))?;
            let (shape, probs) = outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| EngineError::Inference(e.to_string()))?;
            // [n, steps, classes]
            if shape.len() != 3 {
                return Err(EngineError::Inference(format!(
                    "recogniser output shape {shape:?}"
                )));
            }
            let (steps, classes) = (to_usize(shape[1]), to_usize(shape[2]));
            if classes != self.alphabet.len() {
                return Err(EngineError::Inference(format!(
                    "recogniser has {classes} classes, its alphabet {}",
                    self.alphabet.len()
                )));
            }
            for (k, &i) in chunk.iter().enumerate() {
                let slice = probs
                    .get(k * steps * classes..(k + 1) * steps * classes)
                    .ok_or_else(|| {
                        EngineError::Inference("recogniser output too short".to_owned())
                    })?;
                read[i] = Some(decode(slice, steps, classes, &self.alphabet));
            }
        }
        Ok(crops
            .iter()
            .zip(read)
            .filter_map(|((i, _), r)| {
                let (text, confidence) = r?;
                (confidence >= self.cfg.min_line_confidence && !text.trim().is_empty()).then(|| {
                    TextLine {
                        text,
                        confidence,
                        quad: found[*i].quad,
                    }
                })
            })
            .collect())
    }
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}

impl Reader for Engine {
    fn read(&self, image: &DynamicImage, side: Option<Side>) -> Result<Read, EngineError> {
        let (lines, timings) = self.lines(image)?;
        tracing::debug!(
            detect_ms = timings.detect_ms,
            recognise_ms = timings.recognise_ms,
            lines = timings.lines,
            "licence photo read"
        );
        Ok(crate::licence::extract(lines, side))
    }
}
