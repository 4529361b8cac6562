//! What the violation-service tests share: the service started on loopback against the
//! sandbox, a client, and readers for statuses and the sandbox's counters.

#![allow(dead_code, clippy::missing_panics_doc)]

pub mod process;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use contracts::axle::violation::v1::{QueryViolationsRequest, QueryViolationsResponse};
use tonic::transport::Channel;
use violation_service::config::ViolationServiceConfig;

/// A store file no other test (or run) uses.
pub fn temp_store() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-violation-test-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

pub struct Suite {
    pub client: ViolationServiceClient<Channel>,
    pub metrics: kit::metrics::Metrics,
    /// The sandbox's base URL (`http://127.0.0.1:port`).
    pub sandbox: String,
}

pub async fn suite(tweak: impl FnOnce(&mut ViolationServiceConfig)) -> Suite {
    suite_full(|_| {}, tweak).await
}

/// The sandbox (tweaked) and violation-service (tweaked) on free loopback ports, apistore
/// pointed at the sandbox, its store in a file of its own.
pub async fn suite_full(
    sandbox_tweak: impl FnOnce(&mut sandbox::SandboxConfig),
    tweak: impl FnOnce(&mut ViolationServiceConfig),
) -> Suite {
    let sandbox = testkit::sandbox_url_with(sandbox_tweak).await;
    let mut cfg = ViolationServiceConfig::default();
    cfg.vendors.apistore.http.base_url = sandbox.clone();
    cfg.vendors.apistore.http.retry.initial_backoff = Duration::from_millis(10);
    cfg.vendors.apistore.callback.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    cfg.vendors.apistore.callback.store_path = temp_store();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    tweak(&mut cfg);
    let metrics = kit::metrics::Metrics::new();
    let server = violation_service::start(cfg, metrics.clone(), kit::server::Shutdown::new())
        .await
        .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    // The server runs until the test's runtime ends.
    std::mem::forget(server);
    Suite {
        client: ViolationServiceClient::new(channel),
        metrics,
        sandbox,
    }
}

/// A request for `plate` with its type and numbers.
pub fn req(plate: &str, plate_type: &str, engine: &str, vin: &str) -> QueryViolationsRequest {
    QueryViolationsRequest {
        plate: plate.to_owned(),
        plate_type: plate_type.to_owned(),
        engine_number: engine.to_owned(),
        vin: vin.to_owned(),
        ..QueryViolationsRequest::default()
    }
}

pub async fn query(
    s: &mut Suite,
    r: QueryViolationsRequest,
) -> Result<QueryViolationsResponse, tonic::Status> {
    s.client
        .query_violations(r)
        .await
        .map(tonic::Response::into_inner)
}

pub fn status<'a>(r: &'a QueryViolationsResponse, source: &str) -> &'a SourceStatus {
    r.sources
        .iter()
        .find(|s| s.source == source)
        .unwrap_or_else(|| panic!("no status for {source}: {:?}", r.sources))
}

/// Replaces the sandbox's fault rules.
pub async fn faults(sandbox: &str, rules: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{sandbox}/_sandbox/faults"))
        .json(&rules)
        .send()
        .await
        .expect("admin");
    assert!(resp.status().is_success(), "rules refused: {rules}");
}

/// How many requests apistore's endpoint took (every outcome).
pub async fn apistore_calls(sandbox: &str) -> u64 {
    let calls: serde_json::Value = reqwest::get(format!("{sandbox}/_sandbox/calls"))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    calls["calls"]["apistore"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .flat_map(|outcomes| outcomes.as_object().into_iter().flat_map(|o| o.values()))
        .filter_map(serde_json::Value::as_u64)
        .sum()
}

/// How often apistore's endpoint answered `outcome` ("10000", "10023", "10025" ...).
pub async fn apistore_outcome(sandbox: &str, outcome: &str) -> u64 {
    let calls: serde_json::Value = reqwest::get(format!("{sandbox}/_sandbox/calls"))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    calls["calls"]["apistore"]["/pyi/65/173"][outcome]
        .as_u64()
        .unwrap_or(0)
}
