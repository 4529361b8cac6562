//! What every Axle service stands on.
//!
//! * [`config`]: typed configuration, defaults < file < `AXLE_*` environment, errors that
//!   name the bad key and where it came from.
//! * [`telemetry`]: human or JSON logs, OTLP trace export, W3C trace context in and out.
//! * [`metrics`]: a Prometheus registry, per-RPC counters and latency histograms, `/metrics`.
//! * [`error`]: the one error type of every RPC and its mapping to `tonic::Status` with
//!   google.rpc details.
//! * [`stack`]: the server's one tower layer around every call, sequencing [`methods`]
//!   (the path resolved once), [`access`] (span and access line), metrics, [`limit`]
//!   (load shedding), [`deadline`] (`grpc-timeout`), [`wire_errors`] and [`streams`].
//! * [`client`]: calling other Axle services with the caller's deadline and trace.
//! * [`server`]: bootstrap with health, reflection (v1 and v1alpha), a shutdown bounded by
//!   `drain_delay + shutdown_grace` ([`cutoff`]), and a concurrency cap the process's
//!   file descriptors can hold ([`descriptors`]).

pub mod access;
pub mod client;
pub mod clock;
pub mod config;
pub mod cutoff;
pub mod deadline;
pub mod descriptors;
pub mod error;
pub mod limit;
pub mod main_support;
pub mod methods;
pub mod metrics;
pub mod server;
pub mod stack;
pub mod streams;
pub mod telemetry;
pub mod wire_errors;

/// Errors from starting or running infrastructure (not from RPCs: see [`error::ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    // The OS error is part of the message, not a `source`: printed with its chain
    // (anyhow's `{:#}`) it would appear twice.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("telemetry setup failed: {0}")]
    Telemetry(String),
    #[error("reflection setup failed: {0}")]
    Reflection(String),
    #[error("server failed: {0}")]
    Serve(String),
}
