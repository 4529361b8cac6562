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
pub mod eval;
pub mod geometry;
pub mod licence;
pub mod prep;
pub mod rec;
pub mod types;

pub use engine::{Engine, EngineConfig, Timings};
pub use geometry::Quad;
pub use types::{EngineError, Field, FieldName, Read, Reader, Side, TextLine};
