//! SIGTERM (the shutdown signal) while an apistore submission outlives the query that
//! started it: the server counts as stopped only once the submission has ended, so that
//! its outcome is recorded before the process exits (the callback crate's
//! `submissions_settled`, handed to the server through `RunningServer::finish_after`).

mod common;

use std::time::{Duration, Instant};

use common::{apistore_outcome, faults, req, temp_store};
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
    let mut cfg = ViolationServiceConfig::default();
    cfg.vendors.apistore.http.base_url = sandbox.clone();
    cfg.vendors.apistore.callback.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    cfg.vendors.apistore.callback.store_path = temp_store();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.server.shutdown_grace = Duration::from_secs(8);
    let shutdown = kit::server::Shutdown::new();
    let server = violation_service::start(cfg, kit::metrics::Metrics::new(), shutdown.clone())
        .await
        .expect("starts");
    let mut client = ViolationServiceClient::new(
        tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
            .expect("uri")
            .connect()
            .await
            .expect("connects"),
    );
    let mut request =
        tonic::Request::new(req("苏E9T8R7", "02", "M20A3108452", "LVGBE40K7MG052917"));
    request.set_timeout(Duration::from_millis(300));
    let asked = Instant::now();
    // Whatever the query says within its 300 ms, the submission goes on.
    let _ = client.query_violations(request).await;
    drop(client);
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
}
