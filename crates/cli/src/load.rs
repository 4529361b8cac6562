//! `axle bench load`: a load generator against any running suite.
//!
//! * **Open loop** (`--rate R`): request i is due at `start + i / R`, whatever happened to
//!   the ones before, and its latency is measured from that due time, not from when the
//!   generator got round to sending it. A server that stalls therefore shows its stall in
//!   every request that should have been sent meanwhile (no coordinated omission).
//! * **Closed loop** (`--concurrency C`): C callers, each sending its next request when the
//!   previous one answered: the throughput the server sustains at that concurrency.
//!
//! Latencies go into an HDR histogram (3 significant digits, 1 µs to 1 h), errors are
//! counted by gRPC status code, and the server process (`--server-pid`) is sampled once a
//! second for CPU time, RSS, open descriptors and threads, so that a soak run can show
//! whether memory and descriptors stay flat. Every run is bounded by `--duration` (and,
//! open loop, by `--max-in-flight`: a request that would exceed it is counted as not sent,
//! with the latency it would have had at least, so the generator's own limit does not hide
//! a stalled server either).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use contracts::axle::aggregator::v1::GetVehicleProfileRequest;
use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{LicenseImage, license_image};
use contracts::axle::plate::v1::ParsePlateRequest;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::vin::v1::ValidateVinRequest;
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::procfs;
use tonic::transport::Channel;

/// The RPC under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rpc {
    /// vin-service ValidateVin (local, free).
    ValidateVin,
    /// plate-service ParsePlate (local, free).
    ParsePlate,
    /// aggregator GetVehicleProfile by VIN.
    ProfileVin,
    /// aggregator GetVehicleProfile by plate.
    ProfilePlate,
    /// aggregator GetVehicleProfile by 行驶证 photo (`--photos DIR`): ocr-service reads
    /// it, then the plate and VIN it shows are asked about.
    ProfilePhoto,
}

impl Rpc {
    /// `axle up`'s port of the service that answers it.
    pub fn default_port(self) -> u16 {
        match self {
            Rpc::ValidateVin => 50051,
            Rpc::ParsePlate => 50052,
            Rpc::ProfileVin | Rpc::ProfilePlate | Rpc::ProfilePhoto => 50050,
        }
    }
}

/// Licence photos for [`Rpc::ProfilePhoto`], sent in turn (request `i` gets photo
/// `i % len`). Cheap to clone.
#[derive(Clone, Default)]
pub struct Photos(Arc<[Vec<u8>]>);

impl std::fmt::Debug for Photos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photos({} photos)", self.0.len())
    }
}

impl Photos {
    pub fn new(photos: Vec<Vec<u8>>) -> Self {
        Self(photos.into())
    }

    /// Every `.jpg`, `.jpeg` and `.png` file in `dir` (not its subdirectories), in name
    /// order, so that runs with the same directory send the same photos in the same order.
    pub fn from_dir(dir: &std::path::Path) -> anyhow::Result<Self> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the photo directory {}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
                    })
            })
            .collect();
        files.sort();
        anyhow::ensure!(
            !files.is_empty(),
            "no .jpg, .jpeg or .png file in {}",
            dir.display()
        );
        let photos = files
            .iter()
            .map(|f| std::fs::read(f).with_context(|| format!("cannot read {}", f.display())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self::new(photos))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, i: usize) -> Vec<u8> {
        self.0
            .get(i % self.0.len().max(1))
            .cloned()
            .unwrap_or_default()
    }
}

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// A fixed rate (requests per second), latency from each request's due time.
    Open { rate: f64, max_in_flight: usize },
    /// A fixed number of callers, each waiting for its answer.
    Closed { concurrency: usize },
}

/// One run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub rpc: Rpc,
    pub endpoint: String,
    pub mode: Mode,
    pub duration: Duration,
    /// Deadline of each call (grpc-timeout).
    pub timeout: Duration,
    /// How many different subjects the requests cycle through (1: every request the
    /// same, which a cache answers; many: mostly cold).
    pub distinct: usize,
    pub server_pid: Option<u32>,
    /// The photos [`Rpc::ProfilePhoto`] sends (required for it, unused otherwise).
    pub photos: Photos,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// What the server process did during the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerUsage {
    pub pid: u32,
    pub cpu_seconds: f64,
    pub cpu_us_per_request: f64,
    pub rss_kib_first: u64,
    pub rss_kib_max: u64,
    pub rss_kib_last: u64,
    pub fds_first: u64,
    pub fds_last: u64,
    pub threads_first: u64,
    pub threads_last: u64,
    /// One sample a second: (seconds since start, RSS KiB, open descriptors, threads).
    pub samples: Vec<(f64, u64, u64, u64)>,
}

/// The report of one run (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub rpc: Rpc,
    pub mode: String,
    pub target_rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub duration_s: f64,
    pub sent: u64,
    pub ok: u64,
    /// By gRPC status code name (and `NOT_SENT` for open-loop requests the in-flight
    /// limit held back).
    pub errors: BTreeMap<String, u64>,
    pub achieved_rps: f64,
    pub latency_us: Percentiles,
    pub server: Option<ServerUsage>,
}

/// Subjects for the requests: `distinct` different ones, valid by the local rules, the
/// same for the same index on every run.
#[derive(Debug, Clone)]
pub struct Subjects {
    distinct: usize,
    /// Every (province, issuing letter) pair issuing ordinary plates, from the plate
    /// tables.
    authorities: Vec<(char, char)>,
    photos: Photos,
}

/// Real WMI + VDS stems with a model year and plant code of vehicles sold in China
/// (Chinese makers, joint ventures, imports), so that ValidateVin walks its tables as real
/// traffic would.
const VIN_STEMS: &[(&str, &str)] = &[
    ("LFV2A21K", "A4"), // FAW-Volkswagen, 2010
    ("LSVAG218", "E2"), // SAIC Volkswagen, 2014
    ("LSGPC52U", "A1"), // SAIC-GM, 2010
    ("LGBH52E0", "H1"), // Dongfeng Nissan, 2017
    ("LVSHCFAE", "F1"), // Changan Ford, 2015
    ("LHGCR265", "J0"), // GAC Honda, 2018
    ("LBVNU790", "J1"), // BMW Brilliance, 2018
    ("LNBSCC3H", "GF"), // BAIC, 2016
    ("WVWZZZ3C", "8E"), // Volkswagen (Germany), 2008
    ("JTDKB20U", "93"), // Toyota (Japan), 2009
    ("1HGCM826", "3A"), // Honda (USA), 2003
    ("WBA3A5C5", "CF"), // BMW (Germany), 2012
];

impl Subjects {
    pub fn new(distinct: usize) -> Self {
        let authorities = domain::plate::provinces()
            .iter()
            .flat_map(|p| ('A'..='Z').map(move |l| (p.abbreviation, l)))
            .filter(|&(p, l)| domain::plate::authority_of(p, l).is_some())
            // Only authorities that issue ordinary plates (粤Z issues cross-border ones).
            .filter(|&(p, l)| domain::plate::parse(&format!("{p}{l}12345"), None).valid)
            .collect();
        Self {
            distinct: distinct.max(1),
            authorities,
            photos: Photos::default(),
        }
    }

    /// The photos of [`Rpc::ProfilePhoto`] requests.
    #[must_use]
    pub fn with_photos(mut self, photos: Photos) -> Self {
        self.photos = photos;
        self
    }

    /// The `i`-th VIN: a real stem, year and plant, the serial from `i`, the check digit
    /// computed.
    pub fn vin(&self, i: usize) -> String {
        let k = i % self.distinct;
        let (stem, year_plant) = VIN_STEMS[k % VIN_STEMS.len()];
        let serial = (k / VIN_STEMS.len()) % 1_000_000;
        let draft = format!("{stem}0{year_plant}{serial:06}");
        let check = domain::vin::compute_check_digit(&draft).unwrap_or('0');
        format!("{stem}{check}{year_plant}{serial:06}")
    }

    /// The `i`-th plate: an ordinary 7-character plate of an issuing authority in use
    /// (every province and city in turn), five of digits and letters (no I or O) after it.
    pub fn plate(&self, i: usize) -> String {
        const ALNUM: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let k = i % self.distinct;
        let (province, letter) = self
            .authorities
            .get(k % self.authorities.len().max(1))
            .copied()
            .unwrap_or(('粤', 'B'));
        let mut n = k / self.authorities.len().max(1);
        let mut tail = [b'0'; 5];
        for slot in tail.iter_mut().rev() {
            *slot = ALNUM[n % 10];
            n /= 10;
        }
        // One letter in the tail for every other index, as real plates mix them.
        if k % 2 == 1 {
            tail[2] = ALNUM[10 + (k / 2) % (ALNUM.len() - 10)];
        }
        format!("{province}{letter}{}", String::from_utf8_lossy(&tail))
    }
}

/// When request `i` is due, open loop.
pub fn due(start: Instant, rate: f64, i: u64) -> Instant {
    #[allow(clippy::cast_precision_loss)]
    let offset = i as f64 / rate;
    start + Duration::from_secs_f64(offset)
}

/// What the callers record.
struct Tally {
    histogram: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            // 1 µs .. 1 h, 3 significant digits.
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .context("latency histogram")?,
            ok: 0,
            errors: BTreeMap::new(),
        })
    }

    fn record(&mut self, latency: Duration, outcome: Result<(), &'static str>) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.histogram.saturating_record(us);
        match outcome {
            Ok(()) => self.ok += 1,
            Err(code) => *self.errors.entry(code.to_owned()).or_default() += 1,
        }
    }

    fn percentiles(&self) -> Percentiles {
        let h = &self.histogram;
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// The clients, one channel (HTTP/2 multiplexes the calls).
#[derive(Clone)]
enum Caller {
    Vin(VinServiceClient<Channel>),
    Plate(PlateServiceClient<Channel>),
    Aggregator(AggregatorServiceClient<Channel>),
}

impl Caller {
    async fn call(
        &mut self,
        rpc: Rpc,
        subjects: &Subjects,
        i: usize,
        timeout: Duration,
    ) -> Result<(), tonic::Code> {
        let result = match self {
            Caller::Vin(c) => {
                let mut r = tonic::Request::new(ValidateVinRequest {
                    vin: subjects.vin(i),
                });
                r.set_timeout(timeout);
                c.validate_vin(r).await.map(drop)
            }
            Caller::Plate(c) => {
                let mut r = tonic::Request::new(ParsePlateRequest {
                    plate: subjects.plate(i),
                    color: 0,
                });
                r.set_timeout(timeout);
                c.parse_plate(r).await.map(drop)
            }
            Caller::Aggregator(c) => {
                let subject = match rpc {
                    Rpc::ProfilePlate => Subject::Plate(subjects.plate(i)),
                    Rpc::ProfilePhoto => Subject::LicenseImage(LicenseImage {
                        source: Some(license_image::Source::Image(subjects.photos.get(i))),
                        ..LicenseImage::default()
                    }),
                    _ => Subject::Vin(subjects.vin(i)),
                };
                let mut r = tonic::Request::new(GetVehicleProfileRequest {
                    subject: Some(subject),
                    ..GetVehicleProfileRequest::default()
                });
                r.set_timeout(timeout);
                // Boxed: the response is large.
                Box::pin(c.get_vehicle_profile(r)).await.map(drop)
            }
        };
        result.map_err(|s| s.code())
    }
}

/// Runs the load and reports.
pub async fn run(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        opts.duration > Duration::ZERO && opts.duration <= Duration::from_secs(3600),
        "--duration must be between 1ms and 1h"
    );
    let channel = Channel::from_shared(opts.endpoint.clone())
        .with_context(|| format!("{} is not an endpoint URI", opts.endpoint))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", opts.endpoint))?;
    let caller = match opts.rpc {
        Rpc::ValidateVin => Caller::Vin(VinServiceClient::new(channel)),
        Rpc::ParsePlate => Caller::Plate(PlateServiceClient::new(channel)),
        Rpc::ProfileVin | Rpc::ProfilePlate | Rpc::ProfilePhoto => Caller::Aggregator(
            AggregatorServiceClient::new(channel).max_decoding_message_size(16 << 20),
        ),
    };
    anyhow::ensure!(
        opts.rpc != Rpc::ProfilePhoto || !opts.photos.is_empty(),
        "--rpc profile-photo sends licence photos: give a directory of them with --photos"
    );
    let subjects = Arc::new(Subjects::new(opts.distinct).with_photos(opts.photos.clone()));
    let tally = Arc::new(Mutex::new(Tally::new()?));
    let sampler = opts
        .server_pid
        .map(|pid| Sampler::start(pid, opts.duration));
    let started = Instant::now();
    let sent = match opts.mode {
        Mode::Open {
            rate,
            max_in_flight,
        } => open_loop(opts, rate, max_in_flight, &caller, &subjects, &tally).await,
        Mode::Closed { concurrency } => {
            closed_loop(opts, concurrency, &caller, &subjects, &tally).await
        }
    };
    let wall = started.elapsed();
    let server = match sampler {
        Some(s) => Some(s.finish(sent).await?),
        None => None,
    };
    let t = tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    #[allow(clippy::cast_precision_loss)]
    let achieved_rps = (t.ok + t.errors.values().sum::<u64>()) as f64 / wall.as_secs_f64();
    Ok(LoadReport {
        rpc: opts.rpc,
        mode: match opts.mode {
            Mode::Open { .. } => "open".to_owned(),
            Mode::Closed { .. } => "closed".to_owned(),
        },
        target_rate: match opts.mode {
            Mode::Open { rate, .. } => Some(rate),
            Mode::Closed { .. } => None,
        },
        concurrency: match opts.mode {
            Mode::Closed { concurrency } => Some(concurrency),
            Mode::Open { .. } => None,
        },
        duration_s: wall.as_secs_f64(),
        sent,
        ok: t.ok,
        errors: t.errors.clone(),
        achieved_rps,
        latency_us: t.percentiles(),
        server,
    })
}

async fn open_loop(
    opts: &LoadOptions,
    rate: f64,
    max_in_flight: usize,
    caller: &Caller,
    subjects: &Arc<Subjects>,
    tally: &Arc<Mutex<Tally>>,
) -> u64 {
    let start = Instant::now();
    let end = start + opts.duration;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut i: u64 = 0;
    loop {
        let at = due(start, rate, i);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            // Held back by the generator's own limit: counted, never silently skipped.
            tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(at.elapsed(), Err("NOT_SENT"));
            i += 1;
            continue;
        };
        let mut c = caller.clone();
        let (rpc, timeout, subjects, tally) =
            (opts.rpc, opts.timeout, subjects.clone(), tally.clone());
        let index = usize::try_from(i).unwrap_or(usize::MAX);
        tasks.spawn(async move {
            let outcome = c.call(rpc, &subjects, index, timeout).await;
            // From the due time: a late send is the server's (or the machine's) delay too.
            let latency = at.elapsed();
            tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(
                    latency,
                    outcome.map_err(kit::client::source_status::code_name),
                );
            drop(permit);
        });
        // Reap finished tasks as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
        i += 1;
    }
    while tasks.join_next().await.is_some() {}
    i
}

async fn closed_loop(
    opts: &LoadOptions,
    concurrency: usize,
    caller: &Caller,
    subjects: &Arc<Subjects>,
    tally: &Arc<Mutex<Tally>>,
) -> u64 {
    let end = Instant::now() + opts.duration;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let mut c = caller.clone();
        let (rpc, timeout, subjects, tally, next) = (
            opts.rpc,
            opts.timeout,
            subjects.clone(),
            tally.clone(),
            next.clone(),
        );
        workers.spawn(async move {
            while Instant::now() < end {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let index = usize::try_from(i).unwrap_or(usize::MAX);
                let t = Instant::now();
                let outcome = c.call(rpc, &subjects, index, timeout).await;
                tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .record(
                        t.elapsed(),
                        outcome.map_err(kit::client::source_status::code_name),
                    );
            }
        });
    }
    while workers.join_next().await.is_some() {}
    next.load(std::sync::atomic::Ordering::Relaxed)
}

/// Samples the server once a second while the load runs.
struct Sampler {
    pid: u32,
    first: anyhow::Result<procfs::ProcSample>,
    task: tokio::task::JoinHandle<Vec<(f64, procfs::ProcSample)>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Sampler {
    fn start(pid: u32, bound: Duration) -> Self {
        let first = procfs::read(pid);
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut out = Vec::new();
            // Bounded by the run's duration (plus the drain), whatever happens.
            while start.elapsed() < bound + Duration::from_secs(120) {
                if let Ok(s) = procfs::read(pid) {
                    out.push((start.elapsed().as_secs_f64(), s));
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => break,
                }
            }
            out
        });
        Self {
            pid,
            first,
            task,
            stop,
        }
    }

    async fn finish(self, requests: u64) -> anyhow::Result<ServerUsage> {
        let first = self.first?;
        let _ = self.stop.send(true);
        let samples = self.task.await.context("sampler task")?;
        let last = procfs::read(self.pid).unwrap_or(first);
        let cpu = last.cpu.saturating_sub(first.cpu).as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let per = if requests == 0 {
            0.0
        } else {
            cpu * 1e6 / requests as f64
        };
        Ok(ServerUsage {
            pid: self.pid,
            cpu_seconds: cpu,
            cpu_us_per_request: per,
            rss_kib_first: first.rss_kib,
            rss_kib_max: samples
                .iter()
                .map(|(_, s)| s.rss_kib)
                .chain([first.rss_kib, last.rss_kib])
                .max()
                .unwrap_or(0),
            rss_kib_last: last.rss_kib,
            fds_first: first.fds,
            fds_last: last.fds,
            threads_first: first.threads,
            threads_last: last.threads,
            samples: samples
                .iter()
                .map(|(t, s)| (*t, s.rss_kib, s.fds, s.threads))
                .collect(),
        })
    }
}

impl LoadReport {
    /// A few lines for a person.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let how = match (self.target_rate, self.concurrency) {
            (Some(r), _) => format!("open loop at {r} req/s"),
            (_, Some(c)) => format!("closed loop, {c} callers"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:?} {how} for {:.1} s: {} sent, {} ok, {:.0} req/s",
            self.rpc, self.duration_s, self.sent, self.ok, self.achieved_rps
        );
        let l = &self.latency_us;
        let _ = writeln!(
            out,
            "latency µs: p50 {} p90 {} p99 {} p99.9 {} max {} (mean {:.0})",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        );
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(out, "errors: {}", list.join(", "));
        }
        if let Some(s) = &self.server {
            let _ = writeln!(
                out,
                "server {}: {:.2} s CPU ({:.1} µs/request), RSS {} → {} KiB (max {}), fds {} → {}, threads {} → {}",
                s.pid,
                s.cpu_seconds,
                s.cpu_us_per_request,
                s.rss_kib_first,
                s.rss_kib_last,
                s.rss_kib_max,
                s.fds_first,
                s.fds_last,
                s.threads_first,
                s.threads_last
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_requests_are_due_on_a_fixed_grid() {
        let t0 = Instant::now();
        assert_eq!(due(t0, 100.0, 0), t0);
        assert_eq!(due(t0, 100.0, 50), t0 + Duration::from_millis(500));
        assert_eq!(due(t0, 0.5, 3), t0 + Duration::from_secs(6));
    }

    #[test]
    fn every_generated_vin_passes_the_local_rules() {
        let s = Subjects::new(5000);
        let mut seen = std::collections::HashSet::new();
        for i in 0..5000 {
            let vin = s.vin(i);
            assert_eq!(vin.len(), 17, "{vin}");
            let report = domain::vin::validate(&vin, 2026);
            assert!(report.valid, "{vin}: {:?}", report.problems);
            seen.insert(vin);
        }
        assert_eq!(seen.len(), 5000, "distinct subjects are distinct");
        assert_eq!(s.vin(5000), s.vin(0), "and cycle");
    }

    #[test]
    fn every_generated_plate_parses() {
        let s = Subjects::new(3000);
        let mut seen = std::collections::HashSet::new();
        for i in 0..3000 {
            let plate = s.plate(i);
            let report = domain::plate::parse(&plate, None);
            assert!(report.valid, "{plate}: {:?}", report.problems);
            seen.insert(plate);
        }
        assert_eq!(seen.len(), 3000);
    }

    #[test]
    fn a_request_held_back_still_counts_with_its_wait() {
        let mut t = Tally::new().expect("histogram");
        t.record(Duration::from_millis(2), Ok(()));
        t.record(Duration::from_secs(3), Err("NOT_SENT"));
        assert_eq!(t.ok, 1);
        assert_eq!(t.errors.get("NOT_SENT"), Some(&1));
        let p = t.percentiles();
        assert!(p.max >= 2_999_000, "{p:?}");
    }
}
