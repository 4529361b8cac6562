//! The listener's bounds, from outside: a stalled head is closed, the cap answers 503,
//! a stop lets the request in flight finish and cuts what outlives the close bound.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Answers after the number of milliseconds in the path (`/250`), or at once.
fn service() -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<http_body_util::Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        let ms: u64 = req
            .uri()
            .path()
            .trim_start_matches('/')
            .parse()
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
            Bytes::from_static(b"done"),
        )))
    })
}

fn limits(max_connections: Option<usize>, close_bound: Duration) -> listener::Limits {
    listener::Limits {
        header_read_timeout: Duration::from_millis(300),
        max_header_bytes: 8192,
        max_connections,
        close_bound,
    }
}

async fn start(
    limits: listener::Limits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = listener::spawn(
        l,
        service(),
        limits,
        async move {
            let _ = rx.await;
        },
        "test listener",
    );
    (addr, tx, task)
}

/// Sends `GET path` and reads until the server closes (bounded).
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_head_that_never_completes_is_closed_after_the_header_timeout() {
    let (addr, _stop, _task) = start(limits(None, Duration::from_secs(1))).await;
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"GET / HTTP/1.1\r\nhost:")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "closed, not held");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn over_the_cap_a_connection_gets_503_at_once() {
    let (addr, _stop, _task) = start(limits(Some(1), Duration::from_secs(1))).await;
    let held = tokio::spawn(get(addr, "/800"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = get(addr, "/").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 5"), "{refused}");
    assert!(held.await.expect("task").contains("done"));
}

#[tokio::test]
async fn a_stop_lets_the_request_in_flight_finish() {
    let (addr, stop, task) = start(limits(None, Duration::from_secs(2))).await;
    let in_flight = tokio::spawn(get(addr, "/400"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("ends within the close bound")
        .expect("task");
    assert!(in_flight.await.expect("task").contains("done"));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn what_outlives_the_close_bound_is_cut() {
    let (addr, stop, task) = start(limits(None, Duration::from_millis(300))).await;
    let slow = tokio::spawn(get(addr, "/10000"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = Instant::now();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("the bound is hard")
        .expect("task");
    assert!(stopped.elapsed() < Duration::from_secs(2));
    assert!(!slow.await.expect("task").contains("done"));
}
