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
//!
//! Module dependencies point one way (checked by `tests/module_graph.rs`), from the
//! server down: `server` -> `app` -> `inject`/`admin` -> `state` -> `vendors` (the
//! registry) -> each vendor -> `vendor` (the trait) -> `faults` (pure rules) and the
//! leaves (`config`, `params`, `signing`, `calls`, `conn`, `headers`, `sync`, `error`).
//! This file only declares and re-exports.
#![forbid(unsafe_code)]

mod admin;
mod app;
mod calls;
pub mod config;
mod conn;
mod error;
pub mod faults;
mod headers;
mod inject;
mod params;
mod server;
mod signing;
mod state;
mod sync;
mod vendor;
pub mod vendors;

pub use app::router;
pub use config::{
    APIHZ_ID, APIHZ_KEY, APIHZ_LIMITED_ID, APIHZ_LIMITED_KEY, AccountState, ApihzAccount,
    ApihzConfig, ApistoreApp, ApistoreConfig, AppStatus, ConnapiAccount, ConnapiConfig,
    DEFAULT_LISTEN, PlatecbConfig, SandboxConfig, SignMode,
};
pub use error::SandboxError;
pub use faults::{FaultAction, FaultRule, Latency};
pub use headers::{FAULT_HEADER, SANDBOX_HEADER};
pub use server::{RunningSandbox, start};
pub use state::AppState;
