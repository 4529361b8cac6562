//! Ends open response streams when the server shuts down.
//!
//! tonic's graceful shutdown waits for every connection to finish, and a
//! `grpc.health.v1.Health/Watch` stream never finishes by itself: one watching client
//! (grpc-go's client-side health checking, a mesh sidecar) would hold shutdown for the
//! whole grace period. Once draining has begun (health already NOT_SERVING and sent),
//! the server stack ([`crate::stack`]) ends streaming responses with these trailers
//! (UNAVAILABLE, which tells the client to reconnect elsewhere). Unary responses are never
//! touched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Resolves when streams should end.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Makes the stop signal for one stream: resolves when streams should end.
pub type StopFactory = Arc<dyn Fn() -> Stop + Send + Sync>;

/// The trailers that end a stream cut by shutdown: UNAVAILABLE, so the client reconnects
/// elsewhere.
pub(crate) fn shutting_down_trailers() -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
    trailers.insert(
        "grpc-message",
        http::HeaderValue::from_static("server%20is%20shutting%20down"),
    );
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_ends_with_unavailable() {
        let status = tonic::Status::from_header_map(&shutting_down_trailers()).expect("status");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.message(), "server is shutting down");
    }
}
