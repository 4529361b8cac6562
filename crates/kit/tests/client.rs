//! kit::client against a real tonic server on 127.0.0.1:0: what the server receives
//! (grpc-timeout, trace context), what the caller reports (SourceStatus), and what
//! happens when there is no time or no server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use kit::client::{ClientConfig, Reply, ServiceClient, Transport};
use kit::error::ApiError;
use opentelemetry::trace::TraceContextExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const SOURCE: &str = "echo-service";

/// What the server saw of one call.
#[derive(Debug, Clone, Default)]
struct Seen {
    grpc_timeout: Option<Duration>,
    traceparent: Option<String>,
    tracestate: Option<String>,
}

/// Echo whose payload says how to answer: "fail", "missing", "sleep:<ms>", else echo.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn calls(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

#[tonic::async_trait]
impl EchoService for Recorder {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let text = |name: &str| {
            req.metadata()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        self.seen.lock().expect("lock").push(Seen {
            grpc_timeout: text("grpc-timeout")
                .as_deref()
                .and_then(kit::deadline::parse_grpc_timeout),
            traceparent: text("traceparent"),
            tracestate: text("tracestate"),
        });
        let payload = req.into_inner().payload;
        match payload.as_str() {
            "fail" => Err(ApiError::Unavailable {
                message: "connapi is failing; retry later".to_owned(),
                retry_after: Some(Duration::from_secs(3)),
                reason: "VENDOR_INTERNAL_ERROR",
                metadata: vec![("upstream".to_owned(), "10.9.8.7:443".to_owned())],
            }
            .into()),
            "missing" => Err(Status::not_found("no record for this VIN")),
            _ => {
                if let Some(ms) = payload.strip_prefix("sleep:") {
                    let ms = ms
                        .parse()
                        .map_err(|_| Status::invalid_argument("sleep:<ms>"))?;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Ok(Response::new(EchoResponse { payload }))
            }
        }
    }
}

fn serve_on(listener: TcpListener) -> Recorder {
    serve_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
}

fn serve_incoming<S>(incoming: S) -> Recorder
where
    S: tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> + Send + 'static,
{
    let recorder = Recorder::default();
    let service = EchoServiceServer::new(recorder.clone());
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await;
    });
    recorder
}

/// A server whose first `refusing` connections answer as a server that is shutting
/// down answers a stream it will not process: once the client's HEADERS are in, its
/// SETTINGS and a GOAWAY naming stream 0 as the last it processes, reason NO_ERROR
/// (RFC 9113 §6.8), then the end of the connection. Later connections are served by
/// the echo server. Raw frames, because a real server's GOAWAY races with the client's
/// next stream and refuses one only now and then.
async fn stopping_then_serving(refusing: usize) -> (SocketAddr, Recorder) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut accepted = 0;
        while let Ok((socket, _)) = listener.accept().await {
            accepted += 1;
            if accepted <= refusing {
                tokio::spawn(refuse_first_stream(socket));
            } else if tx.send(Ok(socket)).is_err() {
                return;
            }
        }
    });
    let recorder = serve_incoming(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
    (addr, recorder)
}

async fn refuse_first_stream(mut socket: tokio::net::TcpStream) {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const HEADERS: u8 = 0x1;
    let frame = |kind: u8, payload: &[u8]| {
        let len = u32::try_from(payload.len()).expect("small").to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    };
    let bounded = tokio::time::timeout(Duration::from_secs(5), async {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Read frames until the client's first HEADERS: the stream exists on its side.
        'headers: loop {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "the client closed before sending a call");
            seen.extend_from_slice(&buf[..n]);
            if seen.len() < PREFACE.len() {
                continue;
            }
            assert_eq!(&seen[..PREFACE.len()], PREFACE, "an HTTP/2 client");
            let mut at = PREFACE.len();
            while seen.len() >= at + 9 {
                let len = usize::from(seen[at]) << 16
                    | usize::from(seen[at + 1]) << 8
                    | usize::from(seen[at + 2]);
                if seen[at + 3] == HEADERS {
                    break 'headers;
                }
                at += 9 + len;
            }
        }
        let mut answer = frame(0x4, &[]); // SETTINGS: none
        answer.extend(frame(0x7, &[0; 8])); // GOAWAY: last stream 0, NO_ERROR
        socket.write_all(&answer).await.expect("write");
        socket.shutdown().await.expect("shutdown");
        // Until the client lets go, so that it reads everything before the end.
        while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    bounded.await.expect("the refusal took too long");
}

async fn server() -> (SocketAddr, Recorder) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (addr, serve_on(listener))
}

fn config(addr: SocketAddr) -> ClientConfig {
    ClientConfig {
        endpoint: format!("http://{addr}"),
        ..ClientConfig::default()
    }
}

fn client(cfg: &ClientConfig) -> ServiceClient<EchoServiceClient<Transport>> {
    ServiceClient::new(SOURCE, cfg, EchoServiceClient::new).expect("client")
}

async fn echo(
    client: &ServiceClient<EchoServiceClient<Transport>>,
    deadline: Option<Instant>,
    payload: &str,
) -> Reply<EchoResponse> {
    let message = EchoRequest {
        payload: payload.to_owned(),
    };
    client
        .call(deadline, message, |mut c, r| async move { c.echo(r).await })
        .await
}

fn state(s: &SourceStatus) -> SourceState {
    SourceState::try_from(s.state).expect("known state")
}

fn duration(d: Option<prost_types::Duration>) -> Duration {
    Duration::try_from(d.expect("duration set")).expect("non-negative")
}

#[tokio::test]
async fn the_server_sees_the_remaining_time_minus_the_reserve() {
    let (addr, recorder) = server().await;
    let cfg = ClientConfig {
        deadline_reserve: Duration::from_millis(100),
        request_timeout: Duration::from_secs(10),
        ..config(addr)
    };
    let client = client(&cfg);
    let reply = echo(&client, Some(Instant::now() + Duration::from_secs(2)), "hi").await;
    assert_eq!(reply.response.map(|r| r.payload).as_deref(), Some("hi"));
    assert_eq!(state(&reply.status), SourceState::Ok);
    assert_eq!((reply.status.code, reply.status.attempts), (0, 1));
    assert_eq!(reply.status.source, SOURCE);

    let sent = recorder.calls()[0].grpc_timeout.expect("grpc-timeout sent");
    // 2 s left, 100 ms kept back; the tolerance is the time spent before the request was
    // prepared, which only a stalled test machine makes long.
    assert!(sent <= Duration::from_millis(1900), "{sent:?}");
    assert!(sent >= Duration::from_millis(1700), "{sent:?}");
}

#[tokio::test]
async fn the_request_timeout_caps_a_far_or_absent_deadline() {
    let (addr, recorder) = server().await;
    let cfg = ClientConfig {
        request_timeout: Duration::from_millis(1500),
        ..config(addr)
    };
    let client = client(&cfg);
    let far = Some(Instant::now() + Duration::from_secs(60));
    assert_eq!(
        state(&echo(&client, far, "a").await.status),
        SourceState::Ok
    );
    assert_eq!(
        state(&echo(&client, None, "b").await.status),
        SourceState::Ok
    );
    for seen in recorder.calls() {
        assert_eq!(seen.grpc_timeout, Some(Duration::from_millis(1500)));
    }
}

#[tokio::test]
async fn no_call_is_made_when_the_deadline_leaves_no_time() {
    let (addr, recorder) = server().await;
    let cfg = ClientConfig {
        deadline_reserve: Duration::from_millis(200),
        ..config(addr)
    };
    let client = client(&cfg);
    let now = Instant::now();
    for deadline in [
        now + Duration::from_millis(100), // less than the reserve
        now,
        now.checked_sub(Duration::from_secs(1)).unwrap_or(now),
    ] {
        let reply = echo(&client, Some(deadline), "hi").await;
        assert!(reply.response.is_none());
        assert_eq!(state(&reply.status), SourceState::Timeout);
        assert_eq!(reply.status.code, Code::DeadlineExceeded as i32);
        assert_eq!(reply.status.attempts, 0);
    }
    assert!(recorder.calls().is_empty(), "the server was called");
}

#[tokio::test]
async fn a_server_error_keeps_its_reason_and_retry_delay_and_nothing_else() {
    let (addr, _recorder) = server().await;
    let client = client(&config(addr));
    let deadline = Some(Instant::now() + Duration::from_secs(5));

    let failed = echo(&client, deadline, "fail").await;
    assert!(failed.response.is_none());
    let s = &failed.status;
    assert_eq!(state(s), SourceState::Failed);
    assert_eq!(s.code, Code::Unavailable as i32);
    assert_eq!(s.reason, "VENDOR_INTERNAL_ERROR");
    assert_eq!(s.message, "connapi is failing; retry later");
    assert_eq!(duration(s.retry_after), Duration::from_secs(3));
    assert_eq!(s.attempts, 1);
    assert!(s.latency.is_some());
    assert!(!format!("{s:?}").contains("10.9.8.7"), "{s:?}");

    let missing = echo(&client, deadline, "missing").await;
    assert_eq!(state(&missing.status), SourceState::NotFound);
    assert_eq!(missing.status.code, Code::NotFound as i32);
    assert_eq!(missing.status.message, "no record for this VIN");
}

#[tokio::test]
async fn a_slow_server_is_left_behind_when_the_budget_is_spent() {
    let (addr, _recorder) = server().await;
    let client = client(&config(addr));
    let started = Instant::now();
    let deadline = Some(started + Duration::from_millis(300));
    let reply = echo(&client, deadline, "sleep:20000").await;
    assert!(reply.response.is_none());
    assert_eq!(state(&reply.status), SourceState::Timeout);
    assert_eq!(reply.status.code, Code::DeadlineExceeded as i32);
    // Bounded by the deadline, not by the server's 20 s.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_the_client_recovers_when_the_server_starts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    // Created before its server exists, as a service starting before its dependency.
    let client = client(&config(addr));
    let reply = echo(&client, None, "hi").await;
    let s = &reply.status;
    assert_eq!(state(s), SourceState::Failed);
    assert_eq!(s.code, Code::Unavailable as i32);
    assert_eq!(s.reason, "DOWNSTREAM_UNREACHABLE");
    assert!(
        !s.message.contains(&addr.port().to_string()),
        "{}",
        s.message
    );

    let Ok(listener) = TcpListener::bind(addr).await else {
        return; // someone else took the port meanwhile: nothing more to learn here
    };
    let _recorder = serve_on(listener);
    let mut last = None;
    for _ in 0..50 {
        let reply = echo(&client, None, "again").await;
        if reply.response.is_some() {
            return;
        }
        last = Some(reply.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the client never reconnected: {last:?}");
}

#[tokio::test]
async fn a_connect_that_hangs_fails_within_the_connect_timeout() {
    // A listener with a backlog of 0 that never accepts: once one connection fills its
    // queue, the kernel drops further SYNs and a connect hangs, as to a dead host.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    let _listener = socket.listen(0).expect("listen");
    let mut fillers = Vec::new();
    let mut full = false;
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(_)) | Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the backlog never filled");

    let cfg = ClientConfig {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_secs(30),
        ..config(addr)
    };
    let client = client(&cfg);
    let started = Instant::now();
    let reply = echo(&client, None, "hi").await;
    let elapsed = started.elapsed();
    assert_eq!(
        state(&reply.status),
        SourceState::Failed,
        "{:?}",
        reply.status
    );
    assert_eq!(reply.status.code, Code::Unavailable as i32);
    // The connect timeout, not the call's 30 s, bounds the wait.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn the_server_sees_the_trace_of_the_callers_span() {
    let _guard = kit::telemetry::init(&kit::config::TelemetryConfig::default(), "client-test")
        .expect("telemetry");
    let (addr, recorder) = server().await;
    let client = client(&config(addr));

    // The caller is itself inside a trace that came with a tracestate.
    let incoming: HashMap<String, String> = [
        (
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        ),
        ("tracestate".to_owned(), "axle=client-test".to_owned()),
    ]
    .into();
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&incoming));
    let span = tracing::info_span!("caller");
    let _ = span.set_parent(parent);
    let caller = span.context().span().span_context().clone();
    assert!(caller.is_valid(), "telemetry gives spans a context");

    let reply = echo(&client, None, "traced").instrument(span).await;
    assert_eq!(state(&reply.status), SourceState::Ok);

    let seen = recorder.calls().remove(0);
    let traceparent = seen.traceparent.expect("traceparent sent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
    assert_eq!(parts[1], caller.trace_id().to_string());
    // The callee's parent is the call (a grpc.client span), not the caller's span.
    assert_ne!(parts[2], caller.span_id().to_string());
    assert_ne!(parts[2], "0000000000000000");
    assert_eq!(seen.tracestate.as_deref(), Some("axle=client-test"));
}

#[tokio::test]
async fn a_call_a_stopping_server_refused_unprocessed_is_made_again_once() {
    let (addr, recorder) = stopping_then_serving(1).await;
    let metrics = kit::metrics::Metrics::new();
    let client = client(&config(addr)).with_metrics(&metrics);
    let before = metrics.encode();
    for series in [
        r#"client_retries_total{service="echo-service",outcome="granted"} 0"#,
        r#"client_retries_total{service="echo-service",outcome="denied"} 0"#,
        r#"client_retries_total{service="echo-service",outcome="transparent"} 0"#,
        r#"client_breaker_rejected_total{service="echo-service"} 0"#,
        r#"client_breaker_state{service="echo-service"} 0"#,
    ] {
        assert!(
            before.contains(series),
            "at zero before any call: {series}\n{before}"
        );
    }
    // `call`, not `call_idempotent`: even a call that may not be repeated is, as it never
    // ran (a paid DecodeVin during a rolling update).
    let reply = echo(&client, None, "once").await;
    assert_eq!(
        reply.response.map(|r| r.payload).as_deref(),
        Some("once"),
        "{:?}",
        reply.status
    );
    assert_eq!(state(&reply.status), SourceState::Ok);
    assert_eq!(reply.status.attempts, 2, "the refused attempt counts");
    assert_eq!(recorder.calls().len(), 1, "it ran once");
    assert_eq!(
        client.breaker_state(),
        kit::client::breaker::BreakerState::Closed
    );
    let text = metrics.encode();
    assert!(
        text.contains(r#"client_retries_total{service="echo-service",outcome="transparent"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_service_that_refuses_again_is_unavailable_draining_after_two_attempts() {
    let (addr, recorder) = stopping_then_serving(usize::MAX).await;
    let cfg = ClientConfig {
        breaker: kit::client::breaker::BreakerConfig {
            failure_threshold: 1,
            ..kit::client::breaker::BreakerConfig::default()
        },
        ..config(addr)
    };
    let client = client(&cfg);
    for _ in 0..3 {
        let reply = echo(&client, None, "never").await;
        let s = &reply.status;
        assert_eq!(state(s), SourceState::Failed, "{s:?}");
        assert_eq!(s.code, Code::Unavailable as i32, "not INTERNAL: {s:?}");
        assert_eq!(s.reason, "DOWNSTREAM_DRAINING");
        assert!(s.message.contains("shutting down"), "{}", s.message);
        assert_eq!(s.attempts, 2, "made again once, not more");
        // Stopping is no failure of the service: the breaker stays closed.
        assert_eq!(
            client.breaker_state(),
            kit::client::breaker::BreakerState::Closed
        );
    }
    assert!(recorder.calls().is_empty());
}

#[tokio::test]
async fn a_call_that_ran_is_not_made_again_when_its_connection_breaks() {
    // The server takes the call and the connection dies before it answers (a crash,
    // not a drain): the call may have had its effect, so `call` reports it as it is.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn({
        let accepted = accepted.clone();
        async move {
            while let Ok((socket, _)) = listener.accept().await {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut conn = h2::server::handshake(socket).await.expect("handshake");
                    if let Some(Ok(_call)) = conn.accept().await {
                        // Dropped with the connection: the client's stream ends in an
                        // I/O error, never in a GOAWAY that refuses it.
                    }
                });
            }
        }
    });
    let client = client(&config(addr));
    let reply = echo(&client, None, "ran").await;
    let s = &reply.status;
    assert_eq!(state(s), SourceState::Failed, "{s:?}");
    assert_ne!(s.reason, "DOWNSTREAM_DRAINING", "{s:?}");
    assert_eq!(s.attempts, 1, "{s:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}
