//! The RPC span records the gRPC status of normal answers (sent in the trailers), not
//! only of early failures (sent in the headers).

use std::io::Write;
use std::sync::{Arc, Mutex};

use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use kit::config::ServerConfig;
use kit::metrics::Metrics;
use kit::server::{ServerOptions, Shutdown, start};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Echo;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let payload = req.into_inner().payload;
        if payload == "fail" {
            return Err(Status::not_found("nothing"));
        }
        Ok(Response::new(EchoResponse { payload }))
    }
}

#[tokio::test]
async fn spans_carry_the_status_of_ok_and_failed_calls() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start(
        ServerOptions {
            config: ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                ..ServerConfig::default()
            },
            service_names: vec!["axle.bench.v1.EchoService"],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics: Metrics::new(),
        },
        tonic::service::Routes::new(EchoServiceServer::new(Echo)),
        Shutdown::new(),
    )
    .await
    .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = EchoServiceClient::new(channel);
    client
        .echo(EchoRequest {
            payload: "ok".into(),
        })
        .await
        .expect("ok");
    let _ = client
        .echo(EchoRequest {
            payload: "fail".into(),
        })
        .await
        .expect_err("not found");
    // Spans close once their response bodies are done; give the server a moment.
    for _ in 0..50 {
        let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
        if text.matches("grpc.request").count() >= 2 && text.contains("status_code=\"5\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    assert!(text.contains("rpc.grpc.status_code=\"0\""), "{text}");
    assert!(text.contains("rpc.grpc.status_code=\"5\""), "{text}");
}

/// One log line per RPC with method, code, latency and the caller's trace id, and the
/// trace id on every line logged inside the RPC: logs join traces.
#[tokio::test]
async fn every_rpc_ends_with_one_access_line_carrying_the_trace_id() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(move || writer.clone()),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start(
        ServerOptions {
            config: ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                ..ServerConfig::default()
            },
            service_names: vec!["axle.bench.v1.EchoService"],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics: Metrics::new(),
        },
        tonic::service::Routes::new(EchoServiceServer::new(Echo)),
        Shutdown::new(),
    )
    .await
    .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = EchoServiceClient::new(channel);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for payload in ["ok", "fail"] {
        let mut req = Request::new(EchoRequest {
            payload: payload.into(),
        });
        req.metadata_mut().insert(
            "traceparent",
            format!("00-{trace}-00f067aa0ba902b7-01")
                .parse()
                .expect("metadata"),
        );
        let _ = client.echo(req).await;
    }
    let lines = || -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&captured.0.lock().expect("lock"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v["message"] == "rpc finished")
            .collect()
    };
    for _ in 0..50 {
        if lines().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let lines = lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let codes: Vec<&str> = lines
        .iter()
        .map(|l| l["grpc_code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["OK", "NotFound"]);
    for l in &lines {
        assert_eq!(l["rpc"], "axle.bench.v1.EchoService/Echo", "{l}");
        assert_eq!(l["trace_id"], trace, "{l}");
        assert!(
            l["latency_ms"].as_str().is_some_and(|s| !s.is_empty()),
            "{l}"
        );
        assert_eq!(l["span"]["trace_id"], trace, "the span carries it too: {l}");
    }
}
