//! The HTTP/1.1 server for vendor callbacks, with every resource a client can hold
//! bounded: how long it may take to send a request's head (an idle keep-alive connection
//! included) and its body, how large the body may be, how long a request may take in
//! all, and how many connections are served at once. A webhook listens on the internet
//! for vendors; without these, a few hundred stalled or slow connections hold sockets
//! and memory for as long as their senders like.
//!
//! Over the connection limit a new connection gets `503` and is closed at once, instead
//! of waiting unseen in the accept queue: the vendor retries later either way, and it
//! learns now. On stop, the listener closes, requests in flight get `shutdown_grace` to
//! finish, and whatever is left is cut: the grace is a hard bound.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// Bounds on what clients can make the server hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's head (request line and headers) must arrive within this; an idle
    /// keep-alive connection is closed after it too. Default 10 s.
    pub header_read_timeout: Duration,
    /// Largest request head. Default 16 KiB (hyper reads at least 8 KiB at a time).
    pub max_header_bytes: usize,
    /// A request's whole body must arrive within this after its head (`408` beyond).
    /// Default 10 s: a callback is a few kilobytes.
    pub body_read_timeout: Duration,
    /// Largest body (`413` beyond; a declared `Content-Length` over it is refused before
    /// a byte is read). Default 256 KiB.
    pub max_body_bytes: usize,
    /// Longest a request may take, body and handling (`503` beyond). Default 30 s.
    pub request_timeout: Duration,
    /// Connections served at once (`503` and closed beyond). Default 128: with the
    /// other defaults, at most ~35 MB of buffered bodies.
    pub max_connections: usize,
    /// On stop, how long requests in flight may still take. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            body_read_timeout: Duration::from_secs(10),
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 128,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ServerLimits {
    /// Checks values that parse but cannot work; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("request_timeout", self.request_timeout),
            ("shutdown_grace", self.shutdown_grace),
        ] {
            if d.is_zero() {
                return Err(format!("webhook server: `{field}` must be more than zero"));
            }
            // Beyond a day a value is a typo, and deadlines computed from it must stay
            // representable.
            if d > Duration::from_secs(24 * 3600) {
                return Err(format!("webhook server: `{field}` must not exceed a day"));
            }
        }
        for (field, n) in [
            ("max_header_bytes", self.max_header_bytes),
            ("max_body_bytes", self.max_body_bytes),
            ("max_connections", self.max_connections),
        ] {
            if n == 0 {
                return Err(format!("webhook server: `{field}` must be more than zero"));
            }
        }
        if self.body_read_timeout > self.request_timeout {
            return Err(
                "webhook server: `body_read_timeout` must not exceed `request_timeout`".to_owned(),
            );
        }
        Ok(())
    }
}

/// Binds `addr` (port 0 picks a free one) and serves `app` within `limits` until `stop`
/// resolves; returns the bound address and the server's task, which ends at most
/// `shutdown_grace` after `stop`.
pub async fn serve(
    addr: SocketAddr,
    app: Router,
    limits: ServerLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    limits.validate().map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((bound, serve_listener(listener, app, limits, stop)?))
}

/// [`serve`] on a listener already bound.
pub fn serve_listener(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    limits.validate().map_err(std::io::Error::other)?;
    let connection_limits = listener::Limits {
        header_read_timeout: limits.header_read_timeout,
        max_header_bytes: limits.max_header_bytes,
        max_connections: Some(limits.max_connections),
        close_bound: limits.shutdown_grace,
    };
    let limits = Arc::new(limits);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let limits = limits.clone();
        async move { Ok::<_, Infallible>(handle(app, &limits, req).await) }
    });
    Ok(listener::spawn(
        listener,
        service,
        connection_limits,
        stop,
        "webhook server",
    ))
}

/// Reads the body within the limits, then runs the app within what is left of the
/// request's time.
async fn handle(
    app: Router,
    limits: &ServerLimits,
    req: Request<Incoming>,
) -> Response<axum::body::Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limits.max_body_bytes).unwrap_or(u64::MAX)) {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let read = tokio::time::timeout(
        limits.body_read_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return refusal(StatusCode::PAYLOAD_TOO_LARGE);
        }
        // A malformed chunk or a client gone mid-body.
        Ok(Err(_)) => return refusal(StatusCode::BAD_REQUEST),
        Err(_) => return refusal(StatusCode::REQUEST_TIMEOUT),
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    let left = limits.request_timeout.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, app.oneshot(req)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(never)) => match never {},
        Err(_) => {
            tracing::error!("webhook request exceeded its time; the vendor will retry");
            refusal(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `fail` with `status`, closing the connection (its body may be unread).
fn refusal(status: StatusCode) -> Response<axum::body::Body> {
    let mut resp = Response::new(axum::body::Body::from("fail"));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeros_are_named() {
        assert_eq!(ServerLimits::default().validate(), Ok(()));
        let zero = ServerLimits {
            max_connections: 0,
            ..ServerLimits::default()
        };
        assert!(
            zero.validate()
                .expect_err("zero")
                .contains("max_connections")
        );
        let body_longer = ServerLimits {
            body_read_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        };
        assert!(body_longer.validate().is_err());
        let absurd = ServerLimits {
            header_read_timeout: Duration::MAX,
            ..ServerLimits::default()
        };
        assert!(
            absurd
                .validate()
                .expect_err("absurd")
                .contains("header_read_timeout")
        );
    }
}
