//! W3C trace context end to end: a caller's `traceparent` becomes the parent of the RPC's
//! span, and the vendor call made inside it carries the same trace id onward, so one trace
//! shows the caller, vin-service and the vendor.
//!
//! Its own test binary: it installs the process-wide tracing subscriber.

mod common;

use std::sync::{Arc, Mutex};

use contracts::axle::vin::v1::DecodeVinRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A vendor stand-in that records the request head of every call and answers connapi's
/// "no record" (404 in the body) so the RPC completes normally.
async fn recording_vendor() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut n = 0;
                // Bounded: read until the end of the head or the buffer is full.
                while n < buf.len() {
                    match conn.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                log.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf[..n]).to_lowercase());
                let body = r#"{"code":404,"msg":"请求资源不存在","data":null}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn the_callers_trace_id_reaches_the_vendor() {
    let _guard = kit::telemetry::init(&kit::config::TelemetryConfig::default(), "trace-test")
        .expect("telemetry");
    let (vendor, seen) = recording_vendor().await;
    let mut s = common::suite_with_sandbox(vendor, |_| {}).await;

    let mut req = tonic::Request::new(DecodeVinRequest {
        vin: "LRW3E7FA5LC012345".to_owned(),
    });
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
            .parse()
            .expect("ascii"),
    );
    let resp = s.client.decode_vin(req).await.expect("answer");
    assert!(!resp.into_inner().sources.is_empty());

    let heads = seen.lock().expect("lock").clone();
    assert!(!heads.is_empty(), "the vendor was called");
    for head in &heads {
        let tp = head
            .lines()
            .find_map(|l| l.strip_prefix("traceparent: "))
            .unwrap_or_else(|| panic!("no traceparent in {head}"));
        // Same trace, a new span (vin-service's), still sampled.
        let parts: Vec<&str> = tp.trim().split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[1], TRACE_ID, "{tp}");
        assert_ne!(parts[2], CALLER_SPAN, "{tp}");
        assert_eq!(parts[3], "01", "{tp}");
    }
}

#[tokio::test]
async fn without_a_caller_context_the_vendor_call_starts_a_trace() {
    let _guard = kit::telemetry::init(&kit::config::TelemetryConfig::default(), "trace-test")
        .expect("telemetry");
    let (vendor, seen) = recording_vendor().await;
    let mut s = common::suite_with_sandbox(vendor, |_| {}).await;
    s.client
        .decode_vin(DecodeVinRequest {
            vin: "LRW3E7FA5LC012345".to_owned(),
        })
        .await
        .expect("answer");
    let heads = seen.lock().expect("lock").clone();
    let tp = heads[0]
        .lines()
        .find_map(|l| l.strip_prefix("traceparent: "))
        .expect("traceparent");
    assert!(!tp.contains(TRACE_ID), "{tp}");
    assert_eq!(tp.trim().len(), 55, "{tp}");
}
