//! Axle vendor sandbox: one HTTP server that implements the upstream vendors' documented
//! contracts (signatures, error codes, response shapes) over deterministic fixture data,
//! with fault injection shared by every vendor.
//!
//! Every response carries `x-axle-sandbox: 1`, so a connector can label what it got as
//! sandbox data without knowing where its base URL points.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::SandboxError> {
//! let cfg = sandbox::SandboxConfig {
//!     listen: "127.0.0.1:0".parse().expect("literal address"),
//!     ..sandbox::SandboxConfig::default()
//! };
//! let running = sandbox::start(cfg, std::future::pending()).await?;
//! println!("vendors at http://{}", running.addr);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod admin;
mod calls;
pub mod config;
pub mod faults;
mod params;
mod server;
mod signing;
mod state;
pub mod vendors;

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;

pub use config::{AccountState, ConnapiAccount, ConnapiConfig, DEFAULT_LISTEN, SandboxConfig};
pub use faults::{FaultAction, FaultRule, Latency};
pub use server::{RunningSandbox, start};
pub use state::AppState;

/// Header present on every sandbox response; connectors map it to provenance "sandbox".
pub const SANDBOX_HEADER: &str = "x-axle-sandbox";
/// Per-request fault header (see [`faults::parse_fault_header`] for the syntax).
pub const FAULT_HEADER: &str = "x-sandbox-fault";

/// Why the sandbox could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("fixture {origin}: {detail}")]
    Fixture { origin: String, detail: String },
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    #[error("accept loop failed: {0}")]
    Accept(std::io::Error),
    #[error("sandbox task ended abnormally: {0}")]
    Join(String),
}

/// The whole HTTP surface: every vendor (each behind the fault layer) plus the
/// `/_sandbox/*` admin API, all stamped with [`SANDBOX_HEADER`].
///
/// Serving this router with `axum::serve` works, except that `reset` faults degrade to
/// an HTTP 500: dropping a connection needs the connection handle that [`start`]'s own
/// accept loop provides.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(vendors::connapi::routes(state.clone()))
        .merge(vendors::xiaoshibao::routes(state.clone()))
        .merge(vendors::platecb::routes(state.clone()))
        .merge(vendors::platecb::admin_routes(state.clone()))
        .merge(admin::routes(state))
        // Outermost, so the label is also on admin answers, 404s and fault answers.
        .layer(axum::middleware::map_response(stamp_sandbox_header))
}

async fn stamp_sandbox_header(mut res: Response) -> Response {
    res.headers_mut()
        .insert(SANDBOX_HEADER, HeaderValue::from_static("1"));
    res
}
