//! What a client can make the webhook server hold, probed with raw TCP clients on
//! 127.0.0.1: stalled heads, stalled and oversized bodies, idle keep-alive connections,
//! more connections than allowed, and a stop with requests in flight.
//!
//! Limits are set short (hundreds of ms) and every wait is bounded generously (10 s):
//! the tests check that the server lets go, never how fast.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use callback::webhook::{ServerLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new()
        .route(
            "/echo",
            axum::routing::post(|body: bytes::Bytes| async move { format!("got {}", body.len()) }),
        )
        .route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow done"
            }),
        )
}

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        max_body_bytes: 4096,
        request_timeout: Duration::from_secs(5),
        max_connections: 8,
        ..ServerLimits::default()
    }
}

async fn start(
    limits: ServerLimits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, task) = serve(
        "127.0.0.1:0".parse().expect("addr"),
        app(),
        limits,
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .expect("listens");
    (addr, stop, task)
}

/// Reads until the server closes the connection (or `BOUND` passes): what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Result<String, &'static str> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Err("still open"),
            Ok(Ok(0) | Err(_)) => return Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_of(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("")
}

#[tokio::test]
async fn a_stalled_request_head_is_cut_off() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // ... and nothing more: the server must not wait for the rest forever.
    assert!(
        read_until_closed(&mut s).await.is_ok(),
        "the connection was closed"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .expect("write");
    let response = read_until_closed(&mut s)
        .await
        .expect("closed after idling");
    assert_eq!(status_of(&response), "200", "{response}");
    assert!(response.ends_with("got 2"), "{response}");
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_is_closed() {
    let (addr, _stop, _task) = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .expect("write");
    let response = read_until_closed(&mut s).await.expect("closed");
    assert_eq!(status_of(&response), "408", "{response}");
    assert!(response.ends_with("fail"), "{response}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let (addr, _stop, _task) = start(limits()).await;
    // Declared: refused at once, without sending a byte of it.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1900000\r\n\r\n")
        .await
        .expect("write");
    let response = read_until_closed(&mut s).await.expect("closed");
    assert_eq!(status_of(&response), "413", "{response}");
    // Chunked, with no length declared: refused once the limit is passed.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("write");
    let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
    for _ in 0..3 {
        // The server may close before every chunk is written.
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let response = read_until_closed(&mut s).await.expect("closed");
    assert_eq!(status_of(&response), "413", "{response}");
    // Within the limit: served.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await
    .expect("write");
    let response = read_until_closed(&mut s).await.expect("closed");
    assert!(response.ends_with("got 5"), "{response}");
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_and_slots_come_back() {
    let (addr, _stop, _task) = start(ServerLimits {
        // Long enough that the stalled connections hold their slots through the test.
        header_read_timeout: Duration::from_secs(30),
        max_connections: 3,
        ..limits()
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"POST /echo HTTP/1.1\r\n")
            .await
            .expect("write");
        stalled.push(s);
    }
    // The accept loop takes them in order; a new connection is refused once all three
    // hold their slots.
    let deadline = Instant::now() + BOUND;
    loop {
        let mut extra = TcpStream::connect(addr).await.expect("connect");
        let _ = extra
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await;
        let response = read_until_closed(&mut extra).await.unwrap_or_default();
        if status_of(&response) == "503" {
            assert!(response.ends_with("fail"), "{response}");
            break;
        }
        assert!(Instant::now() < deadline, "never refused: {response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A stalled client leaves: its slot serves the next vendor.
    drop(stalled.pop());
    let deadline = Instant::now() + BOUND;
    loop {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let _ = s
            .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            .await;
        let response = read_until_closed(&mut s).await.unwrap_or_default();
        if status_of(&response) == "200" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {response}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stop_lets_requests_in_flight_finish_and_bounds_the_rest() {
    let (addr, stop, task) = start(ServerLimits {
        header_read_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(2),
        ..limits()
    })
    .await;
    // One connection that never finishes its head, one request being handled.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled
        .write_all(b"POST /slow HTTP/1.1\r\n")
        .await
        .expect("write");
    let mut busy = TcpStream::connect(addr).await.expect("connect");
    busy.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped_at = Instant::now();
    stop.send(()).expect("stop");
    let response = read_until_closed(&mut busy)
        .await
        .expect("answered, then closed");
    assert!(response.ends_with("slow done"), "{response}");
    tokio::time::timeout(BOUND, task)
        .await
        .expect("the server ends within its grace, stalled clients or not")
        .expect("task");
    assert!(stopped_at.elapsed() < BOUND);
    // The listener is gone.
    assert!(TcpStream::connect(addr).await.is_err());
    // And so is the stalled connection.
    assert!(read_until_closed(&mut stalled).await.is_ok());
}
