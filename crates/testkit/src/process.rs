//! A service binary as Kubernetes runs it: a child process configured by `AXLE_*`
//! variables only, on loopback ports, stopped by a real signal (SIGTERM for a drain,
//! SIGKILL for a crash), its log in a file the test reads afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How to start one service process.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The binary (`env!("CARGO_BIN_EXE_<name>")` in the service's tests).
    pub bin: PathBuf,
    /// The health service that must say SERVING before the process counts as ready.
    pub health_service: String,
    /// Its settings, as `AXLE_*` variables (and `RUST_LOG`). The gRPC listener is chosen
    /// here (`AXLE_SERVER__LISTEN`) and `/metrics` is off unless this says otherwise.
    pub env: Vec<(String, String)>,
    /// More loopback ports that must accept connections before the process counts as
    /// ready (a webhook).
    pub ready_ports: Vec<u16>,
    /// Names the log file (`<temp>/axle-<tag>-<pid>-<n>.log`).
    pub tag: String,
}

/// Where a service that answers through a callback vendor (plate-service's platecb,
/// violation-service's apistore) keeps its store.
#[derive(Debug, Clone)]
pub enum StoreAt {
    Sqlite(PathBuf),
    /// A PostgreSQL URL (the test's schema selected through its `options`).
    Postgres(String),
}

/// Such a service as a binary: the settings that point its vendors at the sandbox, its
/// callback store and its webhook.
#[derive(Debug, Clone, Copy)]
pub struct CallbackService {
    /// `env!("CARGO_BIN_EXE_<name>")`.
    pub bin: &'static str,
    pub health_service: &'static str,
    /// The callback vendor's `webhook_listen` setting.
    pub webhook_listen: &'static str,
    /// The base URL settings of every vendor it asks: all point at the sandbox.
    pub base_urls: &'static [&'static str],
    pub store_path: &'static str,
    pub store_url: &'static str,
}

/// How to start one such service process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub service: CallbackService,
    /// The sandbox's base URL; every vendor points at it.
    pub sandbox: String,
    pub store: StoreAt,
    /// Fixed by the caller: the callbacks name this port, so a restarted process must
    /// listen on the same one to receive them.
    pub webhook_port: u16,
    /// More settings, as `AXLE_*` variables.
    pub env: Vec<(&'static str, String)>,
    /// Names the log file (`<temp>/axle-<tag>-<pid>-<n>.log`).
    pub tag: &'static str,
}

impl From<&Launch> for Spec {
    fn from(launch: &Launch) -> Self {
        let s = launch.service;
        let mut env = vec![(
            s.webhook_listen.to_owned(),
            format!("127.0.0.1:{}", launch.webhook_port),
        )];
        env.extend(
            s.base_urls
                .iter()
                .map(|k| ((*k).to_owned(), launch.sandbox.clone())),
        );
        env.push(match &launch.store {
            StoreAt::Sqlite(path) => (s.store_path.to_owned(), path.display().to_string()),
            StoreAt::Postgres(url) => (s.store_url.to_owned(), url.clone()),
        });
        env.extend(launch.env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Self {
            bin: s.bin.into(),
            health_service: s.health_service.to_owned(),
            env,
            ready_ports: vec![launch.webhook_port],
            tag: launch.tag.to_owned(),
        }
    }
}

impl StoreAt {
    /// The store itself, as the service opens it (to look at what it kept).
    pub async fn open(&self) -> std::sync::Arc<dyn callback::Store> {
        match self {
            Self::Sqlite(path) => callback::store::open("", path).await,
            Self::Postgres(url) => callback::store::open(url, std::path::Path::new("unused")).await,
        }
        .expect("the store opens")
    }
}

/// A claim policy that never takes a live claim over: a test's probe claim looks at the
/// key's claim without changing it.
pub fn hold_everything() -> callback::ClaimPolicy {
    let hour = Duration::from_secs(3600);
    callback::ClaimPolicy {
        submit_window: hour,
        accepted_ttl: hour,
        unclear_resubmit_after: hour,
    }
}

/// A running child process; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    pub grpc: SocketAddr,
    pub log: PathBuf,
    health_service: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running after the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts the binary and waits (bounded) until its health says SERVING and every
    /// one of `ready_ports` accepts connections. `n` tells the log files of one test's
    /// processes apart.
    pub async fn start(spec: impl Into<Spec>, n: u32) -> Self {
        let spec = spec.into();
        let grpc: SocketAddr = ([127, 0, 0, 1], crate::free_port()).into();
        let log =
            std::env::temp_dir().join(format!("axle-{}-{}-{n}.log", spec.tag, std::process::id()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(&spec.bin);
        // The test runner's own AXLE_* variables (AXLE_TEST_POSTGRES_URL ...) would be
        // unknown configuration keys to the binary.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AXLE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AXLE_SERVER__LISTEN", grpc.to_string())
            .env("AXLE_SERVER__METRICS_LISTEN", "off")
            .env("RUST_LOG", "info,axle::access=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", spec.bin.display()));
        let p = Self {
            child,
            grpc,
            log,
            health_service: spec.health_service.clone(),
        };
        p.wait_ready(&spec.ready_ports).await;
        p
    }

    async fn wait_ready(&self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.health().await == Some(ServingStatus::Serving) && ports_accept(ports).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within 30 s; its log:\n{}",
                self.health_service,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One health check on a fresh connection; `None` when it cannot be asked.
    pub async fn health(&self) -> Option<ServingStatus> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc))
            .expect("uri")
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(2))
            .connect()
            .await
            .ok()?;
        let r = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: self.health_service.clone(),
            })
            .await
            .ok()?;
        ServingStatus::try_from(r.into_inner().status).ok()
    }

    /// Sends SIGTERM, as the kubelet does to stop a pod.
    pub fn sigterm(&self) {
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        )
        .expect("SIGTERM sent");
    }

    /// SIGKILL: no destructor, no flush, no drain; reaped before returning.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// The exit status once the process has ended, or `None` if it is still running
    /// after `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Removes the log once the test has passed (a failing test leaves it to read).
    pub fn remove_log(&self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

async fn ports_accept(ports: &[u16]) -> bool {
    for port in ports {
        if tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}
