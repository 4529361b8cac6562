//! violation-service as a child process (`testkit::process`): its `AXLE_*` settings for
//! the sandbox, apistore's callback store and its webhook port.

use std::path::PathBuf;

// Not every test that includes `common` starts a process.
#[allow(unused_imports)]
pub use testkit::process::Process;

/// Where apistore's callback store lives.
#[derive(Debug, Clone)]
pub enum StoreAt {
    Sqlite(PathBuf),
    /// A PostgreSQL URL (the test's schema selected through its `options`).
    Postgres(String),
}

/// How to start one violation-service process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The sandbox's base URL; apistore points at it.
    pub sandbox: String,
    pub store: StoreAt,
    /// Fixed by the caller: the callback URL sent with each query names this port, so a
    /// restarted process must listen on the same one to receive the callbacks.
    pub webhook_port: u16,
    /// More settings, as `AXLE_*` variables.
    pub env: Vec<(&'static str, String)>,
    /// Names the log file (`<temp>/axle-<tag>-<pid>-<n>.log`).
    pub tag: &'static str,
}

impl From<&Launch> for testkit::process::Spec {
    fn from(launch: &Launch) -> Self {
        let mut env = vec![
            (
                "AXLE_VENDORS__APISTORE__CALLBACK__WEBHOOK_LISTEN".to_owned(),
                format!("127.0.0.1:{}", launch.webhook_port),
            ),
            (
                "AXLE_VENDORS__APISTORE__HTTP__BASE_URL".to_owned(),
                launch.sandbox.clone(),
            ),
        ];
        env.push(match &launch.store {
            StoreAt::Sqlite(path) => (
                "AXLE_VENDORS__APISTORE__CALLBACK__STORE_PATH".to_owned(),
                path.display().to_string(),
            ),
            StoreAt::Postgres(url) => (
                "AXLE_VENDORS__APISTORE__CALLBACK__STORE_URL".to_owned(),
                url.clone(),
            ),
        });
        env.extend(launch.env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Self {
            bin: env!("CARGO_BIN_EXE_violation-service").into(),
            health_service: violation_service::SERVICE_NAME.to_owned(),
            env,
            ready_ports: vec![launch.webhook_port],
            tag: launch.tag.to_owned(),
        }
    }
}
