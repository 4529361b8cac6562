//! violation-service configuration: defaults < file < `AXLE_*` environment (see `kit::config`).

use std::path::PathBuf;

use domain::violation::{OverrideRow, RuleTable, parse_overrides};
use kit::config::{ServerConfig, TelemetryConfig};
use serde::{Deserialize, Serialize};

pub use crate::connectors::Vendors;

/// Default gRPC port of violation-service (DESIGN.md).
pub const DEFAULT_PORT: u16 = 50053;
/// Default Prometheus port of the standalone binary.
pub const DEFAULT_METRICS_PORT: u16 = 9053;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViolationServiceConfig {
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    /// Inputs (plate, engine number, VIN, handle) longer than this many characters are
    /// INVALID_ARGUMENT: nothing that long is any of them.
    pub max_input_chars: usize,
    pub rules: RulesConfig,
    pub vendors: Vendors,
    pub privacy: Privacy,
}

/// What QueryViolations reveals of the numbers it was given and echoes. The same settings
/// as plate-service: an engine number or a VIN identifies a vehicle (and its owner).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Return full VINs; when false, only the WMI and the last 4 characters show.
    pub reveal_full_vin: bool,
    /// Return full engine numbers; when false, only the last 4 characters show.
    pub reveal_engine_number: bool,
}

/// The deployment's corrections of the per-city rule table, merged over the embedded
/// table at start (no rebuild when a city changes what it asks for).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// A file of override rows in the table's layout (tab-separated: prefix, plate types,
    /// engine number, VIN, both|either, note), e.g. mounted from a ConfigMap.
    pub overrides_file: Option<PathBuf>,
    /// Override rows written in this file (after those of `overrides_file`).
    pub overrides: Vec<RuleOverride>,
}

/// One rule override, in the table's spellings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleOverride {
    /// "粤B" for one authority, or "粤" for every authority of the province.
    pub prefix: String,
    /// "*" (or empty) for every 号牌种类, else codes separated by commas ("01,51").
    pub plate_types: String,
    /// "-" (not asked), a number of trailing characters, or "full".
    pub engine_number: String,
    pub vin: String,
    /// One of the two numbers is enough.
    pub either: bool,
    /// Why, for whoever reads the rule later (GetCityRules shows it).
    pub note: Option<String>,
}

impl RulesConfig {
    /// The embedded table with this configuration's overrides, or every problem found.
    pub fn table(&self) -> Result<RuleTable, String> {
        let embedded = domain::violation::embedded().map_err(ToString::to_string)?;
        let mut rows: Vec<OverrideRow> = Vec::new();
        if let Some(path) = &self.overrides_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("rules.overrides_file {}: {e}", path.display()))?;
            rows = parse_overrides(&text).map_err(|errors| {
                format!("rules.overrides_file {}: {}", path.display(), join(&errors))
            })?;
        }
        rows.extend(self.overrides.iter().map(|o| OverrideRow {
            prefix: o.prefix.clone(),
            plate_types: o.plate_types.clone(),
            engine_number: o.engine_number.clone(),
            vin: o.vin.clone(),
            either: o.either,
            note: o.note.clone(),
        }));
        if rows.is_empty() {
            return Ok(embedded.clone());
        }
        embedded
            .with_overrides(&rows)
            .map_err(|errors| format!("rules.overrides: {}", join(&errors)))
    }
}

fn join<E: ToString>(errors: &[E]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Default for ViolationServiceConfig {
    fn default() -> Self {
        Self {
            server: ServerConfig::local(DEFAULT_PORT, DEFAULT_METRICS_PORT),
            telemetry: TelemetryConfig::default(),
            max_input_chars: 64,
            rules: RulesConfig::default(),
            vendors: Vendors::default(),
            privacy: Privacy::default(),
        }
    }
}

impl kit::config::Validate for ViolationServiceConfig {
    fn problems(&self) -> Vec<(String, String)> {
        use kit::config::under;
        let mut out = under("server", self.server.problems());
        out.extend(under("telemetry", self.telemetry.problems()));
        out.extend(under("vendors.apistore", self.vendors.apistore.problems()));
        if let Err(e) = self.rules.table() {
            out.push(("rules".to_owned(), e));
        }
        if self.max_input_chars < 17 {
            out.push((
                "max_input_chars".to_owned(),
                "must be at least 17 (a VIN)".to_owned(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use kit::config::Validate;

    use super::*;

    #[test]
    fn defaults_are_valid() {
        let cfg = ViolationServiceConfig::default();
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.server.listen.port(), DEFAULT_PORT);
    }

    #[test]
    fn overrides_apply_and_bad_ones_are_named() {
        let cfg: ViolationServiceConfig = toml::from_str(
            r#"
            [[rules.overrides]]
            prefix = "粤B"
            engine_number = "4"
            vin = "-"
            note = "test"
            "#,
        )
        .expect("parses");
        let table = cfg.rules.table().expect("applies");
        let rule = table.for_prefix("粤B", Some("02")).expect("a rule");
        assert_eq!(
            rule.engine_number,
            domain::violation::Requirement::LastChars(4)
        );
        assert_eq!(table.override_count(), 1);
        let bad: ViolationServiceConfig = toml::from_str(
            r#"
            [[rules.overrides]]
            prefix = "粤B"
            engine_number = "six"
            vin = "-"
            "#,
        )
        .expect("parses");
        let problems = bad.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "rules");
        assert!(problems[0].1.contains("six"), "{problems:?}");
        let missing = ViolationServiceConfig {
            rules: RulesConfig {
                overrides_file: Some(PathBuf::from("/nonexistent/rules.tsv")),
                ..RulesConfig::default()
            },
            ..ViolationServiceConfig::default()
        };
        assert!(missing.problems()[0].1.contains("/nonexistent/rules.tsv"));
    }

    /// Every configuration file shipped with the project parses and is valid.
    #[test]
    fn the_shipped_config_file_is_valid() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/violation-service.toml"
        );
        let text = std::fs::read_to_string(path).expect("config/violation-service.toml");
        let cfg: ViolationServiceConfig = toml::from_str(&text).expect("parses");
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        assert_eq!(cfg.server.listen.port(), DEFAULT_PORT);
    }
}
