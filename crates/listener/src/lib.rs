//! The plain HTTP/1.1 listeners Axle runs beside its gRPC servers: kit's `/metrics` and
//! the callback crate's vendor webhooks. Both face clients that may be slow, stuck or
//! hostile, so both need the same things, kept here once:
//!
//! - a connection whose request head does not arrive within `header_read_timeout` (an
//!   idle keep-alive connection included) is closed: without hyper's timer a client
//!   sending its headers a byte at a time holds a task and a descriptor forever
//!   (slowloris; `axum::serve` sets no timer);
//! - at most `max_connections` at once: one more is answered `503` with `Retry-After`
//!   and closed at once, rather than left unseen in the accept queue;
//! - on stop the listener closes, each connection finishes the request it is serving
//!   and takes no more, and whatever is still open after `close_bound` is cut: the
//!   bound is hard.
//!
//! What a request may take (its body, its whole time) is the service's to bound: the
//! webhook reads bodies under its own limits, `/metrics` reads none.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Bounds on one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's head must arrive within this; an idle keep-alive connection is closed
    /// after it too.
    pub header_read_timeout: Duration,
    /// Largest request head hyper buffers (at least 8 KiB: hyper's own floor).
    pub max_header_bytes: usize,
    /// Connections served at once; `None`: no cap (an endpoint only operators reach).
    pub max_connections: Option<usize>,
    /// After stop, how long open connections may take to finish.
    pub close_bound: Duration,
}

/// Serves `service` on every connection `listener` accepts until `stop` resolves, within
/// `limits`; `name` labels the log lines ("metrics endpoint", "webhook server"). The
/// task ends at most `close_bound` after `stop`.
pub fn spawn<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
    name: &'static str,
) -> JoinHandle<()>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    tokio::spawn(accept_loop(listener, service, limits, stop, name))
}

async fn accept_loop<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
    name: &'static str,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let permits = limits.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let (stopping, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut saturated = false;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let permit = match &permits {
                        None => None,
                        Some(p) => match p.clone().try_acquire_owned() {
                            Ok(permit) => Some(permit),
                            Err(_) => {
                                if !saturated {
                                    tracing::warn!(
                                        max_connections = limits.max_connections,
                                        "{name} at its connection limit; refusing new connections"
                                    );
                                    saturated = true;
                                }
                                refuse(&stream);
                                continue;
                            }
                        },
                    };
                    saturated = false;
                    let (service, stop) = (service.clone(), stop_rx.clone());
                    connections.spawn(async move {
                        let _permit = permit;
                        connection(stream, service, limits, stop, name).await;
                    });
                }
                Err(e) => {
                    // Out of descriptors or memory: back off rather than spin.
                    tracing::warn!(error = %e, "{name} cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(limits.close_bound, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "{name}: connections cut at the end of the close bound"
        );
        connections.abort_all();
    }
}

/// One connection: served until it ends, or until the stop, after which it finishes the
/// request in flight and takes no more (the accept loop bounds how long).
async fn connection<S, B>(
    stream: TcpStream,
    service: S,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
) where
    S: hyper::service::Service<http::Request<Incoming>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = async move {
        // The guard it returns is not Send: dropped here, before any await.
        let _ = stop.wait_for(|s| *s).await.map(|_| ());
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "{name}: connection ended with an error");
            }
        }
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The 503 a connection over the limit gets. What the client already sent is read
/// first (without waiting) so that closing sends a FIN after the reply, not a reset
/// that could discard it.
fn refuse(stream: &TcpStream) {
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = stream.try_write(
        b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 5\r\n\
          content-type: text/plain; charset=utf-8\r\ncontent-length: 4\r\n\r\nfail",
    );
}
