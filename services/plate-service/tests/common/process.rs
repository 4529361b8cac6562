//! The plate-service binary as Kubernetes runs it: a child process configured by `AXLE_*`
//! variables only, on loopback ports, stopped by a real signal (SIGTERM for a drain,
//! SIGKILL for a crash), its log in a file the test reads afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::free_port;

/// Where platecb's callback store lives.
#[derive(Debug, Clone)]
pub enum StoreAt {
    Sqlite(PathBuf),
    /// A PostgreSQL URL (the test's schema selected through its `options`).
    Postgres(String),
}

/// How to start one plate-service process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The sandbox's base URL; both vendors point at it.
    pub sandbox: String,
    pub store: StoreAt,
    /// Fixed by the caller: platecb's callbacks name this port, so a restarted process
    /// must listen on the same one to receive them.
    pub webhook_port: u16,
    /// More settings, as `AXLE_*` variables.
    pub env: Vec<(&'static str, String)>,
    /// Names the log file (`<temp>/axle-<tag>-<pid>-<n>.log`).
    pub tag: &'static str,
}

pub struct Process {
    child: Child,
    pub grpc: SocketAddr,
    pub log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running after the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts the binary and waits (bounded) until its health says SERVING and the
    /// webhook accepts connections.
    pub async fn start(launch: &Launch, n: u32) -> Self {
        let grpc: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = std::env::temp_dir().join(format!(
            "axle-{}-{}-{n}.log",
            launch.tag,
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plate-service"));
        // The test runner's own AXLE_* variables (AXLE_TEST_POSTGRES_URL ...) would be
        // unknown configuration keys to the binary.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AXLE_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AXLE_SERVER__LISTEN", grpc.to_string())
            .env("AXLE_SERVER__METRICS_LISTEN", "off")
            .env(
                "AXLE_VENDORS__PLATECB__WEBHOOK_LISTEN",
                format!("127.0.0.1:{}", launch.webhook_port),
            )
            .env("AXLE_VENDORS__PLATECB__HTTP__BASE_URL", &launch.sandbox)
            .env("AXLE_VENDORS__XIAOSHIBAO__HTTP__BASE_URL", &launch.sandbox)
            .env("RUST_LOG", "info,axle::access=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        match &launch.store {
            StoreAt::Sqlite(path) => cmd.env("AXLE_VENDORS__PLATECB__STORE_PATH", path),
            StoreAt::Postgres(url) => cmd.env("AXLE_VENDORS__PLATECB__STORE_URL", url),
        };
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the plate-service binary starts");
        let p = Self { child, grpc, log };
        p.wait_ready(launch.webhook_port).await;
        p
    }

    async fn wait_ready(&self, webhook_port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.health().await == Some(ServingStatus::Serving)
                && tokio::net::TcpStream::connect(("127.0.0.1", webhook_port))
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "plate-service not ready within 30 s; its log:\n{}",
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
                service: plate_service::SERVICE_NAME.to_owned(),
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

/// Removes a SQLite store and the journal files beside it (WAL mode).
pub fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
