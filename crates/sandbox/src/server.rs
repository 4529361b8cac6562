//! The sandbox's own accept loop. `axum::serve` would do for everything except the
//! `reset` fault: to make a client see a dropped connection, a handler must be able to
//! abort the connection it arrived on, so each connection is served here with hyper and
//! carries a [`ConnHandle`] in its requests' extensions.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::app::router;
use crate::config::SandboxConfig;
use crate::conn::{ConnHandle, ResettableStream};
use crate::error::SandboxError;
use crate::state::AppState;

/// How long in-flight connections get to finish after shutdown is requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A started sandbox.
#[derive(Debug)]
pub struct RunningSandbox {
    /// Where it actually listens (resolves a configured port 0).
    pub addr: SocketAddr,
    /// Shared state, e.g. to reset it between tests without HTTP.
    pub state: AppState,
    task: tokio::task::JoinHandle<Result<(), SandboxError>>,
}

impl RunningSandbox {
    /// Waits until the server has stopped (after the shutdown future completed and
    /// connections drained).
    pub async fn wait(self) -> Result<(), SandboxError> {
        self.task
            .await
            .map_err(|e| SandboxError::Join(e.to_string()))?
    }

    /// The base URL vendors' connectors should use, e.g. `http://127.0.0.1:50080`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Loads fixtures, binds `cfg.listen` and serves until `shutdown` completes. Returns as
/// soon as the socket is bound, so `127.0.0.1:0` works and the caller can read the port.
pub async fn start(
    cfg: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningSandbox, SandboxError> {
    let state = AppState::new(&cfg)?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let app = router(state.clone());
    let task = tokio::spawn(serve(listener, app, shutdown));
    Ok(RunningSandbox { addr, state, task })
}

async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(serve_connection(stream, peer, app.clone(), stop_rx.clone()));
                }
                // Per-connection failures (e.g. the peer reset before accept) and fd
                // exhaustion are transient; back off instead of spinning or dying.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow without bound.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = conns.len(),
            "connections still open after drain timeout; aborting them"
        );
        conns.abort_all();
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let handle = ConnHandle::default();
    let io = ResettableStream::new(stream, handle.clone());
    let svc = {
        let handle = handle.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(handle.clone());
            app.clone().oneshot(req.map(Body::new))
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            // Returning drops `conn` and with it the socket, which sends the RST.
            () = handle.reset_requested() => {
                tracing::debug!(%peer, "connection reset by fault injection");
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
