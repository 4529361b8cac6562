//! plate-service configuration: defaults < file < `AXLE_*` environment (see `kit::config`).

use kit::config::{ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

pub use crate::connectors::Vendors;
pub use sources::Strategy;

/// Default gRPC port of plate-service (DESIGN.md).
pub const DEFAULT_PORT: u16 = 50052;
/// Default Prometheus port of the standalone binary.
pub const DEFAULT_METRICS_PORT: u16 = 9052;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlateServiceConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    /// Inputs longer than this many characters are INVALID_ARGUMENT: a plate has 7 or 8
    /// characters; room is left for separators and full-width forms.
    pub max_input_chars: usize,
    pub vendors: Vendors,
    pub privacy: Privacy,
}

/// What LookupVehicle reveals. Callers are not authenticated per entitlement yet, so
/// this is per deployment: a VIN identifies one vehicle (and through it its owner), so
/// it is masked unless the deployment serves callers entitled to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Return full VINs; when false, only the WMI and the last 4 characters show.
    pub reveal_full_vin: bool,
    /// Return full engine numbers (发动机号); when false, only the last 4 characters show.
    pub reveal_engine_number: bool,
    /// Calls carrying this token in `x-axle-internal-token` (the aggregator, which masks
    /// for its own callers per its own privacy settings) get full VINs and engine
    /// numbers. Empty: no caller does. `axle up` sets a random one for its aggregator;
    /// elsewhere set the same value here and in the aggregator's
    /// `services.internal_token`, from a Secret (AXLE_PRIVACY__INTERNAL_TOKEN).
    pub internal_token: settings::Secret<String>,
}

impl Default for PlateServiceConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::local(DEFAULT_PORT, DEFAULT_METRICS_PORT),
            telemetry: TelemetryConfig::default(),
            max_input_chars: 32,
            vendors: Vendors::default(),
            privacy: Privacy::default(),
        }
    }
}

impl kit::config::Validate for PlateServiceConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("server", self.server.problems());
        out.extend(under("telemetry", self.telemetry.problems()));
        for (key, value) in [
            (
                "vendors.xiaoshibao.confidence",
                self.vendors.xiaoshibao.confidence,
            ),
            (
                "vendors.platecb.confidence",
                self.vendors.platecb.confidence,
            ),
        ] {
            out.extend(kit::config::confidence_problem(key, value));
        }
        out.extend(under("vendors.platecb", self.vendors.platecb.problems()));
        if let Some(problem) = self.vendors.hedge_delays().problem() {
            out.push(("vendors.hedge_delay_min".to_owned(), problem));
        }
        out
    }
}
