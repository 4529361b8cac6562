//! vin-service configuration: defaults < file < `AXLE_*` environment (see `kit::config`).
//!
//! The defaults are the embedded suite: listen on 127.0.0.1:50051 and call the connapi
//! simulator of the Axle sandbox on 127.0.0.1:50080 with its published demo key. A real
//! deployment sets `vendors.connapi.http.base_url` and the key through the environment
//! (`AXLE_VENDORS__CONNAPI__KEY`), typically from a Kubernetes Secret.

use std::time::Duration;

use connector::config::HttpClientConfig;
use kit::config::{ServerConfig, TelemetryConfig};
use merge::MergePolicy;
use serde::{Deserialize, Serialize};
use settings::Secret;

/// Default gRPC port of vin-service (DESIGN.md).
pub const DEFAULT_PORT: u16 = 50051;
/// Default Prometheus port of the standalone binary.
pub const DEFAULT_METRICS_PORT: u16 = 9051;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VinServiceConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub vendors: Vendors,
    /// Source order per field for `DecodeVin`'s summary. Source names: `local`, `connapi`.
    pub merge: MergePolicy,
    /// Inputs longer than this many characters are rejected as INVALID_ARGUMENT before any
    /// parsing: a VIN is 17 characters, generous room is left for spaces, dashes and
    /// full-width forms pasted from documents.
    pub max_input_chars: usize,
}

impl Default for VinServiceConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::local(DEFAULT_PORT, DEFAULT_METRICS_PORT),
            telemetry: TelemetryConfig::default(),
            vendors: Vendors::default(),
            merge: default_merge_policy(),
            max_input_chars: 64,
        }
    }
}

/// The vendor decides descriptive fields (it has the model catalogue); the local decode
/// decides what the VIN itself encodes (manufacturer from the WMI register, model year
/// from position 10), because the vendor's catalogue match can be a near miss.
pub fn default_merge_policy() -> MergePolicy {
    MergePolicy::new(&["connapi", "local"])
        .with_field("manufacturer", &["local", "connapi"])
        .with_field("model_year", &["local", "connapi"])
        .with_field("country", &["local", "connapi"])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vendors {
    /// `parallel` (every vendor at once), `fallback` (the next only when none before it
    /// answered) or `hedged` (fallback, plus a second request when the vendor asked is
    /// slower than its recent p95; with one vendor the second request goes to it again).
    pub strategy: sources::Strategy,
    /// Vendor priority for asking; vendors not named follow, the cheaper first. Empty:
    /// registry order (`connapi`).
    pub order: Vec<String>,
    /// Strategy `hedged`: the vendor's recent p95 latency is clamped to at least this ...
    #[serde(with = "settings::duration")]
    pub hedge_delay_min: Duration,
    /// ... and at most this, which is also the delay while it has too few recent asks.
    #[serde(with = "settings::duration")]
    pub hedge_delay_max: Duration,
    pub connapi: ConnapiConfig,
}

impl Default for Vendors {
    fn default() -> Self {
        let hedge = sources::HedgeDelays::default();
        Self {
            strategy: sources::Strategy::default(),
            order: Vec::new(),
            hedge_delay_min: hedge.min,
            hedge_delay_max: hedge.max,
            connapi: ConnapiConfig::default(),
        }
    }
}

impl Vendors {
    pub fn hedge_delays(&self) -> sources::HedgeDelays {
        sources::HedgeDelays {
            min: self.hedge_delay_min,
            max: self.hedge_delay_max,
        }
    }
}

/// How to send the connapi request: the vendor accepts both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

/// Seed 001: `GET|POST /api/vin/get?key=..&vin=..`, optional `sign` header.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnapiConfig {
    /// When false, DecodeVin answers from the local decode only and reports connapi as SKIPPED.
    pub enabled: bool,
    pub http: HttpClientConfig,
    /// API key (控制台 -> 密钥管理). Never printed.
    pub key: Secret<String>,
    /// Signing secret (SK), only when 签名校验 is enabled on the account. Never printed.
    pub sign_secret: Option<Secret<String>>,
    pub method: HttpMethod,
    /// Confidence given to connapi's descriptive fields when it matched the VIN exactly.
    pub confidence: f32,
}

impl Default for ConnapiConfig {
    fn default() -> Self {
        let http = HttpClientConfig {
            base_url: "http://127.0.0.1:50080".to_owned(),
            request_timeout: Duration::from_secs(3),
            // Seed 001's package price: ¥50 per 100 calls. Spend is accounted even against
            // the sandbox, so dashboards show what the same traffic would cost.
            cost_per_call: Some(connector::config::CostConfig {
                currency: "CNY".to_owned(),
                amount: 0.5,
            }),
            ..HttpClientConfig::default()
        };
        Self {
            enabled: true,
            http,
            key: Secret::from("sandbox-connapi-key".to_owned()),
            sign_secret: None,
            method: HttpMethod::Get,
            confidence: 0.9,
        }
    }
}

impl kit::config::Validate for VinServiceConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("server", self.server.problems());
        out.extend(under("telemetry", self.telemetry.problems()));
        out.extend(kit::config::confidence_problem(
            "vendors.connapi.confidence",
            self.vendors.connapi.confidence,
        ));
        if let Some(problem) = self.vendors.hedge_delays().problem() {
            out.push(("vendors.hedge_delay_min".to_owned(), problem));
        }
        out
    }
}
