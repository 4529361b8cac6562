//! Shipped configuration parses, and credentials never show up in Debug output, rendered
//! configuration, statuses or logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use contracts::axle::vin::v1::DecodeVinRequest;
use vin_service::config::VinServiceConfig;

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn shipped_config_parses() {
    let cfg: VinServiceConfig = kit::config::load_with_env(
        Some(&repo_file("config/vin-service.toml")),
        "AXLE",
        Vec::new(),
    )
    .expect("config/vin-service.toml parses");
    assert_eq!(cfg.server.listen.port(), 50051);
    assert_eq!(cfg.merge.order_for("model_year"), ["local", "connapi"]);
    // The file sets [vendors.connapi.http] partially: the rest keeps the defaults.
    assert_eq!(cfg.vendors.connapi.http.base_url, "http://127.0.0.1:50080");
    assert_eq!(cfg.vendors.connapi.key.expose(), "sandbox-connapi-key");
    assert_eq!(cfg.vendors.hedge_delays(), sources::HedgeDelays::default());
}

#[test]
fn hedged_strategy_takes_its_delay_bounds_and_refuses_inverted_ones() {
    use kit::config::Validate as _;
    let load = |min: &str, max: &str| {
        kit::config::load_with_env::<VinServiceConfig, _>(
            None,
            "AXLE",
            vec![
                ("AXLE_VENDORS__STRATEGY".to_owned(), "hedged".to_owned()),
                ("AXLE_VENDORS__HEDGE_DELAY_MIN".to_owned(), min.to_owned()),
                ("AXLE_VENDORS__HEDGE_DELAY_MAX".to_owned(), max.to_owned()),
            ],
        )
    };
    let cfg = load("20ms", "300ms").expect("loads");
    assert_eq!(cfg.vendors.strategy, sources::Strategy::Hedged);
    assert_eq!(
        cfg.vendors.hedge_delays(),
        sources::HedgeDelays {
            min: std::time::Duration::from_millis(20),
            max: std::time::Duration::from_millis(300),
        }
    );
    assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    let err = load("2s", "300ms").expect_err("inverted").to_string();
    assert!(
        err.contains("vendors.hedge_delay_min") && err.contains("above hedge_delay_max"),
        "{err}"
    );
    let err = load("20", "300ms").expect_err("no unit").to_string();
    assert!(err.contains("hedge_delay_min"), "{err}");
}

#[test]
fn environment_overrides_and_typos_are_named() {
    let cfg: VinServiceConfig = kit::config::load_with_env(
        None,
        "AXLE",
        vec![
            ("AXLE_VENDORS__CONNAPI__KEY".to_owned(), "k-123".to_owned()),
            ("AXLE_SERVER__LISTEN".to_owned(), "0.0.0.0:6000".to_owned()),
        ],
    )
    .expect("loads");
    assert_eq!(cfg.vendors.connapi.key.expose(), "k-123");
    assert_eq!(cfg.server.listen.port(), 6000);
    let err = kit::config::load_with_env::<VinServiceConfig, _>(
        None,
        "AXLE",
        vec![("AXLE_VENDORS__CONAPI__KEY".to_owned(), "x".to_owned())],
    )
    .expect_err("typo");
    assert!(err.to_string().contains("vendors.conapi"), "{err}");
}

#[test]
fn secrets_never_print() {
    let mut cfg = VinServiceConfig::default();
    cfg.vendors.connapi.key = "live-key-0123456789".to_owned().into();
    cfg.vendors.connapi.sign_secret = Some("live-sk-abcdef".to_owned().into());
    let debug = format!("{cfg:?}");
    let rendered = kit::config::to_toml(&cfg).expect("renders");
    for text in [&debug, &rendered] {
        assert!(
            !text.contains("live-key") && !text.contains("live-sk"),
            "{text}"
        );
    }
}

/// A writer that keeps everything logged, for inspection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_even_when_the_vendor_fails() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut s = common::suite_with_sandbox(format!("http://127.0.0.1:{port}"), |c| {
        c.vendors.connapi.key = "live-key-0123456789".to_owned().into();
        c.vendors.connapi.sign_secret = Some("live-sk-abcdef".to_owned().into());
    })
    .await;
    let r = s
        .client
        .decode_vin(DecodeVinRequest {
            vin: "WP0AA2978BL012976".to_owned(),
        })
        .await
        .expect("answer")
        .into_inner();
    let logs = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
    assert!(
        logs.contains("vendor call failed"),
        "the failure is logged: {logs}"
    );
    assert!(
        !logs.contains("live-key") && !logs.contains("live-sk"),
        "{logs}"
    );
    let statuses = format!("{:?}", r.sources);
    assert!(!statuses.contains("live-key"), "{statuses}");
}

#[tokio::test]
async fn unknown_sources_and_impossible_confidences_are_refused_before_serving() {
    use kit::config::Validate as _;
    let mut cfg = VinServiceConfig::default();
    cfg.vendors.connapi.confidence = 1.5;
    let problems = cfg.problems();
    assert!(
        problems
            .iter()
            .any(|(k, m)| k == "vendors.connapi.confidence" && m.contains("between 0 and 1")),
        "{problems:?}"
    );

    let metrics = kit::metrics::Metrics::new();
    let mut cfg = VinServiceConfig::default();
    cfg.merge = cfg.merge.with_field("model_year", &["locl", "connapi"]);
    let err = vin_service::routes(&cfg, &metrics).expect_err("typo in merge");
    let text = err.to_string();
    assert!(
        text.contains("merge.fields.model_year") && text.contains("locl"),
        "{text}"
    );

    let mut cfg = VinServiceConfig::default();
    cfg.vendors.order = vec!["conapi".to_owned()];
    let err = vin_service::routes(&cfg, &metrics).expect_err("typo in order");
    assert!(err.to_string().contains("vendors.order"), "{err}");
}
