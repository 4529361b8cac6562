//! A sandbox and a vin-service on 127.0.0.1:0, wired together, and a generated client.
#![allow(dead_code)]

use std::time::Duration;

use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use kit::server::{RunningServer, Shutdown};
use tonic::transport::Channel;
use vin_service::config::VinServiceConfig;

pub struct Suite {
    pub client: VinServiceClient<Channel>,
    pub channel: Channel,
    pub sandbox_url: String,
    pub server: RunningServer,
    pub shutdown: Shutdown,
    pub metrics: kit::metrics::Metrics,
}

pub async fn start_sandbox() -> String {
    let cfg = sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..sandbox::SandboxConfig::default()
    };
    let running = sandbox::start(cfg, std::future::pending())
        .await
        .expect("sandbox starts");
    format!("http://{}", running.addr)
}

/// Starts both; `tweak` adjusts the vin-service config (key, timeouts ...).
pub async fn suite(tweak: impl FnOnce(&mut VinServiceConfig)) -> Suite {
    let sandbox_url = start_sandbox().await;
    suite_with_sandbox(sandbox_url, tweak).await
}

pub async fn suite_with_sandbox(
    sandbox_url: String,
    tweak: impl FnOnce(&mut VinServiceConfig),
) -> Suite {
    let mut cfg = VinServiceConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.connapi.http.base_url = sandbox_url.clone();
    cfg.vendors.connapi.http.request_timeout = Duration::from_secs(2);
    cfg.vendors.connapi.http.retry.initial_backoff = Duration::from_millis(10);
    cfg.vendors.connapi.http.retry.max_backoff = Duration::from_millis(20);
    tweak(&mut cfg);
    let shutdown = Shutdown::new();
    let metrics = kit::metrics::Metrics::new();
    let server = vin_service::start(cfg, metrics.clone(), shutdown.clone())
        .await
        .expect("vin-service starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    Suite {
        client: VinServiceClient::new(channel.clone()),
        channel,
        sandbox_url,
        server,
        shutdown,
        metrics,
    }
}

/// Installs fault rules in the sandbox through its admin API.
pub async fn set_faults(sandbox_url: &str, rules: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{sandbox_url}/_sandbox/faults"))
        .json(&rules)
        .send()
        .await
        .expect("admin API answers");
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// How many connapi calls ended with `outcome` (a vendor code such as "500", or
/// "http_503", "reset", "malformed"), over all endpoints.
pub async fn connapi_calls(sandbox_url: &str, outcome: &str) -> u64 {
    let calls = sandbox_calls(sandbox_url).await;
    calls["calls"]["connapi"]
        .as_object()
        .map_or(0, |endpoints| {
            endpoints.values().filter_map(|o| o[outcome].as_u64()).sum()
        })
}

/// Total vendor calls the sandbox has seen.
pub async fn total_calls(sandbox_url: &str) -> u64 {
    sandbox_calls(sandbox_url).await["total"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// Calls counted by the sandbox: `{"total": n, "calls": {vendor: {endpoint: {outcome: n}}}}`.
pub async fn sandbox_calls(sandbox_url: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{sandbox_url}/_sandbox/calls"))
        .send()
        .await
        .expect("admin API answers")
        .json()
        .await
        .expect("json")
}
