//! The suite on 127.0.0.1:0: the vendor sandbox, vin-service and plate-service wired to
//! it, and the aggregator wired to them; a generated client; the sandbox's admin API.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aggregator::config::AggregatorConfig;
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{GetVehicleProfileRequest, GetVehicleProfileResponse};
use contracts::axle::common::v1::SourceStatus;
use kit::client::ClientConfig;
use kit::server::Shutdown;
use plate_service::config::PlateServiceConfig;
use tonic::transport::Channel;
use vin_service::config::VinServiceConfig;
use violation_service::config::ViolationServiceConfig;

pub const VIN: &str = "WP0AA2978BL012976";
pub const PLATE: &str = "粤B12345";
/// The internal-caller token shared by plate-service and the aggregator.
pub const TOKEN: &str = "test-internal-token";
/// The sandbox's apistore vehicle with violations, and what 粤A asks for it.
pub const VIOLATION_PLATE: &str = "粤AJ44E6";
pub const VIOLATION_VIN: &str = "LNBSCC3H8GF308384";
pub const VIOLATION_ENGINE: &str = "AD50EG081600062";

pub struct Suite {
    pub client: AggregatorServiceClient<Channel>,
    pub sandbox: String,
    pub shutdown: Shutdown,
    pub config: AggregatorConfig,
    /// The registry every component of the suite counts in.
    pub metrics: kit::metrics::Metrics,
}

/// An adjustment of a component's configuration.
pub type Tweak<C> = Option<Box<dyn FnOnce(&mut C)>>;

/// What each component's configuration may be adjusted with.
#[derive(Default)]
pub struct Tweaks {
    pub vin: Tweak<VinServiceConfig>,
    pub plate: Tweak<PlateServiceConfig>,
    pub violation: Tweak<ViolationServiceConfig>,
    pub aggregator: Tweak<AggregatorConfig>,
}

fn temp_store() -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-aggregator-test-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

pub async fn suite() -> Suite {
    suite_with(Tweaks::default()).await
}

pub async fn suite_with(t: Tweaks) -> Suite {
    let shutdown = Shutdown::new();
    let sandbox = testkit::sandbox_url().await;
    let metrics = kit::metrics::Metrics::new();

    let mut vin = VinServiceConfig::default();
    vin.server.listen = "127.0.0.1:0".parse().expect("addr");
    vin.server.metrics_listen = None;
    vin.vendors.connapi.http.base_url = sandbox.clone();
    vin.vendors.connapi.http.retry.initial_backoff = Duration::from_millis(10);
    vin.vendors.connapi.http.retry.max_backoff = Duration::from_millis(20);
    if let Some(f) = t.vin {
        f(&mut vin);
    }
    let vin = vin_service::start(vin, metrics.clone(), shutdown.clone())
        .await
        .expect("vin-service starts");

    let mut plate = plate_config(&sandbox);
    if let Some(f) = t.plate {
        f(&mut plate);
    }
    let plate = plate_service::start(plate, metrics.clone(), shutdown.clone())
        .await
        .expect("plate-service starts");

    let mut violation = ViolationServiceConfig::default();
    violation.server.listen = "127.0.0.1:0".parse().expect("addr");
    violation.server.metrics_listen = None;
    violation.vendors.apistore.http.base_url = sandbox.clone();
    violation.vendors.apistore.http.retry.initial_backoff = Duration::from_millis(10);
    violation.vendors.apistore.callback.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    violation.vendors.apistore.callback.store_path = temp_store();
    if let Some(f) = t.violation {
        f(&mut violation);
    }
    let violation = violation_service::start(violation, metrics.clone(), shutdown.clone())
        .await
        .expect("violation-service starts");

    let mut cfg = AggregatorConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.services.vin = ClientConfig::local(vin.grpc_addr.port());
    cfg.services.plate = ClientConfig::local(plate.grpc_addr.port());
    cfg.services.violation = ClientConfig::local(violation.grpc_addr.port());
    cfg.services.internal_token = settings::Secret::new(TOKEN.to_owned());
    if let Some(f) = t.aggregator {
        f(&mut cfg);
    }
    let agg = aggregator::start(cfg.clone(), metrics.clone(), shutdown.clone())
        .await
        .expect("aggregator starts");
    let channel = Channel::from_shared(format!("http://{}", agg.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    std::mem::forget((vin, plate, violation, agg));
    Suite {
        client: AggregatorServiceClient::new(channel),
        sandbox,
        shutdown,
        config: cfg,
        metrics,
    }
}

/// plate-service on 127.0.0.1:0 wired to `sandbox`, revealing VINs to the aggregator.
pub fn plate_config(sandbox: &str) -> PlateServiceConfig {
    let mut plate = PlateServiceConfig::default();
    plate.server.listen = "127.0.0.1:0".parse().expect("addr");
    plate.server.metrics_listen = None;
    sandbox.clone_into(&mut plate.vendors.xiaoshibao.http.base_url);
    sandbox.clone_into(&mut plate.vendors.platecb.http.base_url);
    plate.vendors.xiaoshibao.http.retry.initial_backoff = Duration::from_millis(10);
    plate.vendors.platecb.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    plate.vendors.platecb.store_path = temp_store();
    // plate-service reveals VINs to the aggregator only (it decodes them, and masks them
    // itself for its callers).
    plate.privacy.internal_token = settings::Secret::new(TOKEN.to_owned());
    plate
}

/// A port that refuses connections (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn by_vin(vin: &str) -> GetVehicleProfileRequest {
    GetVehicleProfileRequest {
        subject: Some(Subject::Vin(vin.to_owned())),
        ..GetVehicleProfileRequest::default()
    }
}

pub fn by_plate(plate: &str) -> GetVehicleProfileRequest {
    GetVehicleProfileRequest {
        subject: Some(Subject::Plate(plate.to_owned())),
        ..GetVehicleProfileRequest::default()
    }
}

pub async fn profile(
    s: &mut Suite,
    req: GetVehicleProfileRequest,
    timeout: Duration,
) -> Result<GetVehicleProfileResponse, tonic::Status> {
    let mut r = tonic::Request::new(req);
    r.set_timeout(timeout);
    // Boxed: the response is large, and so would every test's future be.
    Box::pin(s.client.get_vehicle_profile(r))
        .await
        .map(tonic::Response::into_inner)
}

pub fn status<'a>(r: &'a GetVehicleProfileResponse, source: &str, via: &str) -> &'a SourceStatus {
    r.sources
        .iter()
        .find(|s| s.source == source && s.via == via)
        .unwrap_or_else(|| panic!("no status for {source} via {via:?}: {:#?}", r.sources))
}

pub async fn faults(sandbox: &str, rules: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{sandbox}/_sandbox/faults"))
        .json(&rules)
        .send()
        .await
        .expect("admin API answers");
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// How many calls `vendor` has had (every endpoint and outcome).
pub async fn calls(sandbox: &str, vendor: &str) -> u64 {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{sandbox}/_sandbox/calls"))
        .send()
        .await
        .expect("admin API answers")
        .json()
        .await
        .expect("json");
    v["calls"][vendor].as_object().map_or(0, |endpoints| {
        endpoints
            .values()
            .filter_map(serde_json::Value::as_object)
            .flat_map(|o| o.values())
            .filter_map(serde_json::Value::as_u64)
            .sum()
    })
}
