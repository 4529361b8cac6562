//! The stack around handlers that never answer or answer at once, with time paused:
//! deadlines, shedding, status recording and stream ending, without a network. The same
//! behaviour through a real server is in `crates/kit/tests/server.rs`.

use std::sync::Mutex;

use http_body::Body as _;
use std::time::Duration;

use super::*;

const ECHO: &str = "/axle.bench.v1.EchoService/Echo";
const CHECK: &str = "/grpc.health.v1.Health/Check";
const WATCH: &str = "/grpc.health.v1.Health/Watch";

type Answer = fn() -> http::Response<TonicBody>;

/// A handler that answers with `answer` (or never, if `None`) and records the deadline it
/// was given.
#[derive(Clone, Default)]
struct Handler {
    seen: Arc<Mutex<Option<Instant>>>,
    answer: Option<Answer>,
}

impl Handler {
    fn answering(answer: Answer) -> Self {
        Self {
            answer: Some(answer),
            ..Self::default()
        }
    }
}

impl Service<http::Request<()>> for Handler {
    type Response = http::Response<TonicBody>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<()>) -> Self::Future {
        *self.seen.lock().expect("lock") = req.extensions().get::<Deadline>().map(|d| d.0);
        match self.answer {
            Some(answer) => Box::pin(async move { Ok(answer()) }),
            None => Box::pin(std::future::pending()),
        }
    }
}

/// One message, then trailers with `grpc-status: 0`.
struct Reply {
    sent: u8,
}

impl http_body::Body for Reply {
    type Data = Bytes;
    type Error = tonic::Status;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        self.sent += 1;
        Poll::Ready(match self.sent {
            1 => Some(Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\0")))),
            2 => {
                let mut t = http::HeaderMap::new();
                t.insert("grpc-status", http::HeaderValue::from_static("0"));
                Some(Ok(Frame::trailers(t)))
            }
            _ => None,
        })
    }
}

fn ok_reply() -> http::Response<TonicBody> {
    http::Response::new(TonicBody::new(Reply { sent: 0 }))
}

/// A stream that never sends anything.
struct Silent;

impl http_body::Body for Silent {
    type Data = Bytes;
    type Error = tonic::Status;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Poll::Pending
    }
}

fn stack(
    max_in_flight: usize,
    cap: Duration,
    stop: StopFactory,
) -> (RpcLayer, crate::metrics::Metrics) {
    let metrics = crate::metrics::Metrics::new();
    let methods = MethodTable::from_descriptor_sets(
        &[
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            contracts::FILE_DESCRIPTOR_SET,
        ],
        &["grpc.health.v1.Health", "axle.bench.v1.EchoService"],
        &["grpc.health.v1.Health"],
        &metrics,
    )
    .expect("methods");
    (RpcLayer::new(methods, max_in_flight, cap, stop), metrics)
}

fn never_stop() -> StopFactory {
    Arc::new(|| Box::pin(std::future::pending()))
}

fn request(path: &str, timeout: Option<&str>) -> http::Request<()> {
    let mut b = http::Request::builder().uri(path);
    if let Some(t) = timeout {
        b = b.header("grpc-timeout", t);
    }
    b.body(()).expect("request")
}

fn code(resp: &http::Response<RpcBody>) -> Option<tonic::Code> {
    tonic::Status::from_header_map(resp.headers()).map(|s| s.code())
}

async fn drain(body: RpcBody) -> Vec<Frame<Bytes>> {
    let mut body = std::pin::pin!(body);
    let mut frames = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        frames.push(frame.expect("frame"));
    }
    frames
}

#[tokio::test(start_paused = true)]
async fn client_deadline_expiry_answers_deadline_exceeded_and_is_visible_to_handlers() {
    let (layer, metrics) = stack(16, Duration::from_secs(30), never_stop());
    let handler = Handler::default();
    let mut svc = layer.layer(handler.clone());
    // The deadline is set in `call`: bracket it, since a loaded machine may stall anywhere.
    let before = Instant::now();
    let call = svc.call(request(ECHO, Some("50m")));
    let after = Instant::now();
    let resp = call.await.expect("infallible");
    assert_eq!(code(&resp), Some(tonic::Code::DeadlineExceeded));
    let seen = handler
        .seen
        .lock()
        .expect("lock")
        .expect("deadline in extensions");
    // A millisecond short of the client's 50 ms, so this timer beats tonic's.
    let budget = Duration::from_millis(49);
    assert!(
        seen >= before + budget && seen <= after + budget,
        "{:?} after the call",
        seen.duration_since(before)
    );
    let text = metrics.encode();
    assert!(
        text.contains(r#"grpc_method="Echo",grpc_code="DeadlineExceeded"} 1"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_server_cap_bounds_a_longer_client_deadline() {
    let (layer, _) = stack(16, Duration::from_millis(20), never_stop());
    let handler = Handler::default();
    let mut svc = layer.layer(handler.clone());
    let before = Instant::now();
    let call = svc.call(request(ECHO, Some("10S")));
    let after = Instant::now();
    let resp = call.await.expect("infallible");
    let status = tonic::Status::from_header_map(resp.headers()).expect("status");
    assert!(status.message().contains("request_timeout"), "{status:?}");
    let seen = handler.seen.lock().expect("lock").expect("deadline");
    let cap = Duration::from_millis(20);
    assert!(seen >= before + cap && seen <= after + cap);
}

#[tokio::test(start_paused = true)]
async fn an_answer_at_the_first_poll_needs_no_timer_and_its_trailers_are_recorded() {
    let (layer, metrics) = stack(16, Duration::from_secs(30), never_stop());
    let mut svc = layer.layer(Handler::answering(ok_reply));
    let mut fut = std::pin::pin!(svc.call(request(ECHO, None)));
    let waker = std::task::Waker::noop();
    let Poll::Ready(resp) = fut.as_mut().poll(&mut Context::from_waker(waker)) else {
        panic!("the handler answered at once");
    };
    assert!(
        !fut.has_timer(),
        "a call answered at once never creates a timer"
    );
    let resp = resp.expect("infallible");
    assert_eq!(code(&resp), None, "the status comes in the trailers");
    assert!(!metrics.encode().contains("grpc_server_handled_total{"));
    let frames = drain(resp.into_body()).await;
    assert_eq!(frames.len(), 2);
    let text = metrics.encode();
    assert!(
        text.contains(r#"grpc_method="Echo",grpc_code="OK"} 1"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn past_the_cap_application_calls_are_refused_but_probes_are_not() {
    let (layer, metrics) = stack(1, Duration::from_secs(30), never_stop());
    let mut svc = layer.layer(Handler::default());
    let busy = svc.call(request(ECHO, None));
    let mut answering = layer.layer(Handler::answering(ok_reply));
    let refused = answering
        .call(request(ECHO, None))
        .await
        .expect("infallible");
    assert_eq!(code(&refused), Some(tonic::Code::ResourceExhausted));
    let probe = answering
        .call(request(CHECK, None))
        .await
        .expect("infallible");
    assert_eq!(code(&probe), None, "a probe is answered, not shed");
    // The place comes back when the busy call ends.
    drop(busy);
    let admitted = answering
        .call(request(ECHO, None))
        .await
        .expect("infallible");
    assert_eq!(code(&admitted), None);
    let text = metrics.encode();
    assert!(
        text.contains(r#"grpc_method="Echo",grpc_code="ResourceExhausted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_method="Echo",grpc_code="Canceled"} 1"#),
        "a call dropped before its answer is counted as cancelled: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unserved_path_is_counted_as_unknown_and_named_in_the_error() {
    let (layer, metrics) = stack(16, Duration::from_secs(30), never_stop());
    let mut svc = layer.layer(Handler::answering(|| {
        tonic::Status::unimplemented("").into_http()
    }));
    let resp = svc
        .call(request("/made.up.Service/Random123", None))
        .await
        .expect("infallible");
    let status = tonic::Status::from_header_map(resp.headers()).expect("status");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(status.message().contains("/made.up.Service/Random123"));
    let text = metrics.encode();
    assert!(!text.contains("Random123"), "{text}");
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn streams_end_with_unavailable_when_told_to_stop() {
    let stop: StopFactory = Arc::new(|| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
    });
    let (layer, metrics) = stack(16, Duration::from_secs(30), stop);
    let mut svc = layer.layer(Handler::answering(|| {
        http::Response::new(TonicBody::new(Silent))
    }));
    let resp = svc.call(request(WATCH, None)).await.expect("infallible");
    let frames = drain(resp.into_body()).await;
    let trailers = frames
        .last()
        .and_then(Frame::trailers_ref)
        .expect("ends with trailers");
    assert_eq!(
        tonic::Status::from_header_map(trailers).map(|s| s.code()),
        Some(tonic::Code::Unavailable)
    );
    let text = metrics.encode();
    assert!(
        text.contains(r#"grpc_type="server_stream",grpc_service="grpc.health.v1.Health",grpc_method="Watch",grpc_code="Unavailable"} 1"#),
        "{text}"
    );
}

#[test]
fn a_stream_that_failed_before_its_first_message_is_already_over() {
    // tonic answers a stream that fails at once "trailers-only": the status in the
    // headers and an empty body. The body must say it is over, or hyper sends an extra
    // END_STREAM DATA frame and clients see UNKNOWN.
    let body = RpcBody::plain(TonicBody::empty());
    assert!(http_body::Body::is_end_stream(&body));
}
