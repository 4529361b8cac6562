//! ocr-service configuration: defaults < file < `AXLE_*` environment (see `kit::config`).

use std::path::PathBuf;
use std::time::Duration;

use kit::config::{ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};
use settings::duration;

pub use crate::connectors::apihz::ApihzConfig;

/// Default gRPC port of ocr-service (DESIGN.md).
pub const DEFAULT_PORT: u16 = 50054;
/// Default Prometheus port of the standalone binary.
pub const DEFAULT_METRICS_PORT: u16 = 9054;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcrServiceConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    /// Who reads a photo: the in-process engine, the vendor, or the engine first.
    pub strategy: Strategy,
    pub local: LocalConfig,
    pub input: InputConfig,
    pub vendors: Vendors,
    pub privacy: Privacy,
}

/// Who reads a photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The in-process engine only: no image leaves the cluster, no per-call cost.
    LocalOnly,
    /// The engine first; the vendor when a required field is missing, below
    /// `local.min_confidence`, or fails its cross-check (and when the engine is off).
    #[default]
    LocalThenVendor,
    /// The vendor only.
    VendorOnly,
}

/// The in-process OCR engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// Off: the engine is not loaded and the vendor reads every photo.
    pub enabled: bool,
    /// Directory with the models and the ONNX Runtime library (`scripts/ocr-models.sh`
    /// puts them there); empty: `$AXLE_OCR_MODELS`, else `~/.cache/axle/ocr-models`.
    pub models_dir: PathBuf,
    /// Threads one recognition uses (ONNX Runtime intra-op threads).
    pub threads: usize,
    /// Photos decoded, read or re-encoded at once (the blocking pool's size; it bounds
    /// decoding and re-encoding for the vendor too). Recognition is CPU-bound: more than the cores only queues
    /// inside the engine; requests beyond wait for a slot (up to their deadline).
    pub max_concurrent: usize,
    /// A required field read with less confidence than this counts as unsure (the
    /// vendor is asked under `local_then_vendor`).
    pub min_confidence: f32,
    /// Longest a photo waits for a slot before RESOURCE_EXHAUSTED (never past the
    /// request's deadline).
    #[serde(with = "duration")]
    pub queue_timeout: Duration,
    /// Fields that must be read for a local read to be enough, per side.
    pub required_front: Vec<String>,
    pub required_back: Vec<String>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            models_dir: PathBuf::new(),
            threads: 2,
            max_concurrent: 2,
            min_confidence: 0.8,
            queue_timeout: Duration::from_secs(10),
            required_front: vec!["plate".to_owned(), "vin".to_owned()],
            required_back: vec!["plate".to_owned()],
        }
    }
}

/// What a photo may be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// Largest photo accepted, in bytes (as sent or as downloaded).
    pub max_image_bytes: usize,
    /// Largest decoded image, in pixels (width × height): a small file that decodes to
    /// a huge bitmap (a decompression bomb) is refused before it is allocated.
    pub max_pixels: u64,
    /// Largest width or height, in pixels.
    pub max_dimension: u32,
    /// Memory the decoder may allocate, in bytes.
    pub max_decode_bytes: u64,
    pub url: UrlFetchConfig,
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            max_image_bytes: 3 * 1024 * 1024,
            // A 行驶证 photographed by a phone is 12-50 Mpx at most.
            max_pixels: 50_000_000,
            max_dimension: 12_000,
            max_decode_bytes: 256 * 1024 * 1024,
            url: UrlFetchConfig::default(),
        }
    }
}

/// Fetching `image_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlFetchConfig {
    /// Off: `image_url` is INVALID_ARGUMENT (send the bytes).
    pub enabled: bool,
    /// The whole download (connect, redirects, body).
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Redirects followed, each checked like the first address.
    pub max_redirects: usize,
    /// Allow loopback, private, link-local, shared and metadata addresses. Only for a
    /// deployment whose photos live on an internal store, and then prefer
    /// `allowed_private_hosts`.
    pub allow_private: bool,
    /// Host names allowed to resolve to private addresses (an internal object store).
    pub allowed_private_hosts: Vec<String>,
}

impl Default for UrlFetchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout: Duration::from_secs(5),
            max_redirects: 3,
            allow_private: false,
            allowed_private_hosts: Vec::new(),
        }
    }
}

/// Vendors of ocr-service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vendors {
    pub apihz: ApihzConfig,
}

/// What RecognizeVehicleLicense reveals. Callers are not authenticated per entitlement
/// yet, so this is per deployment: owner name, address and engine number identify a
/// person or a vehicle, and a full VIN identifies one vehicle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Return the owner's name (所有人); when false, its first character only.
    pub reveal_owner: bool,
    /// Return the address (住址); when false, its first 6 characters only (the city).
    pub reveal_address: bool,
    /// Return full engine numbers; when false, the last 4 characters only.
    pub reveal_engine_number: bool,
    /// Return full VINs; when false, the WMI and the last 4 characters only.
    pub reveal_full_vin: bool,
    /// Calls carrying this token in `x-axle-internal-token` (the aggregator, which goes
    /// on from the photo's VIN to decode it, and masks for its own callers per its own
    /// privacy settings) get the full VIN and engine number; owner and address stay as
    /// configured above. Empty: no caller does. `axle up` sets a random one; elsewhere
    /// set the same value here and in the aggregator's `services.internal_token`, from a
    /// Secret (AXLE_PRIVACY__INTERNAL_TOKEN).
    pub internal_token: settings::Secret<String>,
}

impl Default for OcrServiceConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::local(DEFAULT_PORT, DEFAULT_METRICS_PORT),
            telemetry: TelemetryConfig::default(),
            strategy: Strategy::default(),
            local: LocalConfig::default(),
            input: InputConfig::default(),
            vendors: Vendors::default(),
            privacy: Privacy::default(),
        }
    }
}

/// Field names a side has, for `required_*`.
pub const FRONT_FIELDS: &[&str] = &[
    "plate",
    "vehicle_type",
    "owner",
    "address",
    "use_character",
    "model",
    "vin",
    "engine_number",
    "register_date",
    "issue_date",
    "seal",
];
pub const BACK_FIELDS: &[&str] = &[
    "plate",
    "file_number",
    "approved_passengers",
    "total_mass",
    "curb_weight",
    "rated_load",
    "external_size",
    "traction_mass",
    "remarks",
    "inspection_record",
];

impl kit::config::Validate for OcrServiceConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("server", self.server.problems());
        out.extend(under("telemetry", self.telemetry.problems()));
        out.extend(kit::config::confidence_problem(
            "local.min_confidence",
            self.local.min_confidence,
        ));
        out.extend(kit::config::confidence_problem(
            "vendors.apihz.confidence",
            self.vendors.apihz.confidence,
        ));
        if self.local.max_concurrent == 0 || self.local.threads == 0 {
            out.push((
                "local".to_owned(),
                "max_concurrent and threads must be at least 1".to_owned(),
            ));
        }
        for (key, list, known) in [
            (
                "local.required_front",
                &self.local.required_front,
                FRONT_FIELDS,
            ),
            (
                "local.required_back",
                &self.local.required_back,
                BACK_FIELDS,
            ),
        ] {
            for f in list.iter().filter(|f| !known.contains(&f.as_str())) {
                out.push((
                    key.to_owned(),
                    format!(
                        "{f} is not a field of that side (one of {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if self.input.max_image_bytes == 0 || self.input.max_pixels == 0 {
            out.push((
                "input".to_owned(),
                "max_image_bytes and max_pixels must be at least 1".to_owned(),
            ));
        }
        if self.input.max_image_bytes > self.server.max_request_bytes {
            out.push((
                "input.max_image_bytes".to_owned(),
                format!(
                    "{} is more than server.max_request_bytes ({}): such a photo could never arrive",
                    self.input.max_image_bytes, self.server.max_request_bytes
                ),
            ));
        }
        out.extend(under("vendors.apihz", self.vendors.apihz.problems()));
        if self.strategy == Strategy::LocalOnly && !self.local.enabled {
            out.push((
                "strategy".to_owned(),
                "local_only needs local.enabled = true".to_owned(),
            ));
        }
        if self.strategy == Strategy::LocalThenVendor
            && !self.local.enabled
            && !self.vendors.apihz.enabled
        {
            out.push((
                "strategy".to_owned(),
                "nothing reads photos: enable local or vendors.apihz".to_owned(),
            ));
        }
        if self.strategy == Strategy::VendorOnly && !self.vendors.apihz.enabled {
            out.push((
                "strategy".to_owned(),
                "vendor_only needs vendors.apihz.enabled = true".to_owned(),
            ));
        }
        out
    }
}
