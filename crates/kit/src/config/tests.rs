use super::*;
use serde::Deserialize;

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Cfg {
    server: ServerConfig,
    vendor: Vendor,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Vendor {
    key: settings::secret::Secret<String>,
    retries: u32,
}

impl Validate for Cfg {
    fn problems(&self) -> Vec<(String, String)> {
        under("server", self.server.problems())
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write(text: &str) -> tempfile_path::TempPath {
    tempfile_path::TempPath::new(text)
}

/// A tiny temp file helper, so tests need no extra crate.
mod tempfile_path {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    static N: AtomicU32 = AtomicU32::new(0);

    pub struct TempPath(PathBuf);

    impl TempPath {
        pub fn new(text: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "axle-kit-config-{}-{}.toml",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::write(&p, text).expect("write temp config");
            Self(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn an_environment_variable_can_switch_the_metrics_listener_off() {
    for off in ["", "off", "OFF", "none"] {
        let cfg: Cfg = load_with_env(None, "AXLE", env(&[("AXLE_SERVER__METRICS_LISTEN", off)]))
            .expect("loads");
        assert_eq!(cfg.server.metrics_listen, None, "{off:?}");
    }
    let cfg: Cfg = load_with_env(
        None,
        "AXLE",
        env(&[("AXLE_SERVER__METRICS_LISTEN", "0.0.0.0:9051")]),
    )
    .expect("loads");
    assert_eq!(
        cfg.server.metrics_listen,
        Some("0.0.0.0:9051".parse().expect("addr"))
    );
    let err = load_with_env::<Cfg, _>(
        None,
        "AXLE",
        env(&[("AXLE_SERVER__METRICS_LISTEN", "localhost:9051")]),
    )
    .expect_err("host names are not addresses");
    assert!(err.to_string().contains("server.metrics_listen"), "{err}");
}

#[test]
fn one_underscore_where_two_are_needed_is_an_error_naming_the_fix() {
    let err = load_with_env::<Cfg, _>(None, "AXLE", env(&[("AXLE_SERVER_LISTEN", "0.0.0.0:9")]))
        .expect_err("AXLE_SERVER_LISTEN is a typo");
    assert!(err.to_string().contains("AXLE_SERVER__LISTEN"), "{err}");
    // Unrelated variables under the prefix stay ignored.
    load_with_env::<Cfg, _>(
        None,
        "AXLE",
        env(&[("AXLE_VIN_ENDPOINT", "http://x"), ("AXLE_CONFIG", "f.toml")]),
    )
    .expect("not config keys");
}

#[test]
fn errors_never_repeat_a_secret_value() {
    // A number where the secret string belongs (file), and a secret written where its
    // section belongs (environment).
    let f = write("[vendor]\nkey = 987654321\n");
    let err = load_with_env::<Cfg, _>(Some(f.path()), "AXLE", env(&[])).expect_err("wrong type");
    assert!(!err.to_string().contains("987654321"), "{err}");
    let err = load_with_env::<Cfg, _>(None, "AXLE", env(&[("AXLE_VENDOR", "hunter2secret")]))
        .expect_err("not a section");
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
    // Other keys keep the offending value in the message: it helps.
    let err = load_with_env::<Cfg, _>(None, "AXLE", env(&[("AXLE_VENDOR__RETRIES", "many")]))
        .expect_err("not a number");
    assert!(err.to_string().contains("many"), "{err}");
    assert!(
        err.to_string().contains("whole number"),
        "no Rust type names: {err}"
    );
}

#[test]
fn defaults_then_file_then_env() {
    let f = write(
        "[server]\nlisten = \"0.0.0.0:6000\"\nrequest_timeout = \"5s\"\n[vendor]\nretries = 2\n",
    );
    let cfg: Cfg = load_with_env(
        Some(f.path()),
        "AXLE",
        env(&[
            ("AXLE_VENDOR__RETRIES", "7"),
            ("AXLE_SERVER__SHUTDOWN_GRACE", "3s"),
            ("OTHER_VENDOR__RETRIES", "9"),
        ]),
    )
    .expect("loads");
    assert_eq!(cfg.server.listen, "0.0.0.0:6000".parse().expect("addr"));
    assert_eq!(cfg.server.request_timeout, Duration::from_secs(5));
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(3));
    assert_eq!(cfg.server.max_concurrent_requests, 1024);
    assert_eq!(cfg.vendor.retries, 7);
}

#[test]
fn numeric_looking_secrets_stay_strings() {
    let cfg: Cfg =
        load_with_env(None, "AXLE", env(&[("AXLE_VENDOR__KEY", "123456")])).expect("loads");
    assert_eq!(cfg.vendor.key.expose(), "123456");
}

#[test]
fn unknown_keys_are_named_with_their_origin() {
    let f = write("[server]\nlistn = \"0.0.0.0:1\"\n");
    let err = load_with_env::<Cfg, _>(Some(f.path()), "AXLE", env(&[])).expect_err("typo");
    let text = err.to_string();
    assert!(text.contains("server.listn"), "{text}");
    assert!(text.contains("file"), "{text}");
    let err = load_with_env::<Cfg, _>(None, "AXLE", env(&[("AXLE_VENDOR__RETRYS", "1")]))
        .expect_err("typo");
    let text = err.to_string();
    assert!(
        text.contains("vendor.retrys") && text.contains("AXLE_VENDOR__RETRYS"),
        "{text}"
    );
}

#[test]
fn bad_values_are_named() {
    let err = load_with_env::<Cfg, _>(None, "AXLE", env(&[("AXLE_SERVER__REQUEST_TIMEOUT", "5")]))
        .expect_err("no unit");
    let text = err.to_string();
    assert!(
        text.contains("server.request_timeout") && text.contains("unit"),
        "{text}"
    );
    let f = write("[server\n");
    assert!(matches!(
        load_with_env::<Cfg, _>(Some(f.path()), "AXLE", env(&[])),
        Err(ConfigError::Syntax { .. })
    ));
    assert!(matches!(
        load_with_env::<Cfg, _>(Some(Path::new("/nonexistent/axle.toml")), "AXLE", env(&[])),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn values_that_cannot_work_name_the_key_and_where_it_was_set() {
    let err = load_with_env::<Cfg, _>(
        None,
        "AXLE",
        env(&[("AXLE_SERVER__MAX_CONCURRENT_REQUESTS", "0")]),
    )
    .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("server.max_concurrent_requests")
            && text.contains("environment variable AXLE_SERVER__MAX_CONCURRENT_REQUESTS"),
        "{text}"
    );
    let t = TelemetryConfig {
        trace_sample_ratio: 2.0,
        log_filter: "[[[".to_owned(),
        otlp_endpoint: Some("not-a-url".to_owned()),
        ..TelemetryConfig::default()
    };
    let keys: Vec<String> = t.problems().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["trace_sample_ratio", "log_filter", "otlp_endpoint"]);
    assert!(TelemetryConfig::default().problems().is_empty());
}

#[test]
fn default_secrets_survive_layering() {
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithSecret {
        key: settings::secret::Secret<String>,
        n: u32,
    }
    impl Default for WithSecret {
        fn default() -> Self {
            Self {
                key: "built-in-demo-key".to_owned().into(),
                n: 1,
            }
        }
    }
    impl Validate for WithSecret {}
    let cfg: WithSecret = load_with_env(None, "AXLE", env(&[("AXLE_N", "2")])).expect("loads");
    assert_eq!(cfg.key.expose(), "built-in-demo-key");
    assert_eq!(cfg.n, 2);
}

#[test]
fn rendering_redacts_secrets() {
    let cfg: Cfg =
        load_with_env(None, "AXLE", env(&[("AXLE_VENDOR__KEY", "very-secret")])).expect("loads");
    let text = to_toml(&cfg).expect("renders");
    assert!(!text.contains("very-secret"), "{text}");
}
