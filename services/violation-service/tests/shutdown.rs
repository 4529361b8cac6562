//! SIGTERM (the shutdown signal) while an apistore submission outlives the query that
//! started it: the server counts as stopped only once the submission has ended, so that
//! its outcome is recorded before the process exits (the callback crate's
//! `submissions_settled`, handed to the server through `RunningServer::finish_after`).
//! A submission the platform refused for now (429) and that waits out its Retry-After
//! is not held to: it gives up at the signal and frees its key.

mod common;

use std::time::{Duration, Instant};

use common::{apistore_calls, apistore_outcome, faults, req, temp_store};
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use violation_service::config::ViolationServiceConfig;

#[tokio::test]
async fn the_stop_waits_for_a_paid_submission_its_query_left_running() {
    let sandbox = testkit::sandbox_url().await;
    // The platform takes 1.5 s to accept the query (10023, billed).
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "apistore", "latency": { "kind": "fixed", "ms": 1500 } }]),
    )
    .await;
    let store = temp_store();
    let (server, shutdown) = service(&sandbox, &store).await;
    let asked = Instant::now();
    // Whatever the query says within its 300 ms, the submission goes on.
    let _ = ask_briefly(&server, Duration::from_millis(300)).await;
    assert_eq!(
        apistore_outcome(&sandbox, "10023").await,
        0,
        "the platform has not answered yet"
    );

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(12), server.wait())
        .await
        .expect("stops within the grace period")
        .expect("clean stop");
    assert_eq!(
        apistore_outcome(&sandbox, "10023").await,
        1,
        "stopped only after the submission ended ({:?} after it began)",
        asked.elapsed()
    );
    assert!(asked.elapsed() >= Duration::from_millis(1500));
    let _ = std::fs::remove_file(&store);
}

/// The service on `store` against `sandbox`, with a grace period of 8 s.
async fn service(
    sandbox: &str,
    store: &std::path::Path,
) -> (kit::server::RunningServer, kit::server::Shutdown) {
    let mut cfg = ViolationServiceConfig::default();
    cfg.vendors.apistore.http.base_url = sandbox.to_owned();
    cfg.vendors.apistore.callback.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    cfg.vendors.apistore.callback.store_path = store.to_owned();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.server.shutdown_grace = Duration::from_secs(8);
    let shutdown = kit::server::Shutdown::new();
    let server = violation_service::start(cfg, kit::metrics::Metrics::new(), shutdown.clone())
        .await
        .expect("starts");
    (server, shutdown)
}

/// QueryViolations for 苏E9T8R7 with a deadline of `timeout`; its outcome if it answered.
async fn ask_briefly(server: &kit::server::RunningServer, timeout: Duration) -> Option<i32> {
    let mut client = ViolationServiceClient::new(
        tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
            .expect("uri")
            .connect()
            .await
            .expect("connects"),
    );
    let mut request =
        tonic::Request::new(req("苏E9T8R7", "02", "M20A3108452", "LVGBE40K7MG052917"));
    request.set_timeout(timeout);
    client
        .query_violations(request)
        .await
        .ok()
        .map(|r| r.into_inner().outcome)
}

#[tokio::test]
async fn the_stop_does_not_wait_for_a_refused_submission_to_retry() {
    let sandbox = testkit::sandbox_url().await;
    let store = temp_store();
    // The platform refuses every query for now: 429, ask again in 20 s (past the grace).
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "apistore",
            "action": { "kind": "http_status", "status": 429, "retry_after_s": 20 } }]),
    )
    .await;
    let (server, shutdown) = service(&sandbox, &store).await;
    // The query leaves at its deadline; its submission waits out the Retry-After.
    let _ = ask_briefly(&server, Duration::from_millis(500)).await;
    assert_eq!(apistore_calls(&sandbox).await, 1);

    let stopped = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(12), server.wait())
        .await
        .expect("stops within the grace period")
        .expect("clean stop");
    assert!(
        stopped.elapsed() < Duration::from_secs(4),
        "a refused submission waiting to retry held the stop for {:?} (grace 8 s)",
        stopped.elapsed()
    );
    assert_eq!(
        apistore_calls(&sandbox).await,
        1,
        "not sent again while stopping"
    );

    // Nothing reached the platform, so the key is free: the next process submits at
    // once instead of waiting on a claim nobody will settle.
    faults(&sandbox, serde_json::json!([])).await;
    let (server, shutdown) = service(&sandbox, &store).await;
    let _ = ask_briefly(&server, Duration::from_millis(500)).await;
    assert_eq!(
        apistore_calls(&sandbox).await,
        2,
        "the restarted service submitted the query afresh"
    );
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(12), server.wait()).await;
    let _ = std::fs::remove_file(&store);
}
