//! What the LookupVehicle tests share: plate-service started on loopback against the
//! sandbox (or stubs), a client, and readers for statuses and the sandbox's counters.

#![allow(dead_code, clippy::missing_panics_doc)]

pub mod process;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, LookupVehicleResponse};
use plate_service::config::PlateServiceConfig;
use tonic::transport::Channel;

/// A store file no other test (or run) uses.
pub fn temp_store() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-plate-test-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

pub struct Suite {
    pub client: PlateServiceClient<Channel>,
    /// The sandbox's base URL (`http://127.0.0.1:port`).
    pub sandbox: String,
    pub metrics: kit::metrics::Metrics,
}

pub async fn suite(tweak: impl FnOnce(&mut PlateServiceConfig)) -> Suite {
    suite_full(|_| {}, tweak).await
}

/// The sandbox (tweaked) and plate-service (tweaked) on free loopback ports, every
/// vendor pointed at the sandbox and platecb's store in a file of its own.
pub async fn suite_full(
    sandbox_tweak: impl FnOnce(&mut sandbox::SandboxConfig),
    tweak: impl FnOnce(&mut PlateServiceConfig),
) -> Suite {
    let sandbox = testkit::sandbox_url_with(sandbox_tweak).await;
    let mut cfg = PlateServiceConfig::default();
    cfg.vendors.xiaoshibao.http.base_url = sandbox.clone();
    cfg.vendors.platecb.http.base_url = sandbox.clone();
    tweak(&mut cfg);
    let (client, metrics) = start(cfg).await;
    Suite {
        client,
        sandbox,
        metrics,
    }
}

/// plate-service on loopback with `cfg` (its listeners and store made test-local first,
/// unless `cfg` already names a webhook address or a store), and a client.
pub async fn start(
    cfg: PlateServiceConfig,
) -> (PlateServiceClient<Channel>, kit::metrics::Metrics) {
    let mut cfg = cfg;
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.xiaoshibao.http.retry.initial_backoff = Duration::from_millis(10);
    let defaults = PlateServiceConfig::default();
    if cfg.vendors.platecb.webhook_listen == defaults.vendors.platecb.webhook_listen {
        cfg.vendors.platecb.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    }
    if cfg.vendors.platecb.store_path == defaults.vendors.platecb.store_path {
        cfg.vendors.platecb.store_path = temp_store();
    }
    let metrics = kit::metrics::Metrics::new();
    let server = plate_service::start(cfg, metrics.clone(), kit::server::Shutdown::new())
        .await
        .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    // The server runs until the test's runtime ends.
    std::mem::forget(server);
    (PlateServiceClient::new(channel), metrics)
}

pub async fn lookup(s: &mut Suite, plate: &str) -> Result<LookupVehicleResponse, tonic::Status> {
    lookup_on(&mut s.client, plate).await
}

pub async fn lookup_on(
    client: &mut PlateServiceClient<Channel>,
    plate: &str,
) -> Result<LookupVehicleResponse, tonic::Status> {
    client
        .lookup_vehicle(LookupVehicleRequest {
            plate: plate.to_owned(),
            color: 0,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The state of `source` in a response (-1 when it is not listed).
pub fn state(r: &LookupVehicleResponse, source: &str) -> i32 {
    r.sources
        .iter()
        .find(|s| s.source == source)
        .map_or(-1, |s| s.state)
}

pub fn status<'a>(r: &'a LookupVehicleResponse, source: &str) -> &'a SourceStatus {
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

/// The sandbox's call counters.
pub async fn calls(sandbox: &str) -> serde_json::Value {
    reqwest::get(format!("{sandbox}/_sandbox/calls"))
        .await
        .expect("admin")
        .json()
        .await
        .expect("json")
}

/// How often platecb's submit endpoint answered `outcome` ("10023", "10025", "reset" ...).
pub async fn platecb_calls(sandbox: &str, outcome: &str) -> u64 {
    calls(sandbox).await["calls"]["platecb"]["/platecb/api/query"][outcome]
        .as_u64()
        .unwrap_or(0)
}

#[allow(unused_imports)] // not every test that includes `common` needs it
pub use testkit::free_port;
