//! A shutdown says what it did: a cut names how many connections it cut, and the
//! server's last line is "gRPC server stopped". (Its own test binary: a log captured
//! with a thread's default subscriber misses events while other tests in the same
//! process hit the same callsites with none.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use kit::config::ServerConfig;
use kit::metrics::Metrics;
use kit::server::{ServerOptions, Shutdown, start};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

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

/// Never answers.
struct Stuck;

#[tonic::async_trait]
impl EchoService for Stuck {
    async fn echo(&self, _: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_cut_is_reported_and_the_last_line_says_stopped() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let shutdown = Shutdown::new();
    let server = start(
        ServerOptions {
            config: ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                shutdown_grace: Duration::from_millis(200),
                ..ServerConfig::default()
            },
            service_names: vec!["axle.bench.v1.EchoService"],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics: Metrics::new(),
        },
        tonic::service::Routes::new(EchoServiceServer::new(Stuck)),
        shutdown.clone(),
    )
    .await
    .expect("server starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = EchoServiceClient::new(channel);
    let stuck = tokio::spawn(async move {
        client
            .echo(EchoRequest {
                payload: "x".into(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(3), server.wait())
        .await
        .expect("ends")
        .expect("clean stop");
    assert!(stuck.await.expect("task").is_err(), "cut");
    let text = String::from_utf8_lossy(&logs.0.lock().expect("lock")).into_owned();
    assert!(
        text.contains("shutdown grace period over") && text.contains("connections=1"),
        "{text}"
    );
    let last = text.lines().last().unwrap_or_default();
    assert!(last.contains("gRPC server stopped"), "{text}");
}
