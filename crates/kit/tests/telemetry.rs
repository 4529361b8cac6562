//! Telemetry setup with an OTLP endpoint: it must come up without a collector being
//! reachable (collectors restart; a service must not), and shut down without hanging.

use std::time::{Duration, Instant};

use kit::config::{LogFormat, TelemetryConfig};

#[tokio::test]
async fn otlp_export_configures_without_a_reachable_collector() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let cfg = TelemetryConfig {
        log_format: LogFormat::Json,
        otlp_endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..TelemetryConfig::default()
    };
    let guard = kit::telemetry::init(&cfg, "telemetry-test").expect("init");
    tracing::info_span!("work").in_scope(|| tracing::info!("inside a span"));
    // A second init in the same process is a no-op, as `axle up` needs.
    let again = kit::telemetry::init(&cfg, "telemetry-test").expect("second init");
    drop(again);
    // Trace context is injected into outgoing (vendor) requests from the current span.
    let mut headers = http::HeaderMap::new();
    tracing::info_span!("outgoing").in_scope(|| kit::telemetry::inject_current(&mut headers));
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("traceparent injected");
    assert!(
        traceparent.starts_with("00-") && traceparent.len() == 55,
        "{traceparent}"
    );
    let started = Instant::now();
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("shutdown task");
    assert!(started.elapsed() < Duration::from_secs(30), "shutdown hung");
}
