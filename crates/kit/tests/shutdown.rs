//! The shutdown contract with real servers on 127.0.0.1:0: health NOT_SERVING at once,
//! new calls and connections served through `drain_delay`, then connections refused,
//! calls in flight given `shutdown_grace`, then cut, and the server's future resolved
//! within the bound. Timings are asserted generously (the machine is shared): lower
//! bounds where the contract promises time, "well within" upper bounds where it promises
//! an end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use contracts::axle::bench::v1::echo_service_client::EchoServiceClient;
use contracts::axle::bench::v1::echo_service_server::{EchoService, EchoServiceServer};
use contracts::axle::bench::v1::{EchoRequest, EchoResponse};
use kit::config::ServerConfig;
use kit::metrics::Metrics;
use kit::server::{RunningServer, ServerOptions, Shutdown, start};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// Slack on top of every bound the contract promises: generous, for a shared machine.
const SLACK: Duration = Duration::from_secs(2);

/// Echo that sleeps "sleep:<ms>", and counts the calls that started, finished, or were
/// dropped before finishing (cancelled by the cut).
#[derive(Clone, Default)]
struct Counted {
    started: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct Unfinished(Arc<AtomicUsize>, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tonic::async_trait]
impl EchoService for Counted {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let mut guard = Unfinished(self.dropped.clone(), false);
        let payload = req.into_inner().payload;
        if let Some(ms) = payload.strip_prefix("sleep:") {
            let ms: u64 = ms
                .parse()
                .map_err(|_| Status::invalid_argument("bad sleep"))?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        guard.1 = true;
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(EchoResponse { payload }))
    }
}

async fn serve(drain_delay: Duration, grace: Duration) -> (RunningServer, Shutdown, Counted) {
    let echo = Counted::default();
    let shutdown = Shutdown::new();
    let server = start(
        ServerOptions {
            config: ServerConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                drain_delay,
                shutdown_grace: grace,
                ..ServerConfig::default()
            },
            service_names: vec!["axle.bench.v1.EchoService"],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics: Metrics::new(),
        },
        tonic::service::Routes::new(EchoServiceServer::new(echo.clone())),
        shutdown.clone(),
    )
    .await
    .expect("server starts");
    (server, shutdown, echo)
}

async fn connect(addr: std::net::SocketAddr) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
}

fn call(
    channel: &Channel,
    payload: &str,
) -> tokio::task::JoinHandle<Result<Response<EchoResponse>, Status>> {
    let mut client = EchoServiceClient::new(channel.clone());
    let payload = payload.to_owned();
    tokio::spawn(async move { client.echo(EchoRequest { payload }).await })
}

/// Waits (bounded) until `counter` reaches `n`.
async fn reaches(counter: &AtomicUsize, n: usize) -> bool {
    for _ in 0..250 {
        if counter.load(Ordering::SeqCst) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn calls_within_the_grace_finish_later_ones_are_cut_and_the_server_ends_in_time() {
    let grace = Duration::from_secs(1);
    let (server, shutdown, echo) = serve(Duration::ZERO, grace).await;
    let addr = server.grpc_addr;
    let channel = connect(addr).await.expect("connects");
    let quick: Vec<_> = (0..4).map(|_| call(&channel, "sleep:300")).collect();
    let slow: Vec<_> = (0..4).map(|_| call(&channel, "sleep:60000")).collect();
    assert!(reaches(&echo.started, 8).await, "all eight calls running");

    let triggered = Instant::now();
    shutdown.trigger();
    for q in quick {
        q.await
            .expect("task")
            .expect("a call that ends within the grace period gets its answer");
    }
    tokio::time::timeout(grace + SLACK, server.wait())
        .await
        .expect("the server's future resolves within the grace period (+ slack)")
        .expect("clean stop");
    let stopped = triggered.elapsed();
    assert!(
        stopped + Duration::from_millis(100) >= grace,
        "calls in flight were given the grace period: {stopped:?}"
    );
    for s in slow {
        let cut = tokio::time::timeout(SLACK, s)
            .await
            .expect("the cut call's client learns of it")
            .expect("task");
        assert!(
            cut.is_err(),
            "a call still running at the end of the grace is cut"
        );
    }
    assert_eq!(echo.completed.load(Ordering::SeqCst), 4);
    assert!(
        reaches(&echo.dropped, 4).await,
        "the cut handlers are cancelled, not left running: {} dropped",
        echo.dropped.load(Ordering::SeqCst)
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn the_drain_delay_serves_new_calls_then_connections_are_refused() {
    let drain = Duration::from_millis(600);
    let grace = Duration::from_secs(1);
    let (server, shutdown, _) = serve(drain, grace).await;
    let addr = server.grpc_addr;
    let triggered = Instant::now();
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While load balancers learn of NOT_SERVING, a new connection and a new call are
    // still served.
    let fresh = connect(addr)
        .await
        .expect("accepting during the drain delay");
    EchoServiceClient::new(fresh)
        .echo(EchoRequest {
            payload: "x".into(),
        })
        .await
        .expect("served during the drain delay");
    // Then the listener closes.
    let mut refused = false;
    for _ in 0..150 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "connections are refused after the drain delay");
    assert!(
        triggered.elapsed() >= drain,
        "not before the drain delay: {:?}",
        triggered.elapsed()
    );
    tokio::time::timeout(drain + grace + SLACK, server.wait())
        .await
        .expect("resolves within drain delay + grace (+ slack)")
        .expect("clean stop");
}

#[tokio::test]
async fn with_nothing_in_flight_the_server_ends_without_waiting_for_the_grace() {
    let (server, shutdown, _) = serve(Duration::ZERO, Duration::from_secs(30)).await;
    let channel = connect(server.grpc_addr).await.expect("connects");
    call(&channel, "x").await.expect("task").expect("ok");
    shutdown.trigger();
    tokio::time::timeout(SLACK, server.wait())
        .await
        .expect("an idle connection does not hold the shutdown for 30 s")
        .expect("clean stop");
}

#[tokio::test]
async fn work_the_calls_left_running_ends_before_the_server_counts_as_stopped() {
    let grace = Duration::from_secs(2);
    let (server, shutdown, _) = serve(Duration::ZERO, grace).await;
    let finished = server.finished();
    let ended = Arc::new(AtomicUsize::new(0));
    {
        let ended = ended.clone();
        server.finish_after(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            ended.fetch_add(1, Ordering::SeqCst);
        });
    }
    let triggered = Instant::now();
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        !finished.is_triggered(),
        "side listeners (webhooks) stay up while the work runs"
    );
    tokio::time::timeout(grace + SLACK, server.wait())
        .await
        .expect("resolves")
        .expect("clean stop");
    assert_eq!(ended.load(Ordering::SeqCst), 1, "the work ended first");
    assert!(triggered.elapsed() >= Duration::from_millis(400));
    assert!(finished.is_triggered());
}

#[tokio::test]
async fn work_outlasting_the_grace_period_does_not_hold_the_stop() {
    let grace = Duration::from_millis(600);
    let (server, shutdown, _) = serve(Duration::ZERO, grace).await;
    server.finish_after(tokio::time::sleep(Duration::from_secs(60)));
    let triggered = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(grace + SLACK, server.wait())
        .await
        .expect("abandoned at the end of the grace period")
        .expect("clean stop");
    assert!(
        triggered.elapsed() + Duration::from_millis(50) >= grace,
        "given the grace period: {:?}",
        triggered.elapsed()
    );
}

#[tokio::test]
async fn side_listeners_outlive_the_drain_and_close_before_the_server_counts_as_stopped() {
    let grace = Duration::from_secs(3);
    let (server, shutdown, _) = serve(Duration::ZERO, grace).await;
    let finished = server.finished();
    let side = Shutdown::new();
    // Work a call left running (a paid submission) and a webhook that, once told to
    // stop, still answers the callback it accepted for 300 ms.
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let order = order.clone();
        side.defer(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            order.lock().expect("lock").push("submission settled");
        });
    }
    {
        let (order, side_stop) = (order.clone(), side.clone());
        side.close_with(async move {
            side_stop.triggered().await;
            order.lock().expect("lock").push("webhook told to stop");
            tokio::time::sleep(Duration::from_millis(300)).await;
            order.lock().expect("lock").push("webhook closed");
        });
    }
    let webhook = kit::server::SideListener {
        name: "vendor",
        addr: "127.0.0.1:4321".parse().expect("addr"),
        path: "/webhooks/vendor",
    };
    side.listening(webhook.clone());
    assert!(server.side_listeners().is_empty(), "not attached yet");
    server.attach_side(side.clone());
    assert_eq!(
        server.side_listeners(),
        vec![webhook.clone()],
        "the server says where"
    );
    assert_eq!(webhook.url(), "http://127.0.0.1:4321/webhooks/vendor");
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!side.is_triggered(), "the webhook listens while work runs");
    tokio::time::timeout(grace + SLACK, server.wait())
        .await
        .expect("resolves within the bound")
        .expect("clean stop");
    assert!(finished.is_triggered());
    assert_eq!(
        *order.lock().expect("lock"),
        [
            "submission settled",
            "webhook told to stop",
            "webhook closed"
        ],
        "the server counts as stopped only once its webhook has closed"
    );
}

#[tokio::test]
async fn a_side_listener_that_never_closes_does_not_hold_the_stop() {
    let grace = Duration::from_millis(600);
    let (server, shutdown, _) = serve(Duration::ZERO, grace).await;
    let side = Shutdown::new();
    side.close_with(std::future::pending());
    server.attach_side(side);
    let triggered = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(grace + kit::server::CUT_BOUND + SLACK, server.wait())
        .await
        .expect("abandoned at the end of the shutdown bound")
        .expect("clean stop");
    assert!(
        triggered.elapsed() + Duration::from_millis(50) >= grace + kit::server::CUT_BOUND,
        "given the rest of the bound: {:?}",
        triggered.elapsed()
    );
}

#[test]
fn a_side_signal_drains_with_its_main_and_stops_on_its_own() {
    let main = Shutdown::new();
    let side = Shutdown::side_of(&main);
    assert!(!*side.draining().borrow());
    main.trigger();
    assert!(
        *side.draining().borrow(),
        "what the side listeners started knows the process is stopping"
    );
    assert!(
        !side.is_triggered(),
        "the side listeners themselves stop later, after the server"
    );
    let alone = Shutdown::new();
    alone.trigger();
    assert!(*alone.draining().borrow());
}

/// Axle's own client side (the aggregator's) through a whole drain: callers sending
/// without pause on one connection see the server stop in every way a stop shows (calls
/// answered while it drains, streams its final GOAWAY refused, connections refused
/// after the listener closed), and never INTERNAL or UNKNOWN: a refused stream is sent
/// again or reported as the drain it is. Every call the server ran was answered OK.
#[tokio::test]
async fn a_kit_client_sees_a_drain_as_answers_and_unavailable_never_internal() {
    use kit::client::{ClientConfig, ServiceClient};

    let (server, shutdown, echo) = serve(Duration::from_millis(300), Duration::from_secs(2)).await;
    let cfg = ClientConfig {
        endpoint: format!("http://{}", server.grpc_addr),
        // Every outcome is to be seen, not short-cut by an open breaker.
        breaker: kit::client::breaker::BreakerConfig {
            enabled: false,
            ..kit::client::breaker::BreakerConfig::default()
        },
        ..ClientConfig::default()
    };
    let client =
        Arc::new(ServiceClient::new("echo", &cfg, EchoServiceClient::new).expect("client"));
    let stop_sending = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let stop_sending = stop_sending.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                // Bounded: ~1 ms calls for the test's 1-2 s, whatever the machine.
                for _ in 0..20_000 {
                    if stop_sending.load(Ordering::SeqCst) {
                        break;
                    }
                    let message = EchoRequest {
                        payload: "sleep:1".to_owned(),
                    };
                    let reply = client
                        .call(None, message, |mut c, r| async move { c.echo(r).await })
                        .await;
                    outcomes.push((reply.status.code, reply.status.reason));
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(2) + SLACK, server.wait())
        .await
        .expect("the server stops in time")
        .expect("clean stop");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_sending.store(true, Ordering::SeqCst);

    let mut ok = 0;
    let mut failed = std::collections::BTreeMap::<(i32, String), usize>::new();
    for w in workers {
        for (code, reason) in w.await.expect("worker") {
            if code == tonic::Code::Ok as i32 {
                ok += 1;
            } else {
                *failed.entry((code, reason)).or_default() += 1;
            }
        }
    }
    for (code, reason) in failed.keys() {
        assert_eq!(
            *code,
            tonic::Code::Unavailable as i32,
            "only UNAVAILABLE after the stop, not {reason}: {failed:?}"
        );
        assert!(
            ["DOWNSTREAM_UNREACHABLE", "DOWNSTREAM_DRAINING"].contains(&reason.as_str()),
            "{failed:?}"
        );
    }
    assert!(ok > 0 && !failed.is_empty(), "{ok} OK, {failed:?}");
    assert_eq!(echo.dropped.load(Ordering::SeqCst), 0, "nothing was cut");
    assert_eq!(
        echo.completed.load(Ordering::SeqCst),
        ok,
        "every call that ran was answered OK, and no answer came from nowhere"
    );
}
