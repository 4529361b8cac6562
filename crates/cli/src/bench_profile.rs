//! `axle bench profile`: GetVehicleProfile through the whole suite in one process (the
//! vendor sandbox, vin-, plate-, violation-service and the aggregator on 127.0.0.1:0),
//! reported as ratios measured in the same run (see `bench` for why ratios):
//!
//! - warm cache: CPU per GetVehicleProfile whose answers are all cached, against Echo on
//!   Axle's stack (rounds alternate: echo, warm, cold);
//! - cold: by plate with the cache off, so three vendors (xiaoshibao, platecb, connapi)
//!   are asked each time;
//! - tail: 5 % of connapi calls delayed 500 ms by the sandbox; by VIN with the cache off,
//!   vin-service with strategy `parallel` against `hedged` (rounds alternate), vendor
//!   calls counted by the sandbox;
//! - repeats: a cached suite asked for N distinct vehicles twice each in shuffled order,
//!   concurrently: paid connapi calls per distinct vehicle (cache and coalescing).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use contracts::axle::aggregator::v1::GetVehicleProfileRequest;
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::EchoServiceServer;
use kit::client::ClientConfig;
use kit::metrics::Metrics;
use kit::server::Shutdown;
use rand::seq::SliceRandom as _;
use serde::Serialize;
use tonic::transport::Channel;

use crate::bench::{
    Echo, Measurement, Ratios, SERVER_THREADS, Samples, connect, drive, drive_echo,
};

/// Size of one run.
#[derive(Debug, Clone)]
pub struct ProfileBenchOptions {
    /// Requests per contender per round.
    pub requests_per_round: usize,
    pub rounds: usize,
    pub concurrency: usize,
    pub warmup: usize,
    /// Distinct vehicles of the repeat workload (each asked twice).
    pub distinct_vehicles: usize,
}

/// The injected tail: this share of connapi calls ...
pub const TAIL_PROBABILITY: f64 = 0.05;
/// ... is delayed this long.
pub const TAIL_DELAY_MS: u64 = 500;

#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub echo: Measurement,
    /// GetVehicleProfile by VIN, every answer cached.
    pub warm: Measurement,
    /// The servers' CPU (the target's measure: what Axle spends).
    pub warm_vs_echo: Ratios,
    /// The whole process's CPU, the client's decoding of the larger answer included.
    pub warm_vs_echo_with_client: Ratios,
    /// GetVehicleProfile by plate, cache off: three vendors per request.
    pub cold: Measurement,
    pub cold_vs_echo: Ratios,
    /// By VIN, cache off, 5 % of connapi calls delayed 500 ms: vin-service `parallel`.
    pub unhedged: Measurement,
    /// The same with vin-service `hedged`.
    pub hedged: Measurement,
    pub unhedged_connapi_calls: u64,
    pub hedged_connapi_calls: u64,
    /// Hedged P99 / unhedged P99 (target <= 0.2).
    pub tail_p99_ratio: f64,
    /// Hedged connapi calls / unhedged connapi calls - 1 (target <= 0.05).
    pub extra_vendor_calls: f64,
    pub repeat_queries: usize,
    pub distinct_vehicles: usize,
    pub repeat_connapi_calls: u64,
    /// Paid connapi calls per distinct vehicle (target <= 1.1).
    pub calls_per_vehicle: f64,
}

/// The fixture VINs connapi's sandbox knows: warm and tail workloads.
const VINS: &[&str] = &[
    "WP0AA2978BL012976",
    "LSVAM4182N2123456",
    "LFV2B25G2M3012345",
    "LC0C76C44R0654321",
    "LGWEF6A56MH001234",
    "LRW3E7EK3NC123456",
    "WBA5R1107LFH12345",
    "1HGCV1F39KA012345",
];

/// Plates xiaoshibao's sandbox knows, with a VIN connapi knows: the cold workload.
const PLATES: &[&str] = &["沪A12345", "京AD12345", "川A88888", "浙A0A123"];

fn by_vin(vin: &str) -> GetVehicleProfileRequest {
    GetVehicleProfileRequest {
        subject: Some(Subject::Vin(vin.to_owned())),
        ..GetVehicleProfileRequest::default()
    }
}

fn by_plate(plate: &str) -> GetVehicleProfileRequest {
    GetVehicleProfileRequest {
        subject: Some(Subject::Plate(plate.to_owned())),
        ..GetVehicleProfileRequest::default()
    }
}

/// `n` distinct valid VINs (check digit computed), unknown to the sandbox: a paid call
/// that finds nothing is still a paid call. `plant` (position 11) keeps workloads apart.
fn distinct_vins(plant: char, first: usize, n: usize) -> Vec<String> {
    (first..first + n)
        .filter_map(|i| {
            let mut v = format!("LSVAG2180E{plant}{:06}", i % 1_000_000).into_bytes();
            let check = domain::vin::compute_check_digit(std::str::from_utf8(&v).ok()?)?;
            v[8] = u8::try_from(check).ok()?;
            String::from_utf8(v).ok()
        })
        .collect()
}

fn temp_store(tag: &str) -> std::path::PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-bench-{tag}-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

/// How one suite under test differs.
#[derive(Debug, Clone, Copy)]
struct Variant {
    cache: bool,
    strategy: sources::Strategy,
}

/// vin-, plate-, violation-service and the aggregator, wired to `sandbox`; returns the
/// aggregator's address and the stores to remove at the end. Everything stops on
/// `shutdown`. Owned arguments: it runs on the servers' runtime.
async fn start_suite(
    sandbox: String,
    variant: Variant,
    metrics: Metrics,
    shutdown: Shutdown,
) -> anyhow::Result<(std::net::SocketAddr, Vec<std::path::PathBuf>)> {
    let (sandbox, metrics, shutdown) = (sandbox.as_str(), &metrics, &shutdown);
    let mut stores = Vec::new();
    let local = || -> std::net::SocketAddr { ([127, 0, 0, 1], 0).into() };
    let mut vin = vin_service::config::VinServiceConfig::default();
    vin.server.listen = local();
    vin.server.metrics_listen = None;
    sandbox.clone_into(&mut vin.vendors.connapi.http.base_url);
    vin.vendors.strategy = variant.strategy;
    let vin = vin_service::start(vin, metrics.clone(), shutdown.clone()).await?;

    let token = settings::Secret::new("axle-bench-internal".to_owned());
    let mut plate = plate_service::config::PlateServiceConfig::default();
    plate.server.listen = local();
    plate.server.metrics_listen = None;
    sandbox.clone_into(&mut plate.vendors.xiaoshibao.http.base_url);
    sandbox.clone_into(&mut plate.vendors.platecb.http.base_url);
    plate.vendors.platecb.webhook_listen = local();
    plate.vendors.platecb.store_path = temp_store("platecb");
    stores.push(plate.vendors.platecb.store_path.clone());
    plate.privacy.internal_token = token.clone();
    let plate = plate_service::start(plate, metrics.clone(), shutdown.clone()).await?;

    let mut violation = violation_service::config::ViolationServiceConfig::default();
    violation.server.listen = local();
    violation.server.metrics_listen = None;
    sandbox.clone_into(&mut violation.vendors.apistore.http.base_url);
    violation.vendors.apistore.callback.webhook_listen = local();
    violation.vendors.apistore.callback.store_path = temp_store("apistore");
    stores.push(violation.vendors.apistore.callback.store_path.clone());
    let violation = violation_service::start(violation, metrics.clone(), shutdown.clone()).await?;

    let mut cfg = aggregator::config::AggregatorConfig::default();
    cfg.server.listen = local();
    cfg.server.metrics_listen = None;
    cfg.services.vin = ClientConfig::local(vin.grpc_addr.port());
    cfg.services.plate = ClientConfig::local(plate.grpc_addr.port());
    cfg.services.violation = ClientConfig::local(violation.grpc_addr.port());
    cfg.services.internal_token = token;
    cfg.cache.enabled = variant.cache;
    let agg = aggregator::start(cfg, metrics.clone(), shutdown.clone()).await?;
    let addr = agg.grpc_addr;
    // The servers run until `shutdown`; their handles are only needed to wait for them.
    std::mem::forget((vin, plate, violation, agg));
    Ok((addr, stores))
}

/// Starts a suite on the servers' runtime and connects to it from this one (a client's
/// connection task runs where it was made: here, with the client).
async fn suite_on(
    servers: &tokio::runtime::Runtime,
    sandbox: &str,
    variant: Variant,
    metrics: &Metrics,
    shutdown: &Shutdown,
    stores: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<AggregatorServiceClient<Channel>> {
    let (addr, mine) = servers
        .spawn(start_suite(
            sandbox.to_owned(),
            variant,
            metrics.clone(),
            shutdown.clone(),
        ))
        .await
        .context("starting a suite")??;
    stores.extend(mine);
    Ok(AggregatorServiceClient::new(connect(addr).await?).max_decoding_message_size(16 << 20))
}

async fn drive_profiles(
    client: &AggregatorServiceClient<Channel>,
    requests: &[GetVehicleProfileRequest],
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Samples> {
    drive(total, concurrency, |i| {
        let mut c = client.clone();
        let mut req = tonic::Request::new(requests[i % requests.len()].clone());
        req.set_timeout(Duration::from_secs(10));
        async move { c.get_vehicle_profile(req).await.map(|_| ()) }
    })
    .await
}

#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
pub async fn run(opts: &ProfileBenchOptions) -> anyhow::Result<ProfileReport> {
    anyhow::ensure!(
        opts.requests_per_round > 0 && opts.rounds > 0,
        "--requests and --rounds must be at least 1"
    );
    let shutdown = Shutdown::new();
    let sb = sandbox::start(
        sandbox::SandboxConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            ..sandbox::SandboxConfig::default()
        },
        {
            let stop = shutdown.clone();
            async move { stop.triggered().await }
        },
    )
    .await
    .context("starting the vendor sandbox")?;
    let sandbox_url = sb.base_url();
    let metrics = Metrics::new();
    let mut stores = Vec::new();
    // The servers (Echo and the suites) run on a runtime of their own, so that their
    // CPU is measured apart from the client's, which decodes every answer in this
    // process too. The vendor sandbox stays with the client: it is not Axle.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .context("starting the servers' runtime")?;

    let server = kit::config::ServerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        metrics_listen: None,
        ..kit::config::ServerConfig::default()
    };
    let echo_server = servers
        .spawn(kit::server::start_service(
            server,
            "axle.bench.v1.EchoService",
            contracts::FILE_DESCRIPTOR_SET,
            tonic::service::Routes::new(EchoServiceServer::new(Echo)),
            metrics.clone(),
            shutdown.clone(),
        ))
        .await
        .context("starting the echo server")?
        .context("starting the echo server")?;
    let echo = EchoServiceClient::new(connect(echo_server.grpc_addr).await?);

    let parallel = sources::Strategy::Parallel;
    let mut suite = async |cache, strategy| {
        suite_on(
            &servers,
            &sandbox_url,
            Variant { cache, strategy },
            &metrics,
            &shutdown,
            &mut stores,
        )
        .await
    };
    let cached = suite(true, parallel).await?;
    let uncached = suite(false, parallel).await?;
    let hedged_suite = suite(false, sources::Strategy::Hedged).await?;

    let vins: Vec<_> = VINS.iter().map(|v| by_vin(v)).collect();
    let plates: Vec<_> = PLATES.iter().map(|p| by_plate(p)).collect();
    let (n, c) = (opts.requests_per_round, opts.concurrency);

    // Warm and cold against Echo, alternating rounds. The warm-up fills the cache and
    // platecb's store, and gives every connection and table its first use.
    drive_echo(&echo, opts.warmup, c).await?;
    drive_profiles(&cached, &vins, opts.warmup.max(vins.len()), c).await?;
    drive_profiles(
        &uncached,
        &plates,
        opts.warmup.min(200).max(plates.len()),
        c,
    )
    .await?;
    let (mut echo_s, mut warm_s, mut cold_s) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..opts.rounds {
        echo_s.absorb(drive_echo(&echo, n, c).await?);
        warm_s.absorb(drive_profiles(&cached, &vins, n, c).await?);
        cold_s.absorb(drive_profiles(&uncached, &plates, n, c).await?);
    }

    // The tail, on distinct vehicles (each asked once, so no request joins another's
    // call: a joined caller inherits the call's latency, which would measure the
    // coalescing of hot keys rather than the hedging). Both suites first learn connapi's
    // latency without faults.
    let fresh_batch = |plant: char, first: usize, count: usize| -> Vec<_> {
        distinct_vins(plant, first, count)
            .iter()
            .map(|v| by_vin(v))
            .collect()
    };
    let learn = fresh_batch('W', 0, opts.warmup.clamp(1, 200));
    drive_profiles(&uncached, &learn, learn.len(), c).await?;
    drive_profiles(&hedged_suite, &learn, learn.len(), c).await?;
    sb.state
        .set_faults(vec![sandbox::FaultRule {
            name: Some("axle bench: tail".to_owned()),
            vendor: Some("connapi".to_owned()),
            probability: TAIL_PROBABILITY,
            latency: Some(sandbox::Latency::Fixed { ms: TAIL_DELAY_MS }),
            ..sandbox::FaultRule::default()
        }])
        .map_err(|e| anyhow::anyhow!("setting the sandbox's tail: {e}"))?;
    let (mut unhedged_s, mut hedged_s) = (Samples::default(), Samples::default());
    let (mut unhedged_calls, mut hedged_calls) = (0, 0);
    for round in 0..opts.rounds {
        let (plain, hedged) = (
            fresh_batch('U', round * n, n),
            fresh_batch('H', round * n, n),
        );
        let before = sb.state.calls_of("connapi");
        unhedged_s.absorb(drive_profiles(&uncached, &plain, n, c).await?);
        let mid = sb.state.calls_of("connapi");
        hedged_s.absorb(drive_profiles(&hedged_suite, &hedged, n, c).await?);
        // A dropped loser's call may still be counted a moment later: let it land.
        tokio::time::sleep(Duration::from_millis(TAIL_DELAY_MS + 100)).await;
        let after = sb.state.calls_of("connapi");
        unhedged_calls += mid - before;
        hedged_calls += after - mid;
    }
    sb.state
        .set_faults(Vec::new())
        .map_err(|e| anyhow::anyhow!("clearing the sandbox's faults: {e}"))?;

    // Repeats: every vehicle twice, shuffled, concurrently, on the cached suite.
    let fresh = distinct_vins('2', 0, opts.distinct_vehicles);
    let mut workload: Vec<_> = fresh
        .iter()
        .chain(fresh.iter())
        .map(|v| by_vin(v))
        .collect();
    workload.shuffle(&mut rand::rng());
    let before = sb.state.calls_of("connapi");
    drive_profiles(&cached, &workload, workload.len(), c).await?;
    let repeat_calls = sb.state.calls_of("connapi") - before;

    shutdown.trigger();
    echo_server.wait().await?;
    sb.wait().await.context("vendor sandbox")?;
    // Not dropped here: dropping a runtime waits for its threads, which async code must
    // not do.
    servers.shutdown_background();
    for p in stores {
        let _ = std::fs::remove_file(p);
    }

    let echo = echo_s.summarise("Echo on Axle's stack");
    let warm = warm_s.summarise("GetVehicleProfile, warm cache (by VIN)");
    let cold = cold_s.summarise("GetVehicleProfile, cold, 3 vendors (by plate)");
    let unhedged = unhedged_s.summarise("GetVehicleProfile, 5 % tail, unhedged");
    let hedged = hedged_s.summarise("GetVehicleProfile, 5 % tail, hedged");
    Ok(ProfileReport {
        warm_vs_echo: Ratios::of_servers(&warm, &echo),
        cold_vs_echo: Ratios::of_servers(&cold, &echo),
        warm_vs_echo_with_client: Ratios::of(&warm, &echo),
        tail_p99_ratio: hedged.p99_us / unhedged.p99_us,
        extra_vendor_calls: hedged_calls as f64 / (unhedged_calls.max(1)) as f64 - 1.0,
        unhedged_connapi_calls: unhedged_calls,
        hedged_connapi_calls: hedged_calls,
        repeat_queries: workload.len(),
        distinct_vehicles: fresh.len(),
        repeat_connapi_calls: repeat_calls,
        calls_per_vehicle: repeat_calls as f64 / (fresh.len().max(1)) as f64,
        echo,
        warm,
        cold,
        unhedged,
        hedged,
    })
}

impl ProfileReport {
    /// Markdown table for docs/perf.md.
    pub fn markdown(&self) -> String {
        let row = |m: &Measurement| {
            format!(
                "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |\n",
                m.name,
                m.requests,
                m.server_cpu_us_per_request,
                m.cpu_us_per_request,
                m.p50_us,
                m.p99_us,
                m.throughput_rps
            )
        };
        let mut out = String::from(
            "| RPC | requests | servers' CPU µs/req | process CPU µs/req | p50 µs | p99 µs | req/s |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for m in [
            &self.echo,
            &self.warm,
            &self.cold,
            &self.unhedged,
            &self.hedged,
        ] {
            out.push_str(&row(m));
        }
        let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
        let _ = write!(
            out,
            "\n| ratio | measured | target |\n|---|---|---|\n\
             | warm GetVehicleProfile CPU / Echo CPU (servers) | {:.2}x | <= 2x ({}) |\n\
             | the same, whole process (the client decoding the answer included) | {:.2}x | (none) |\n\
             | cold (3 vendors) CPU / Echo CPU (servers) | {:.2}x | (none) |\n\
             | cold p50 / Echo p50 | {:.2}x | (none) |\n\
             | hedged p99 / unhedged p99 (5 % of connapi calls +{TAIL_DELAY_MS} ms) | {:.3} | <= 0.2 ({}) |\n\
             | extra connapi calls when hedged | {:+.1} % ({} vs {}) | <= 5 % ({}) |\n\
             | paid connapi calls per distinct vehicle, half the queries repeats | {:.3} ({} calls, {} vehicles, {} queries) | <= 1.1 ({}) |\n",
            self.warm_vs_echo.cpu,
            verdict(self.warm_vs_echo.cpu <= 2.0),
            self.warm_vs_echo_with_client.cpu,
            self.cold_vs_echo.cpu,
            self.cold_vs_echo.p50,
            self.tail_p99_ratio,
            verdict(self.tail_p99_ratio <= 0.2),
            self.extra_vendor_calls * 100.0,
            self.hedged_connapi_calls,
            self.unhedged_connapi_calls,
            verdict(self.extra_vendor_calls <= 0.05),
            self.calls_per_vehicle,
            self.repeat_connapi_calls,
            self.distinct_vehicles,
            self.repeat_queries,
            verdict(self.calls_per_vehicle <= 1.1),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_vins_are_distinct_and_valid() {
        let vins = distinct_vins('T', 7, 50);
        assert_eq!(vins.len(), 50);
        let unique: std::collections::HashSet<_> = vins.iter().collect();
        assert_eq!(unique.len(), 50);
        for v in &vins {
            assert_eq!(
                domain::vin::compute_check_digit(v).map(|c| c.to_string()),
                Some(v[8..9].to_owned()),
                "{v}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_workload_runs_and_is_counted() {
        let opts = ProfileBenchOptions {
            requests_per_round: 20,
            rounds: 1,
            concurrency: 4,
            warmup: 30,
            distinct_vehicles: 10,
        };
        let report = run(&opts).await.expect("bench runs");
        for m in [
            &report.echo,
            &report.warm,
            &report.cold,
            &report.unhedged,
            &report.hedged,
        ] {
            assert_eq!(m.requests, 20, "{}", m.name);
            // The servers' own runtime was measured apart from the client's.
            assert!(
                m.server_cpu_us_per_request > 0.0
                    && m.server_cpu_us_per_request < m.cpu_us_per_request,
                "{m:?}"
            );
        }
        assert!(report.unhedged_connapi_calls >= 20, "{report:?}");
        assert!(report.repeat_connapi_calls >= 1, "{report:?}");
        assert_eq!(report.repeat_queries, 20);
        let text = report.markdown();
        assert!(text.contains("hedged p99 / unhedged p99"), "{text}");
    }
}
