//! aggregator configuration: defaults < file < `AXLE_*` environment (see `kit::config`).
//!
//! The defaults are the embedded suite: listen on 127.0.0.1:50050 and call vin-,
//! plate-, violation- and ocr-service on 127.0.0.1:50051-50054 (`axle up` points them
//! at where the services actually listen).

use std::time::Duration;

use contracts::axle::common::v1::Money;
use kit::client::ClientConfig;
use kit::config::{ServerConfig, TelemetryConfig, duration};
use merge::MergePolicy;
use serde::{Deserialize, Serialize};
use settings::Secret;

use crate::plan::{Step, Timing};

/// Default gRPC port of the aggregator (DESIGN.md).
pub const DEFAULT_PORT: u16 = 50050;
/// Default Prometheus port of the standalone binary.
pub const DEFAULT_METRICS_PORT: u16 = 9050;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregatorConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    /// The Axle services asked.
    pub services: Services,
    /// Source order per profile field (names as in `SourceStatus.source`: `request`
    /// for what the caller gave, `local` for Axle's own rules, then the vendors).
    pub merge: MergePolicy,
    pub timing: TimingConfig,
    pub spend: SpendConfig,
    /// The in-process answer cache (and coalescing of identical queries).
    pub cache: CacheConfig,
    pub privacy: Privacy,
    /// Subjects and hints longer than this many characters are INVALID_ARGUMENT.
    pub max_input_chars: usize,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::local(DEFAULT_PORT, DEFAULT_METRICS_PORT),
            telemetry: TelemetryConfig::default(),
            services: Services::default(),
            merge: default_merge_policy(),
            timing: TimingConfig::default(),
            spend: SpendConfig::default(),
            cache: CacheConfig::default(),
            privacy: Privacy::default(),
            max_input_chars: 64,
        }
    }
}

/// What the caller gave ranks first (it is checked against the local rules before
/// anything is asked); the VIN vendors (the model catalogue) describe the vehicle before
/// the plate vendors (the registration record), which in turn decide registration facts;
/// what the VIN itself encodes (manufacturer, year, country) is the local rules' call,
/// as in vin-service.
///
/// A 行驶证 photo ("ocr-engine" read in-process, "apihz" the OCR vendor) is the
/// registration document itself: for what it prints (plate, VIN, engine number, 使用性质,
/// vehicle type, 注册日期, 核定载人数) it ranks above the vendors' records, which can be
/// stale (a change of 使用性质 is reissued on the licence); its 品牌型号 is a type-approval
/// code, so for brand and model the catalogues rank first. A reading whose cross-check
/// failed never wins over an admissible value whatever its rank.
pub fn default_merge_policy() -> MergePolicy {
    MergePolicy::new(&[
        "request",
        "local",
        "connapi",
        "xiaoshibao",
        "platecb",
        "apistore",
        "ocr-engine",
        "apihz",
    ])
    .with_field(
        "vin",
        &[
            "request",
            "ocr-engine",
            "apihz",
            "local",
            "connapi",
            "xiaoshibao",
            "platecb",
        ],
    )
    .with_field("plate", &["request", "ocr-engine", "apihz"])
    .with_field(
        "engine_number",
        &["request", "ocr-engine", "apihz", "xiaoshibao", "platecb"],
    )
    .with_field(
        "seats",
        &[
            "request",
            "ocr-engine",
            "apihz",
            "connapi",
            "xiaoshibao",
            "platecb",
        ],
    )
    .with_field(
        "manufacturer",
        &["local", "connapi", "xiaoshibao", "platecb"],
    )
    .with_field("model_year", &["local", "connapi", "xiaoshibao", "platecb"])
    .with_field("country", &["local", "connapi"])
    .with_field(
        "first_registration_date",
        &["request", "ocr-engine", "apihz", "xiaoshibao", "platecb"],
    )
    .with_field(
        "usage",
        &["request", "ocr-engine", "apihz", "xiaoshibao", "platecb"],
    )
    .with_field(
        "vehicle_type",
        &["request", "ocr-engine", "apihz", "xiaoshibao", "platecb"],
    )
}

/// The downstream services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Services {
    pub vin: ClientConfig,
    pub plate: ClientConfig,
    pub violation: ClientConfig,
    /// When false, violations are never asked (reported SKIPPED when included).
    pub violation_enabled: bool,
    /// ocr-service, which reads a 行驶证 photo given as the subject.
    pub ocr: ClientConfig,
    /// When false, a photo subject is UNIMPLEMENTED (this deployment reads no photos).
    pub ocr_enabled: bool,
    /// Sent to plate-service and ocr-service in `x-axle-internal-token` so that they
    /// return the VINs and engine numbers they find unmasked (the aggregator decodes them,
    /// and masks them for its own callers per `privacy`). The same value as their
    /// `privacy.internal_token`; from a Secret (AXLE_SERVICES__INTERNAL_TOKEN). Empty:
    /// none sent (they then mask, and a plate's or a photo's VIN cannot be decoded).
    pub internal_token: settings::Secret<String>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            vin: ClientConfig::local(50051),
            plate: ClientConfig::local(50052),
            violation: ClientConfig::local(50053),
            violation_enabled: true,
            ocr: ClientConfig::local(50054),
            ocr_enabled: true,
            internal_token: settings::Secret::default(),
        }
    }
}

/// How one request's deadline is shared across its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimingConfig {
    /// The deadline of a request that comes without one (no `grpc-timeout`).
    #[serde(with = "duration")]
    pub default_deadline: Duration,
    /// Kept back for merging and answering: this fraction of the whole time ...
    pub merge_reserve_fraction: f32,
    /// ... at least this ...
    #[serde(with = "duration")]
    pub merge_reserve_min: Duration,
    /// ... and at most this.
    #[serde(with = "duration")]
    pub merge_reserve_max: Duration,
    /// When a step waits for LookupVehicle (the plate's VIN), the share of the time the
    /// lookup may take, so that DecodeVin still has the rest.
    pub lookup_share: f32,
    /// With a photo, the share of the time reading it may take; the plate and VIN steps
    /// planned from what it shows get the rest.
    pub recognize_share: f32,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            default_deadline: Duration::from_secs(5),
            merge_reserve_fraction: 0.1,
            merge_reserve_min: Duration::from_millis(5),
            merge_reserve_max: Duration::from_millis(100),
            lookup_share: 0.6,
            recognize_share: 0.5,
        }
    }
}

impl TimingConfig {
    pub fn timing(&self) -> Timing {
        Timing {
            merge_reserve_fraction: self.merge_reserve_fraction,
            merge_reserve_min: self.merge_reserve_min,
            merge_reserve_max: self.merge_reserve_max,
            lookup_share: self.lookup_share,
            recognize_share: self.recognize_share,
        }
    }
}

/// The cache's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// False: every query asks the services (concurrent identical ones still share one
    /// call).
    pub enabled: bool,
    /// Entries kept at most (least recently used go first).
    pub max_entries: u64,
    /// ParsePlate, ValidateVin: local rules, the same answer until Axle is upgraded.
    #[serde(with = "duration")]
    pub ttl_local: Duration,
    /// DecodeVin: what a VIN's catalogue says rarely changes.
    #[serde(with = "duration")]
    pub ttl_vehicle: Duration,
    /// LookupVehicle: registration facts (使用性质, owner changes) change now and then.
    #[serde(with = "duration")]
    pub ttl_registration: Duration,
    /// QueryViolations: new violations come in daily.
    #[serde(with = "duration")]
    pub ttl_violations: Duration,
    /// An answer where every vendor said "no record".
    #[serde(with = "duration")]
    pub negative_ttl: Duration,
    /// Whole GetVehicleProfile responses made only of kept answers, kept (encoded size,
    /// bytes) so that the same request again is answered without merging again; 0: off.
    pub response_bytes: u64,
    /// Redis shared by the replicas, behind the in-process cache (off by default).
    pub redis: RedisConfig,
}

/// The Redis cache shared by aggregator replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (`rediss://` is not built in). Empty: no
    /// shared cache. A secret: it may carry the password (give it in the environment,
    /// `AXLE_CACHE__REDIS__URL` for the aggregator binary, or the chart's Secret).
    pub url: Secret<String>,
    /// Prepended to every key, so that deployments can share a Redis.
    pub key_prefix: String,
    /// The most a read or write may take; a late Redis is a miss, not a late answer.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// The most a (re)connection may take.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// After a failed or late operation Redis is not asked for this long, so that a
    /// dead Redis costs a request nothing.
    #[serde(with = "duration")]
    pub pause_after_error: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: Secret::new(String::new()),
            key_prefix: "axle:aggregator:v1:".to_owned(),
            timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_millis(500),
            pause_after_error: Duration::from_secs(2),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 100_000,
            ttl_local: Duration::from_secs(24 * 3600),
            ttl_vehicle: Duration::from_secs(24 * 3600),
            ttl_registration: Duration::from_secs(6 * 3600),
            ttl_violations: Duration::from_secs(600),
            negative_ttl: Duration::from_secs(300),
            response_bytes: 64 << 20,
            redis: RedisConfig::default(),
        }
    }
}

impl CacheConfig {
    pub fn ttl(&self, step: Step) -> Duration {
        match step {
            Step::ParsePlate | Step::ValidateVin => self.ttl_local,
            Step::DecodeVin => self.ttl_vehicle,
            Step::LookupVehicle => self.ttl_registration,
            Step::QueryViolations => self.ttl_violations,
            // A photo's reading is never kept (the key would be the photo).
            Step::Recognize => Duration::ZERO,
        }
    }
}

/// An amount of money in configuration: `{ currency = "CNY", amount = 0.5 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub currency: String,
    pub amount: f64,
}

impl Price {
    pub fn cny(amount: f64) -> Self {
        Self {
            currency: "CNY".to_owned(),
            amount,
        }
    }

    pub fn money(&self) -> Money {
        facts::money::from_decimal(&self.currency, self.amount)
    }
}

/// What a request may spend on vendors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpendConfig {
    /// The deployment's cap per request (the request's own `spend_cap` can only lower
    /// it). Unset: no cap but the request's.
    pub max_per_request: Option<Price>,
    /// The most each paid call can cost, checked against the cap before calling.
    pub prices: Prices,
}

/// The most one call of each paid RPC can cost (the sum of its vendors' prices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// connapi: seed 001's package price, ¥50 per 100 calls.
    pub decode_vin: Price,
    /// xiaoshibao and platecb publish no price (seeds 000, 004): 0 until a contract
    /// says otherwise.
    pub lookup_vehicle: Price,
    /// apistore publishes no price (seed 003, "约元/次"): 0 until a contract says
    /// otherwise.
    pub query_violations: Price,
    /// RecognizeVehicleLicense: free when the in-process engine reads the photo; when
    /// ocr-service falls back to apihz (seed 002: 200盟点 = ¥0.2 per call), up to two
    /// calls (front, then back, for a photo whose side is not given and not detected).
    pub recognize: Price,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            decode_vin: Price::cny(0.5),
            lookup_vehicle: Price::cny(0.0),
            query_violations: Price::cny(0.0),
            recognize: Price::cny(0.4),
        }
    }
}

impl Prices {
    /// The price of a paid step; `None` for the free ones.
    pub fn of(&self, step: Step) -> Option<&Price> {
        match step {
            Step::DecodeVin => Some(&self.decode_vin),
            Step::LookupVehicle => Some(&self.lookup_vehicle),
            Step::QueryViolations => Some(&self.query_violations),
            Step::Recognize => Some(&self.recognize),
            Step::ParsePlate | Step::ValidateVin => None,
        }
    }
}

/// What the profile reveals. Callers are not authenticated per entitlement yet, so this
/// is per deployment, as in plate-service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Return full VINs; when false, only the WMI and the last 4 characters show.
    pub reveal_full_vin: bool,
    /// Return full engine numbers; when false, only the last 4 characters show.
    pub reveal_engine_number: bool,
}

impl kit::config::Validate for AggregatorConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("server", self.server.problems());
        out.extend(under("telemetry", self.telemetry.problems()));
        out.extend(under("services.vin", self.services.vin.problems()));
        out.extend(under("services.plate", self.services.plate.problems()));
        if self.services.violation_enabled {
            out.extend(under(
                "services.violation",
                self.services.violation.problems(),
            ));
        }
        if self.services.ocr_enabled {
            out.extend(under("services.ocr", self.services.ocr.problems()));
        }
        if !self
            .services
            .internal_token
            .expose()
            .bytes()
            .all(|b| b.is_ascii_graphic())
        {
            out.push((
                "services.internal_token".to_owned(),
                "must be visible ASCII characters (it is sent as gRPC metadata)".to_owned(),
            ));
        }
        let t = &self.timing;
        for (key, v) in [
            ("timing.merge_reserve_fraction", t.merge_reserve_fraction),
            ("timing.lookup_share", t.lookup_share),
            ("timing.recognize_share", t.recognize_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push((key.to_owned(), format!("must be between 0 and 1, not {v}")));
            }
        }
        if t.merge_reserve_min > t.merge_reserve_max {
            out.push((
                "timing.merge_reserve_min".to_owned(),
                "must not exceed timing.merge_reserve_max".to_owned(),
            ));
        }
        if t.default_deadline.is_zero() {
            out.push((
                "timing.default_deadline".to_owned(),
                "must be more than 0 (every request would time out)".to_owned(),
            ));
        }
        let mut prices: Vec<(String, &Price)> = vec![
            (
                "spend.prices.decode_vin".to_owned(),
                &self.spend.prices.decode_vin,
            ),
            (
                "spend.prices.lookup_vehicle".to_owned(),
                &self.spend.prices.lookup_vehicle,
            ),
            (
                "spend.prices.query_violations".to_owned(),
                &self.spend.prices.query_violations,
            ),
            (
                "spend.prices.recognize".to_owned(),
                &self.spend.prices.recognize,
            ),
        ];
        if let Some(cap) = &self.spend.max_per_request {
            prices.push(("spend.max_per_request".to_owned(), cap));
        }
        for (key, p) in prices {
            if !(p.amount.is_finite() && p.amount >= 0.0) {
                out.push((
                    format!("{key}.amount"),
                    format!("must be a number of 0 or more, not {}", p.amount),
                ));
            }
            if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
                out.push((
                    format!("{key}.currency"),
                    format!(
                        "must be an ISO 4217 code such as \"CNY\", not {:?}",
                        p.currency
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kit::config::Validate as _;

    #[test]
    fn defaults_are_valid_and_call_the_local_suite() {
        let cfg = AggregatorConfig::default();
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.server.listen.port(), 50050);
        assert_eq!(cfg.services.vin.endpoint, "http://127.0.0.1:50051");
        assert_eq!(cfg.services.violation.endpoint, "http://127.0.0.1:50053");
    }

    #[test]
    fn the_shipped_file_parses_and_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/aggregator.toml");
        let cfg: AggregatorConfig =
            kit::config::load_with_env(Some(&path), "AXLE", std::iter::empty::<(String, String)>())
                .expect("config/aggregator.toml parses");
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.spend.prices.decode_vin, Price::cny(0.5));
        // The file documents the defaults: a source order changed in one place only
        // would make the shipped deployment merge differently from the documented one.
        assert_eq!(cfg.merge, default_merge_policy());
        assert_eq!(cfg.services.ocr.endpoint, "http://ocr-service:50054");
        assert!(cfg.services.ocr_enabled);
    }

    #[test]
    fn nonsense_is_refused_with_its_key() {
        let mut cfg = AggregatorConfig::default();
        cfg.timing.lookup_share = 1.5;
        cfg.spend.max_per_request = Some(Price {
            currency: "yuan".to_owned(),
            amount: -1.0,
        });
        let keys: Vec<String> = cfg.problems().into_iter().map(|(k, _)| k).collect();
        assert!(keys.contains(&"timing.lookup_share".to_owned()), "{keys:?}");
        assert!(
            keys.contains(&"spend.max_per_request.amount".to_owned()),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"spend.max_per_request.currency".to_owned()),
            "{keys:?}"
        );
    }

    #[test]
    fn unknown_keys_are_an_error() {
        let err = toml::from_str::<AggregatorConfig>("[timing]\nlookup_shar = 0.5\n");
        assert!(err.is_err());
    }
}
