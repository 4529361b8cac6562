//! Configuration: every service's typed configuration from TOML, and durations.

use std::path::Path;
use std::time::Duration;

use kit::config::{Validate, load_text_with_env};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A configuration file's text as each service reads it (with an empty environment):
/// an error or a configuration, never a panic; and a configuration that loads renders
/// (secrets included) to TOML that loads again to the same configuration.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::<vin_service::config::VinServiceConfig>(text);
    round_trip::<plate_service::config::PlateServiceConfig>(text);
    round_trip::<violation_service::config::ViolationServiceConfig>(text);
    round_trip::<ocr_service::config::OcrServiceConfig>(text);
}

fn load<T>(text: &str) -> Result<T, kit::config::ConfigError>
where
    T: DeserializeOwned + Serialize + Default + Validate,
{
    load_text_with_env(
        Some((Path::new("fuzz.toml"), text)),
        "AXLE",
        std::iter::empty::<(String, String)>(),
    )
}

fn render<T: Serialize>(cfg: &T) -> String {
    settings::secret::serialize_exposed(|| toml::to_string(cfg))
        .expect("a configuration that loaded renders as TOML")
}

fn round_trip<T>(text: &str)
where
    T: DeserializeOwned + Serialize + Default + Validate,
{
    let Ok(cfg) = load::<T>(text) else {
        return;
    };
    let rendered = render(&cfg);
    let again = load::<T>(&rendered)
        .unwrap_or_else(|e| panic!("a rendered configuration does not load: {e}\n{rendered}"));
    assert_eq!(render(&again), rendered, "{text:?}");
}

/// Durations as configuration writes them: parsed or refused, never a panic; and what is
/// parsed is formatted to text that parses back to it, to the millisecond (or to the
/// microsecond below one), the precision `format` keeps.
pub fn duration(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(d) = settings::duration::parse(&text) else {
        return;
    };
    let shown = settings::duration::format(d);
    let kept = if d.as_millis() == 0 {
        Duration::from_micros(u64::from(d.subsec_micros()))
    } else {
        Duration::new(d.as_secs(), d.subsec_millis() * 1_000_000)
    };
    assert_eq!(
        settings::duration::parse(&shown),
        Ok(kept),
        "{text:?} -> {d:?} -> {shown:?}"
    );
}
