//! `axle bench`: CPU time per request and latency percentiles of a local-only RPC, as a
//! ratio against a trivial echo RPC served by the same server stack in the same process;
//! and the cost of that stack itself, as the ratio of the same echo on Axle's stack to the
//! echo on a bare tonic server (default settings, its own listener, same process).
//!
//! Why a ratio: these machines are shared and noisy; absolute microseconds move with the
//! neighbours, while two workloads measured back to back in one process move together.
//! Rounds alternate (bare echo, Axle echo, target, bare echo, ...) so drift hits every
//! contender alike.
//!
//! CPU time is the whole process's user+system time (`/proc/self/stat`, which reports it in
//! USER_HZ = 100 ticks per second on Linux), so it includes the in-process client; that
//! part is the same for both RPCs and makes the ratio conservative (closer to 1).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use contracts::axle::plate::v1::ParsePlateRequest;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::vin::v1::ValidateVinRequest;
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use serde::Serialize;
use tokio::task::JoinSet;
use tonic::transport::Channel;

/// Options of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub requests_per_round: usize,
    pub rounds: usize,
    pub concurrency: usize,
    pub warmup: usize,
}

/// The trivial baseline: the same server stack, a handler that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<EchoResponse>, tonic::Status> {
        Ok(tonic::Response::new(EchoResponse {
            payload: request.into_inner().payload,
        }))
    }
}

#[derive(Debug, Serialize)]
pub struct Measurement {
    pub name: String,
    pub requests: usize,
    pub cpu_us_per_request: f64,
    /// CPU of the server runtime's threads alone, where the benchmark runs the servers on
    /// a runtime of their own ([`SERVER_THREADS`]); 0 otherwise.
    pub server_cpu_us_per_request: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub throughput_rps: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// Echo on a bare tonic server with default settings.
    pub bare: Measurement,
    /// Echo on Axle's server stack (tracing, metrics, wire errors, shedding, deadlines).
    pub baseline: Measurement,
    /// The RPC under test on Axle's stack, unless only the stack was measured.
    pub target: Option<Measurement>,
    /// Axle's Echo relative to bare tonic's: what the stack costs.
    pub stack: Ratios,
    /// The RPC under test relative to Axle's Echo: what its handler costs.
    pub target_vs_echo: Option<Ratios>,
}

/// A mix that exercises every branch of the decoder: valid VINs of several regions
/// (check digit mandatory and matching; European and Japanese with position 9 not used),
/// a Chinese VIN whose mandatory check digit is wrong, a look-alike-letter typo with a
/// suggested fix, and spaced, dashed, lower-case input.
const VINS: &[&str] = &[
    "WP0AA2978BL012976",
    "1HGCM82633A004352",
    "LSVAG2187E2100010",
    "JTDKB20U093500327",
    "WBA3A5C51CF256651",
    "WPOAA2978BL012976",
    "  lsv-ag218 0e2100010 ",
    "VF1RFB00X56789012",
];

/// Plates of every format, with separators and a look-alike letter, so every branch of the
/// parser is in the mix.
const PLATES: &[&str] = &[
    "粤B12345",
    "京AD12345",
    "沪A12345D",
    "川A1234学",
    " 浙b·O2345 ",
    "粤Z1234港",
    "WJ粤12345",
    "使014578",
];

/// What to measure. Every run also measures the server stack itself: the same Echo on
/// Axle's stack and on a bare tonic server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Only the stack: Axle's Echo against bare tonic's Echo.
    Stack,
    ValidateVin,
    ParsePlate,
}

impl Target {
    fn name(self) -> Option<&'static str> {
        match self {
            Target::Stack => None,
            Target::ValidateVin => Some("ValidateVin"),
            Target::ParsePlate => Some("ParsePlate"),
        }
    }
}

/// Cost of one thing relative to another, measured in the same rounds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ratios {
    pub cpu: f64,
    pub p50: f64,
    pub p99: f64,
}

impl Ratios {
    pub(crate) fn of(measured: &Measurement, against: &Measurement) -> Self {
        Self {
            cpu: measured.cpu_us_per_request / against.cpu_us_per_request,
            p50: measured.p50_us / against.p50_us,
            p99: measured.p99_us / against.p99_us,
        }
    }

    /// The same, with the CPU of the servers alone.
    pub(crate) fn of_servers(measured: &Measurement, against: &Measurement) -> Self {
        Self {
            cpu: measured.server_cpu_us_per_request / against.server_cpu_us_per_request,
            ..Self::of(measured, against)
        }
    }
}

/// The bare contender: tonic's `Server::builder()` with its defaults, the same Echo, on its
/// own listener (bound as `Server::serve` binds, with TCP_NODELAY).
fn start_bare_tonic(
    stop: kit::server::Shutdown,
) -> anyhow::Result<(
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
)> {
    let incoming = tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into())
        .map_err(|e| anyhow::anyhow!("binding the bare tonic server: {e}"))?
        .with_nodelay(Some(true));
    let addr = incoming
        .local_addr()
        .context("address of the bare tonic server")?;
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(EchoServiceServer::new(Echo))
            .serve_with_incoming_shutdown(incoming, async move { stop.triggered().await }),
    );
    Ok((addr, task))
}

pub(crate) async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Channel> {
    Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to the in-process server at {addr}"))
}

pub async fn run(opts: &BenchOptions, target: Target) -> anyhow::Result<Report> {
    let shutdown = kit::server::Shutdown::new();
    let mut cfg = vin_service::config::VinServiceConfig::default();
    cfg.server.listen = ([127, 0, 0, 1], 0).into();
    cfg.server.metrics_listen = None;
    // The benchmark measures the local path only: no vendor is configured.
    cfg.vendors.connapi.enabled = false;
    let metrics = kit::metrics::Metrics::new();
    let mut plate_cfg = plate_service::config::PlateServiceConfig::default();
    plate_cfg.vendors.xiaoshibao.enabled = false;
    plate_cfg.vendors.platecb.enabled = false;
    let routes = vin_service::routes(&cfg, &metrics)?
        .add_service(plate_service::server(&plate_cfg, &metrics, &shutdown).await?)
        .add_service(EchoServiceServer::new(Echo));
    let server = kit::server::start(
        kit::server::ServerOptions {
            config: cfg.server.clone(),
            service_names: vec![
                vin_service::SERVICE_NAME,
                plate_service::SERVICE_NAME,
                "axle.bench.v1.EchoService",
            ],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics,
        },
        routes,
        shutdown.clone(),
    )
    .await
    .context("starting the in-process server")?;
    let (bare_addr, bare_task) = start_bare_tonic(shutdown.clone())?;
    let channel = connect(server.grpc_addr).await?;
    let bare_echo = EchoServiceClient::new(connect(bare_addr).await?);

    let echo = EchoServiceClient::new(channel.clone());
    let vin = VinServiceClient::new(channel.clone());
    let plate = PlateServiceClient::new(channel);
    let drive_target = |n: usize| {
        let (vin, plate) = (vin.clone(), plate.clone());
        async move {
            match target {
                Target::Stack => Ok(Samples::default()),
                Target::ValidateVin => drive_vin(&vin, n, opts.concurrency).await,
                Target::ParsePlate => drive_plate(&plate, n, opts.concurrency).await,
            }
        }
    };

    // Warm up every path (connections, lazy tables, allocator).
    drive_echo(&bare_echo, opts.warmup, opts.concurrency).await?;
    drive_echo(&echo, opts.warmup, opts.concurrency).await?;
    drive_target(opts.warmup).await?;
    callgrind_mark::warmup_done();

    let mut bare_samples = Samples::default();
    let mut axle_samples = Samples::default();
    let mut measured = Samples::default();
    for _ in 0..opts.rounds {
        bare_samples
            .absorb(drive_echo(&bare_echo, opts.requests_per_round, opts.concurrency).await?);
        callgrind_mark::bare_round_done();
        axle_samples.absorb(drive_echo(&echo, opts.requests_per_round, opts.concurrency).await?);
        callgrind_mark::axle_round_done();
        if target != Target::Stack {
            measured.absorb(drive_target(opts.requests_per_round).await?);
            callgrind_mark::target_round_done();
        }
    }
    shutdown.trigger();
    server.wait().await?;
    bare_task
        .await
        .context("bare tonic server task")?
        .context("bare tonic server")?;

    let bare = bare_samples.summarise("Echo on bare tonic");
    let baseline = axle_samples.summarise("Echo on Axle's stack");
    let target = target.name().map(|name| measured.summarise(name));
    Ok(Report {
        stack: Ratios::of(&baseline, &bare),
        target_vs_echo: target.as_ref().map(|t| Ratios::of(t, &baseline)),
        bare,
        baseline,
        target,
    })
}

/// Functions that do nothing, called at the end of each phase, so that
/// `valgrind --tool=callgrind --dump-before='*callgrind_mark*'` writes one profile per
/// phase and instructions per request can be read per contender (docs/perf.md).
mod callgrind_mark {
    #[inline(never)]
    pub fn warmup_done() {
        std::hint::black_box(0_u8);
    }
    #[inline(never)]
    pub fn bare_round_done() {
        std::hint::black_box(1_u8);
    }
    #[inline(never)]
    pub fn axle_round_done() {
        std::hint::black_box(2_u8);
    }
    #[inline(never)]
    pub fn target_round_done() {
        std::hint::black_box(3_u8);
    }
}

#[derive(Debug, Default)]
pub(crate) struct Samples {
    latencies: Vec<Duration>,
    cpu: Duration,
    server_cpu: Duration,
    wall: Duration,
}

/// Name prefix of the threads of a benchmark's server runtime: their CPU is the servers'
/// alone, without the client's (which decodes every answer in the same process).
pub(crate) const SERVER_THREADS: &str = "axle-bench-srv";

impl Samples {
    pub(crate) fn absorb(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.cpu += other.cpu;
        self.server_cpu += other.server_cpu;
        self.wall += other.wall;
    }

    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn summarise(mut self, name: &str) -> Measurement {
        self.latencies.sort_unstable();
        let n = self.latencies.len().max(1);
        let pct = |p: f64| -> f64 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let idx = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            self.latencies
                .get(idx)
                .map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Measurement {
            name: name.to_owned(),
            requests: self.latencies.len(),
            cpu_us_per_request: self.cpu.as_secs_f64() * 1e6 / n as f64,
            server_cpu_us_per_request: self.server_cpu.as_secs_f64() * 1e6 / n as f64,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            throughput_rps: n as f64 / self.wall.as_secs_f64().max(1e-9),
        }
    }
}

pub(crate) async fn drive_echo(
    client: &EchoServiceClient<Channel>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Samples> {
    drive(total, concurrency, |i| {
        let mut c = client.clone();
        // Same payload size as a VIN, so the only difference is the handler.
        let payload = VINS[i % VINS.len()].to_owned();
        async move { c.echo(EchoRequest { payload }).await.map(|_| ()) }
    })
    .await
}

async fn drive_vin(
    client: &VinServiceClient<Channel>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Samples> {
    drive(total, concurrency, |i| {
        let mut c = client.clone();
        let vin = VINS[i % VINS.len()].to_owned();
        async move { c.validate_vin(ValidateVinRequest { vin }).await.map(|_| ()) }
    })
    .await
}

async fn drive_plate(
    client: &PlateServiceClient<Channel>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Samples> {
    drive(total, concurrency, |i| {
        let mut c = client.clone();
        let plate = PLATES[i % PLATES.len()].to_owned();
        async move {
            c.parse_plate(ParsePlateRequest { plate, color: 0 })
                .await
                .map(|_| ())
        }
    })
    .await
}

/// Runs `total` calls with at most `concurrency` in flight; bounded, so it always ends.
pub(crate) async fn drive<F, Fut>(
    total: usize,
    concurrency: usize,
    call: F,
) -> anyhow::Result<Samples>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let cpu_start = crate::procfs::self_cpu()?;
    let server_cpu_start = crate::procfs::threads_cpu(SERVER_THREADS)?;
    let wall_start = Instant::now();
    let mut latencies = Vec::with_capacity(total);
    let mut in_flight = JoinSet::new();
    let mut next = 0;
    while next < total || !in_flight.is_empty() {
        while next < total && in_flight.len() < concurrency.max(1) {
            let fut = call(next);
            in_flight.spawn(async move {
                let t = Instant::now();
                fut.await.map(|()| t.elapsed())
            });
            next += 1;
        }
        if let Some(done) = in_flight.join_next().await {
            latencies.push(done.context("benchmark task panicked")??);
        }
    }
    Ok(Samples {
        latencies,
        cpu: crate::procfs::self_cpu()?.saturating_sub(cpu_start),
        server_cpu: crate::procfs::threads_cpu(SERVER_THREADS)?.saturating_sub(server_cpu_start),
        wall: wall_start.elapsed(),
    })
}

impl Report {
    /// Markdown table for docs/perf.md.
    pub fn markdown(&self) -> String {
        let row = |m: &Measurement| {
            format!(
                "| {} | {} | {:.1} | {:.0} | {:.0} | {:.0} |\n",
                m.name, m.requests, m.cpu_us_per_request, m.p50_us, m.p99_us, m.throughput_rps
            )
        };
        let mut out = String::from(
            "| RPC | requests | CPU µs/req | p50 µs | p99 µs | req/s |\n|---|---|---|---|---|---|\n",
        );
        out.push_str(&row(&self.bare));
        out.push_str(&row(&self.baseline));
        if let Some(t) = &self.target {
            out.push_str(&row(t));
        }
        let ratios = |what: &str, r: &Ratios| {
            format!(
                "\n{what}: CPU **{:.2}x**, p50 **{:.2}x**, p99 **{:.2}x**\n",
                r.cpu, r.p50, r.p99
            )
        };
        out.push_str(&ratios("Axle's stack / bare tonic (Echo)", &self.stack));
        if let (Some(t), Some(r)) = (&self.target, &self.target_vs_echo) {
            out.push_str(&ratios(&format!("{} / Echo on Axle's stack", t.name), r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_contender_is_driven_in_every_round_and_reported() {
        let opts = BenchOptions {
            requests_per_round: 20,
            rounds: 2,
            concurrency: 4,
            warmup: 10,
        };
        let report = run(&opts, Target::ValidateVin).await.expect("bench runs");
        assert_eq!(report.bare.requests, 40);
        assert_eq!(report.baseline.requests, 40);
        assert_eq!(report.target.as_ref().map(|t| t.requests), Some(40));
        let text = report.markdown();
        assert!(text.contains("Echo on bare tonic"), "{text}");
        assert!(text.contains("Axle's stack / bare tonic"), "{text}");
        assert!(
            text.contains("ValidateVin / Echo on Axle's stack"),
            "{text}"
        );

        let stack_only = run(&opts, Target::Stack).await.expect("bench runs");
        assert!(stack_only.target.is_none() && stack_only.target_vs_echo.is_none());
    }
}
