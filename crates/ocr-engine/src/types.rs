//! The engine's vocabulary: lines, sides, fields, what a photo says, and the `Reader`
//! a service calls.

use std::path::PathBuf;

use crate::geometry::Quad;

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
