//! Deadlines: `grpc-timeout` honoured, capped, visible to handlers, and enforced with a
//! real DEADLINE_EXCEEDED.
//!
//! tonic's own grpc-timeout handling answers CANCELLED when it fires, which tells a client
//! "someone gave up" instead of "your deadline passed". tonic's timer wraps every user
//! layer and so starts first; this layer's timer is set a millisecond short of the
//! client's timeout (or to the server's cap, when shorter), so it always fires first and
//! the client sees DEADLINE_EXCEEDED. The deadline is stored in the request extensions so
//! handlers can pass the *remaining* time to vendors instead of a fixed timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;
use tower::{Layer, Service};

/// The instant by which the current call must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Instant);

/// The deadline to give a vendor call inside a handler: the caller's deadline minus a
/// reserve (a tenth of what is left, 5 ms to 100 ms), so that when the vendor is too slow
/// the handler still answers with what it has, and the vendor's TIMEOUT status, before the
/// caller gives up.
pub fn with_reserve(deadline: Instant) -> Instant {
    let left = deadline.saturating_duration_since(Instant::now());
    let reserve = (left / 10).clamp(Duration::from_millis(5), Duration::from_millis(100));
    deadline.checked_sub(reserve).unwrap_or(deadline)
}

/// The deadline of a tonic request, if the server stack set one.
pub fn deadline_of<T>(req: &tonic::Request<T>) -> Option<Instant> {
    req.extensions().get::<Deadline>().map(|d| d.0)
}

/// Parses a `grpc-timeout` value: 1-8 ASCII digits and a unit (H M S m u n), as in the
/// gRPC over HTTP/2 spec. Anything else is ignored, as grpc-go does.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if !value.is_ascii() || value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// No call waits longer than this, whatever a configuration says (and `Instant`
/// arithmetic cannot overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    cap: Duration,
}

impl DeadlineLayer {
    /// `cap` bounds every call, whatever the client asked for.
    pub fn new(cap: Duration) -> Self {
        Self { cap }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            cap: self.cap,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
    cap: Duration,
}

impl<S, B> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let asked = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        // A millisecond short of the client's own timeout: tonic's timer for the same
        // header started earlier and must not win (it would answer CANCELLED).
        let client = asked.map(|t| t.saturating_sub(Duration::from_millis(1)));
        let client_limits = client.is_some_and(|t| t < self.cap);
        let timeout = client
            .map_or(self.cap, |t| t.min(self.cap))
            .min(MAX_TIMEOUT);
        let now = Instant::now();
        let deadline = now.checked_add(timeout).unwrap_or(now);
        req.extensions_mut().insert(Deadline(deadline));
        let sleep = tokio::time::sleep(timeout);
        DeadlineFuture {
            inner: self.inner.call(req),
            sleep,
            client_asked: client_limits,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        client_asked: bool,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>>,
{
    type Output = Result<http::Response<tonic::body::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.inner.poll(cx) {
            return Poll::Ready(out);
        }
        std::task::ready!(this.sleep.poll(cx));
        // Dropping the handler future here cancels its vendor calls too.
        let message = if *this.client_asked {
            "the call's deadline (grpc-timeout) expired before the answer was ready"
        } else {
            "the server's request_timeout expired before the answer was ready"
        };
        Poll::Ready(Ok(tonic::Status::deadline_exceeded(message).into_http()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler that never answers, and records the deadline it was given.
    #[derive(Clone, Default)]
    struct Never {
        seen: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
    }

    impl Service<http::Request<()>> for Never {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Pending<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            *self.seen.lock().expect("lock") = req.extensions().get::<Deadline>().map(|d| d.0);
            std::future::pending()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn client_deadline_expiry_answers_deadline_exceeded_and_is_visible_to_handlers() {
        let never = Never::default();
        let mut svc = DeadlineLayer::new(Duration::from_secs(30)).layer(never.clone());
        let req = http::Request::builder()
            .header("grpc-timeout", "50m")
            .body(())
            .expect("request");
        let before = Instant::now();
        let resp = svc.call(req).await.expect("infallible");
        assert_eq!(
            resp.headers()
                .get("grpc-status")
                .map(http::HeaderValue::as_bytes),
            Some(&b"4"[..])
        );
        let seen = never
            .seen
            .lock()
            .expect("lock")
            .expect("deadline in extensions");
        let given = seen.duration_since(before);
        // A millisecond short of the client's 50 ms, so this timer beats tonic's.
        assert!(
            given >= Duration::from_millis(49) && given < Duration::from_millis(50),
            "{given:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_server_cap_does_not_overflow() {
        let never = Never::default();
        let mut svc = DeadlineLayer::new(Duration::from_secs(u64::MAX / 4)).layer(never.clone());
        let req = http::Request::builder().body(()).expect("request");
        let call = tokio::spawn(async move { svc.call(req).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!call.is_finished(), "waits (a day at most), does not panic");
        call.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_cap_bounds_a_longer_client_deadline() {
        let never = Never::default();
        let mut svc = DeadlineLayer::new(Duration::from_millis(20)).layer(never.clone());
        let req = http::Request::builder()
            .header("grpc-timeout", "10S")
            .body(())
            .expect("request");
        let before = Instant::now();
        let _ = svc.call(req).await;
        let seen = never.seen.lock().expect("lock").expect("deadline");
        assert!(seen <= before + Duration::from_millis(21));
    }

    #[test]
    fn parses_every_unit_and_rejects_junk() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_grpc_timeout("5\u{e9}"),
            None,
            "non-ASCII is not a timeout (and no panic)"
        );
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("10u"), Some(Duration::from_micros(10)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for junk in ["", "5", "m", "123456789S", "1.5S", "-1S", "5x"] {
            assert_eq!(parse_grpc_timeout(junk), None, "{junk}");
        }
    }
}
