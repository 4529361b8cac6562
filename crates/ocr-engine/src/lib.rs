//! The local 行驶证 reader: PP-OCR (PP-OCRv4, Chinese) text detection and recognition run
//! in-process on ONNX Runtime, and the licence's fields found among the recognised lines.
//!
//! - `engine`: the models (pinned files fetched by `scripts/ocr-models.sh`, loaded once)
//!   and the pipeline: photo -> text boxes -> lines of text with confidence and box.
//! - `det`, `rec`, `prep`, `geometry`: the pieces of the pipeline, pure and tested alone.
//! - `licence`: which line is which field of the front (正页) or back (副页), by the
//!   printed labels and, where a label is lost, by what the value looks like.
//!
//! [`Reader`] is what a service calls: it is CPU-bound and blocking, so call it from a
//! bounded blocking pool, never on an async runtime's threads.

// Pixel arithmetic: coordinates and sizes are far below 2^23 (photos are bounded by the
// decoder's limits), so the float/integer conversions these lints flag are exact, and
// x, y, w, h are the names the formulas use.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::many_single_char_names,
    clippy::similar_names
)]

pub mod det;
pub mod engine;
pub mod geometry;
pub mod licence;
pub mod prep;
pub mod rec;

use std::path::PathBuf;

pub use engine::{Engine, EngineConfig, Timings};
pub use geometry::Quad;

/// One recognised line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of its characters, 0..1.
    pub confidence: f32,
    /// Its box in the photo's pixels: top-left, top-right, bottom-right, bottom-left.
    pub quad: Quad,
}

/// Which side of the licence a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// 正页: plate, owner, VIN, engine number, dates, seal.
    Front,
    /// 副页: file number, seats, masses, size, inspection record.
    Back,
}

/// A field of the licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldName {
    /// 号牌号码 (both sides).
    Plate,
    /// 车辆类型.
    VehicleType,
    /// 所有人.
    Owner,
    /// 住址.
    Address,
    /// 使用性质.
    UseCharacter,
    /// 品牌型号.
    Model,
    /// 车辆识别代号.
    Vin,
    /// 发动机号码.
    EngineNumber,
    /// 注册日期.
    RegisterDate,
    /// 发证日期.
    IssueDate,
    /// 发证机关 (the seal).
    Seal,
    /// 档案编号.
    FileNumber,
    /// 核定载人数.
    ApprovedPassengers,
    /// 总质量.
    TotalMass,
    /// 整备质量.
    CurbWeight,
    /// 核定载质量.
    RatedLoad,
    /// 外廓尺寸.
    ExternalSize,
    /// 准牵引总质量.
    TractionMass,
    /// 备注.
    Remarks,
    /// 检验记录.
    InspectionRecord,
}

/// One field read from the photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: FieldName,
    /// The text as read (label removed, spaces kept only where they mean something).
    pub text: String,
    /// 0..1: the recogniser's confidence, lowered when the field was placed by what it
    /// looks like rather than by its printed label.
    pub confidence: f32,
    /// The box it was read from, in the photo's pixels.
    pub quad: Quad,
}

/// What a photo says.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub side: Side,
    pub fields: Vec<Field>,
    /// Every line recognised, in reading order (for diagnostics and the evaluation).
    pub lines: Vec<TextLine>,
}

impl Read {
    pub fn field(&self, name: FieldName) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Why a photo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("OCR model file {0} is missing: run scripts/ocr-models.sh (or set AXLE_OCR_MODELS)")]
    Missing(PathBuf),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Reads a licence photo: the service's view of the engine.
pub trait Reader: Send + Sync + std::fmt::Debug {
    /// The fields of `image` (already decoded and upright per its EXIF orientation);
    /// `side` when the caller knows it, else detected. Blocking and CPU-bound.
    fn read(&self, image: &image::DynamicImage, side: Option<Side>) -> Result<Read, EngineError>;
}

impl Reader for Engine {
    fn read(&self, image: &image::DynamicImage, side: Option<Side>) -> Result<Read, EngineError> {
        let (lines, timings) = self.lines(image)?;
        tracing::debug!(
            detect_ms = timings.detect_ms,
            recognise_ms = timings.recognise_ms,
            lines = timings.lines,
            "licence photo read"
        );
        Ok(licence::extract(lines, side))
    }
}
