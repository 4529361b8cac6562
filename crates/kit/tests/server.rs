//! The server bootstrap, end to end: a real server on 127.0.0.1:0, called through
//! generated clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use kit::config::ServerConfig;
use kit::metrics::Metrics;
use kit::server::{RunningServer, ServerOptions, Shutdown, start};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SERVICE: &str = "axle.bench.v1.EchoService";

/// Echo that sleeps when the payload is "sleep:<ms>", and counts completions.
#[derive(Clone, Default)]
struct SlowEcho {
    completed: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl EchoService for SlowEcho {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let payload = req.into_inner().payload;
        if let Some(ms) = payload.strip_prefix("sleep:") {
            let ms: u64 = ms
                .parse()
                .map_err(|_| Status::invalid_argument("bad sleep"))?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(EchoResponse { payload }))
    }
}

struct Harness {
    server: RunningServer,
    shutdown: Shutdown,
    channel: Channel,
    metrics: Metrics,
    echo: SlowEcho,
}

async fn harness(cfg: impl FnOnce(&mut ServerConfig)) -> Harness {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        metrics_listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..ServerConfig::default()
    };
    cfg(&mut config);
    let echo = SlowEcho::default();
    let metrics = Metrics::new();
    let shutdown = Shutdown::new();
    let server = start(
        ServerOptions {
            config,
            service_names: vec![SERVICE],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics: metrics.clone(),
        },
        tonic::service::Routes::new(EchoServiceServer::new(echo.clone())),
        shutdown.clone(),
    )
    .await
    .expect("server starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    Harness {
        server,
        shutdown,
        channel,
        metrics,
        echo,
    }
}

async fn health(channel: &Channel, service: &str) -> ServingStatus {
    let resp = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health answers");
    ServingStatus::try_from(resp.into_inner().status).expect("known status")
}

#[tokio::test]
async fn health_serving_then_not_serving_on_shutdown_while_in_flight_call_completes() {
    let h = harness(|_| {}).await;
    assert_eq!(health(&h.channel, SERVICE).await, ServingStatus::Serving);
    assert_eq!(health(&h.channel, "").await, ServingStatus::Serving);

    let mut client = EchoServiceClient::new(h.channel.clone());
    let in_flight = tokio::spawn(async move {
        client
            .echo(EchoRequest {
                payload: "sleep:300".into(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.shutdown.trigger();
    // The call that was running when shutdown began still gets its answer.
    let resp = in_flight
        .await
        .expect("task")
        .expect("in-flight call completes");
    assert_eq!(resp.into_inner().payload, "sleep:300");
    h.server.wait().await.expect("clean stop");
    assert_eq!(h.echo.completed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn health_watchers_see_not_serving_when_draining_starts() {
    let h = harness(|c| c.shutdown_grace = Duration::from_secs(10)).await;
    let mut watch = HealthClient::new(h.channel.clone())
        .watch(HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch
        .message()
        .await
        .expect("stream")
        .expect("first status");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    h.shutdown.trigger();
    let next = watch
        .message()
        .await
        .expect("stream")
        .expect("status change");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    // Then the server ends the stream, so one watcher cannot hold shutdown for the whole
    // grace period (30 s by default, as long as Kubernetes' own).
    let end = watch.message().await;
    assert!(
        matches!(&end, Err(s) if s.code() == Code::Unavailable) || matches!(end, Ok(None)),
        "{end:?}"
    );
    let stopped = std::time::Instant::now();
    h.server.wait().await.expect("clean stop");
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "the drain waited out the 10 s grace period"
    );
}

#[tokio::test]
async fn the_drain_delay_keeps_answering_not_serving_before_closing() {
    let h = harness(|c| {
        c.drain_delay = Duration::from_millis(500);
        c.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    h.shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A prober polling Check (as Kubernetes does) sees NOT_SERVING during the delay.
    assert_eq!(health(&h.channel, SERVICE).await, ServingStatus::NotServing);
    h.server.wait().await.expect("clean stop");
}

#[tokio::test]
async fn metrics_stay_scrapeable_through_the_drain() {
    let h = harness(|c| {
        c.drain_delay = Duration::from_millis(500);
        c.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let addr = h.server.metrics_addr.expect("metrics");
    assert_eq!(health(&h.channel, SERVICE).await, ServingStatus::Serving);
    h.shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The drain is when shed calls and final counters matter.
    let text = http_get(addr, "/metrics").await;
    assert!(text.contains("grpc_server_started"), "{text}");
    let finished = h.server.finished();
    h.server.wait().await.expect("clean stop");
    tokio::time::timeout(Duration::from_secs(1), finished.triggered())
        .await
        .expect("finished fires once the server has stopped");
}

#[tokio::test]
async fn grpc_timeout_expiry_is_deadline_exceeded() {
    // A client's own grpc-timeout is enforced by the client too (tonic reports its local
    // expiry as CANCELLED), so the header path is unit-tested in `kit::deadline`; here the
    // server's cap is what expires.
    // The server-side cap applies when the client sets no deadline.
    let h = harness(|c| c.request_timeout = Duration::from_millis(100)).await;
    let err = EchoServiceClient::new(h.channel.clone())
        .echo(EchoRequest {
            payload: "sleep:2000".into(),
        })
        .await
        .expect_err("capped");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        err.message().contains("request_timeout"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_start() {
    for (tweak, key) in [
        (
            (|c: &mut ServerConfig| c.request_timeout = Duration::ZERO) as fn(&mut ServerConfig),
            "server.request_timeout",
        ),
        (
            |c: &mut ServerConfig| c.max_concurrent_requests = 0,
            "server.max_concurrent_requests",
        ),
    ] {
        let mut cfg = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..ServerConfig::default()
        };
        tweak(&mut cfg);
        let err = start(
            ServerOptions {
                config: cfg,
                service_names: vec![SERVICE],
                file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
                metrics: Metrics::new(),
            },
            tonic::service::Routes::new(EchoServiceServer::new(SlowEcho::default())),
            Shutdown::new(),
        )
        .await
        .expect_err("refused");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[tokio::test]
async fn overload_is_shed_with_resource_exhausted() {
    let h = harness(|c| c.max_concurrent_requests = 1).await;
    let mut busy = EchoServiceClient::new(h.channel.clone());
    let first = tokio::spawn(async move {
        busy.echo(EchoRequest {
            payload: "sleep:400".into(),
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = EchoServiceClient::new(h.channel.clone())
        .echo(EchoRequest {
            payload: "x".into(),
        })
        .await
        .expect_err("shed");
    assert_eq!(err.code(), Code::ResourceExhausted);
    // Probes are never shed: a busy replica is not an unhealthy one.
    assert_eq!(health(&h.channel, SERVICE).await, ServingStatus::Serving);
    first.await.expect("task").expect("first call unaffected");
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_services() {
    use tonic_reflection::pb::v1 as r1;
    use tonic_reflection::pb::v1alpha as r1a;
    let h = harness(|_| {}).await;

    let mut c1 = r1::server_reflection_client::ServerReflectionClient::new(h.channel.clone());
    let req = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = c1
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("v1 answers")
        .into_inner();
    let resp = stream.message().await.expect("stream").expect("message");
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        resp.message_response
    else {
        panic!("unexpected v1 response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&SERVICE.to_owned()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    // Reflection lists itself, both versions, as grpc-go and grpc-java do.
    for r in [
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(names.contains(&r.to_owned()), "{names:?}");
    }

    let mut c2 = r1a::server_reflection_client::ServerReflectionClient::new(h.channel.clone());
    let req = r1a::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            r1a::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = c2
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .expect("v1alpha answers")
        .into_inner();
    let resp = stream.message().await.expect("stream").expect("message");
    assert!(matches!(
        resp.message_response,
        Some(r1a::server_reflection_response::MessageResponse::ListServicesResponse(_))
    ));
}

#[tokio::test]
async fn metrics_count_rpcs_by_code() {
    let h = harness(|_| {}).await;
    let mut client = EchoServiceClient::new(h.channel.clone());
    client
        .echo(EchoRequest {
            payload: "a".into(),
        })
        .await
        .expect("ok");
    let err = client
        .echo(EchoRequest {
            payload: "sleep:x".into(),
        })
        .await
        .expect_err("bad sleep");
    assert_eq!(err.code(), Code::InvalidArgument);
    let text = h.metrics.encode();
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_type="unary",grpc_service="axle.bench.v1.EchoService",grpc_method="Echo",grpc_code="OK"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"grpc_code="InvalidArgument"} 1"#), "{text}");
    assert!(
        text.contains("grpc_server_handling_seconds_bucket"),
        "{text}"
    );

    // Streams are labelled as such, from the descriptors.
    let mut watch = HealthClient::new(h.channel.clone())
        .watch(HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await
        .expect("watch");
    let _ = watch.get_mut().message().await;
    let text = h.metrics.encode();
    assert!(
        text.contains(r#"grpc_server_started_total{grpc_type="server_stream",grpc_service="grpc.health.v1.Health",grpc_method="Watch"} 1"#),
        "{text}"
    );

    // A path nobody serves is UNIMPLEMENTED and is counted without its made-up name:
    // clients must not be able to mint label values.
    let mut grpc = tonic::client::Grpc::new(h.channel.clone());
    grpc.ready().await.expect("ready");
    let err = grpc
        .unary::<EchoRequest, EchoResponse, _>(
            tonic::Request::new(EchoRequest::default()),
            http::uri::PathAndQuery::from_static("/made.up.Service/Random123"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("unimplemented");
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(
        err.message().contains("/made.up.Service/Random123"),
        "{err:?}"
    );
    let text = h.metrics.encode();
    assert!(!text.contains("Random123"), "{text}");

    // A body that is not the method's message is the client's error, not INTERNAL.
    grpc.ready().await.expect("ready");
    let err = grpc
        .unary::<Bogus, EchoResponse, _>(
            tonic::Request::new(Bogus { n: 7 }),
            http::uri::PathAndQuery::from_static("/axle.bench.v1.EchoService/Echo"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("not an EchoRequest");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let text = h.metrics.encode();
    assert!(
        text.contains(r#"grpc_method="Echo",grpc_code="InvalidArgument"} 2"#),
        "counted as the client's error: {text}"
    );
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#),
        "{text}"
    );

    // The same text over HTTP.
    let addr = h.server.metrics_addr.expect("metrics listener");
    let body = http_get(addr, "/metrics").await;
    assert!(body.contains("grpc_server_handled_total"), "{body}");
}

/// A message whose field 1 is a number where EchoRequest has a string.
#[derive(Clone, PartialEq, prost::Message)]
struct Bogus {
    #[prost(uint64, tag = "1")]
    n: u64,
}

/// A minimal HTTP/1.0 GET, so the test needs no HTTP client crate.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}
