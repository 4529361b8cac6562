//! Why the sandbox could not start or stopped abnormally.

use std::net::SocketAddr;

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
