//! VendorClient against scripted HTTP servers on 127.0.0.1:0.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use connector::VendorError;
use connector::client::{
    Classification, ClientContext, Operation, RawResponse, VendorClient, classify_http_status,
    retry_or_fail,
};
use connector::config::{HttpClientConfig, Jitter, RateLimitConfig, RetryPolicy};
use connector::metrics::VendorMetrics;
use prometheus_client::registry::Registry;

const LOOKUP: Operation = Operation {
    name: "lookup",
    idempotent: true,
};

/// One scripted answer: status, headers, body.
type Step = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// Serves `script[i]` for the i-th request (the last one repeats).
async fn scripted(script: Vec<Step>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let script = Arc::new(script);
    let app = Router::new().route(
        "/x",
        get(move || {
            let h = h.clone();
            let script = script.clone();
            async move {
                let i = h.fetch_add(1, Ordering::SeqCst).min(script.len() - 1);
                let (status, headers, body) = script[i].clone();
                let mut resp =
                    (StatusCode::from_u16(status).expect("status"), body).into_response();
                for (k, v) in headers {
                    resp.headers_mut().insert(k, v.parse().expect("header"));
                }
                resp
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

fn config(base_url: &str) -> HttpClientConfig {
    HttpClientConfig {
        base_url: base_url.to_owned(),
        request_timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            multiplier: 2.0,
            jitter: Jitter::None,
        },
        ..HttpClientConfig::default()
    }
}

fn body_text(r: &RawResponse) -> Classification<String> {
    match classify_http_status(r) {
        Some(e) => retry_or_fail(e),
        None => match std::str::from_utf8(&r.body) {
            Ok(s) if s.starts_with('{') => Classification::Done(s.to_owned()),
            _ => Classification::Fail(VendorError::MalformedBody {
                detail: "not JSON".into(),
            }),
        },
    }
}

async fn call(
    client: &VendorClient,
    deadline: Option<Instant>,
) -> Result<connector::client::Outcome<String>, connector::client::CallFailure> {
    let url = format!("{}/x?key=SUPERSECRET", client.base_url());
    client
        .execute(LOOKUP, deadline, |http| http.get(&url), body_text)
        .await
}

#[tokio::test]
async fn retries_503_then_succeeds_and_counts_metrics() {
    let (url, hits) = scripted(vec![
        (503, vec![], ""),
        (200, vec![("x-axle-sandbox", "1")], "{}"),
    ])
    .await;
    let mut registry = Registry::default();
    let metrics = VendorMetrics::register(&mut registry);
    let mut cfg = config(&url);
    cfg.cost_per_call = Some(connector::config::CostConfig {
        currency: "CNY".into(),
        amount: 0.5,
    });
    let client =
        VendorClient::new("test", &cfg, &ClientContext::new(metrics, None)).expect("client");
    let out = call(&client, None).await.expect("ok");
    assert_eq!(out.attempts, 2);
    assert!(out.sandbox);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(
        text.contains(r#"vendor_calls_total{vendor="test",operation="lookup",outcome="ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vendor_retries_total{vendor="test",operation="lookup"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vendor_spend_total{vendor="test",currency="CNY"} 0.5"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_billed_answer_that_cannot_be_used_still_counts_as_spend() {
    let (url, _hits) = scripted(vec![(200, vec![], "{}")]).await;
    let mut registry = Registry::default();
    let metrics = VendorMetrics::register(&mut registry);
    let mut cfg = config(&url);
    cfg.cost_per_call = Some(connector::config::CostConfig {
        currency: "CNY".into(),
        amount: 0.5,
    });
    let client =
        VendorClient::new("test", &cfg, &ClientContext::new(metrics, None)).expect("client");
    let err = client
        .execute(
            LOOKUP,
            None,
            |http| http.get(format!("{url}/x")),
            |_: &RawResponse| -> Classification<String> {
                Classification::FailBilled(VendorError::MalformedBody {
                    detail: "unusable".into(),
                })
            },
        )
        .await
        .expect_err("unusable");
    assert!(matches!(err.error, VendorError::MalformedBody { .. }));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    assert!(
        text.contains(r#"vendor_spend_total{vendor="test",currency="CNY"} 0.5"#),
        "{text}"
    );
}

#[tokio::test]
async fn does_not_retry_final_errors() {
    let (url, hits) = scripted(vec![(400, vec![], "")]).await;
    let client = VendorClient::new("test", &config(&url), &ClientContext::noop()).expect("client");
    let err = call(&client, None).await.expect_err("400 is final");
    assert!(
        matches!(err.error, VendorError::HttpStatus { status: 400 }),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let (url, hits) = scripted(vec![
        (429, vec![("retry-after", "1")], ""),
        (200, vec![], "{}"),
    ])
    .await;
    let client = VendorClient::new("test", &config(&url), &ClientContext::noop()).expect("client");
    let t = Instant::now();
    let out = call(&client, None).await.expect("ok after waiting");
    assert_eq!(out.attempts, 2);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn gives_up_instead_of_sleeping_past_the_deadline() {
    let (url, hits) = scripted(vec![(429, vec![("retry-after", "30")], "")]).await;
    let client = VendorClient::new("test", &config(&url), &ClientContext::noop()).expect("client");
    let t = Instant::now();
    let err = call(&client, Some(Instant::now() + Duration::from_secs(2)))
        .await
        .expect_err("cannot wait 30 s");
    assert!(
        matches!(err.error, VendorError::RateLimited { .. }),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn malformed_bodies_are_not_retried() {
    let (url, hits) = scripted(vec![(200, vec![], "<html>")]).await;
    let client = VendorClient::new("test", &config(&url), &ClientContext::noop()).expect("client");
    let err = call(&client, None).await.expect_err("malformed");
    assert!(matches!(err.error, VendorError::MalformedBody { .. }));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slow_vendor_times_out_per_attempt_and_deadline_wins() {
    let app = Router::new().route(
        "/x",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "{}"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut cfg = config(&format!("http://{addr}"));
    cfg.request_timeout = Duration::from_millis(100);
    let client = VendorClient::new("test", &cfg, &ClientContext::noop()).expect("client");
    let err = call(&client, None).await.expect_err("times out");
    assert!(matches!(err.error, VendorError::Timeout { .. }), "{err:?}");
    // With a deadline shorter than the attempt timeout, the deadline is what expires.
    cfg.request_timeout = Duration::from_secs(3);
    let client = VendorClient::new("test", &cfg, &ClientContext::noop()).expect("client");
    let t = Instant::now();
    let err = call(&client, Some(Instant::now() + Duration::from_millis(150)))
        .await
        .expect_err("deadline");
    assert!(
        matches!(err.error, VendorError::DeadlineExceeded),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(err.attempts, 1, "one request went out");
    // A deadline already past: nothing is sent, and nothing is counted as an attempt.
    let err = call(&client, Some(Instant::now()))
        .await
        .expect_err("no time");
    assert!(
        matches!(err.error, VendorError::DeadlineExceeded),
        "{err:?}"
    );
    assert_eq!(err.attempts, 0, "nothing went out");
}

#[tokio::test]
async fn connection_reset_is_a_retryable_transport_error_without_the_url() {
    // A server that accepts and immediately drops every connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            drop(sock);
        }
    });
    let client = VendorClient::new(
        "test",
        &config(&format!("http://{addr}")),
        &ClientContext::noop(),
    )
    .expect("client");
    let err = call(&client, None).await.expect_err("reset");
    assert!(
        matches!(
            err.error,
            VendorError::Io { .. } | VendorError::Connect { .. }
        ),
        "{err:?}"
    );
    assert_eq!(err.attempts, 3);
    assert!(
        !err.sandbox,
        "no answer ever came, from the sandbox or anyone"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "retried up to max_attempts"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("SUPERSECRET"), "{text}");
}

#[tokio::test]
async fn refused_connection_never_leaks_the_query() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let client = VendorClient::new(
        "test",
        &config(&format!("http://127.0.0.1:{port}")),
        &ClientContext::noop(),
    )
    .expect("client");
    let err = call(&client, None).await.expect_err("refused");
    assert!(matches!(err.error, VendorError::Connect { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("SUPERSECRET"));
}

#[tokio::test]
async fn local_rate_limit_refuses_when_the_deadline_is_too_close() {
    let (url, _) = scripted(vec![(200, vec![], "{}")]).await;
    let mut cfg = config(&url);
    cfg.rate_limit = RateLimitConfig {
        per_second: 1.0,
        burst: 1,
    };
    let client = VendorClient::new("test", &cfg, &ClientContext::noop()).expect("client");
    call(&client, None).await.expect("first call has a token");
    let err = call(&client, Some(Instant::now() + Duration::from_millis(100)))
        .await
        .expect_err("no token within 100 ms");
    assert!(
        matches!(err.error, VendorError::LocalRateLimited),
        "{err:?}"
    );
}

#[test]
fn bad_base_urls_are_rejected_clearly() {
    for url in ["", "ftp://x", "http://x/?key=1", "not a url"] {
        let cfg = HttpClientConfig {
            base_url: url.to_owned(),
            ..HttpClientConfig::default()
        };
        let err = VendorClient::new("test", &cfg, &ClientContext::noop()).expect_err(url);
        assert!(err.to_string().contains("base_url"), "{err}");
    }
}

const SUBMIT: Operation = Operation {
    name: "submit",
    idempotent: false,
};

/// A client told of the process's stop by `stopping`.
fn stopping_client(url: &str, stopping: tokio::sync::watch::Receiver<bool>) -> VendorClient {
    VendorClient::new(
        "test",
        &config(url),
        &ClientContext::noop().stopping_on(stopping),
    )
    .expect("client")
}

async fn submit(
    client: &VendorClient,
) -> Result<connector::client::Outcome<String>, connector::client::CallFailure> {
    let url = format!("{}/x", client.base_url());
    client
        .execute(SUBMIT, None, |http| http.get(&url), body_text)
        .await
}

#[tokio::test]
async fn a_paid_submission_waiting_out_retry_after_gives_up_when_the_process_stops() {
    let (url, hits) = scripted(vec![(429, vec![("retry-after", "30")], "")]).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let client = stopping_client(&url, rx);
    let signal = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.send_replace(true);
        tx
    });
    let t = Instant::now();
    let err = submit(&client).await.expect_err("not retried");
    assert!(
        matches!(err.error, VendorError::RateLimited { .. }),
        "the vendor's refusal, as it was: {err:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "did not wait out the 30 s: {:?}",
        t.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    drop(signal.await.expect("signal"));
}

#[tokio::test]
async fn once_stopping_a_submission_makes_its_first_attempt_but_no_retry() {
    let (url, hits) = scripted(vec![(503, vec![], ""), (200, vec![], "{}")]).await;
    let (tx, rx) = tokio::sync::watch::channel(true);
    let client = stopping_client(&url, rx);
    // A call that came in during the drain still goes out: its caller is waiting.
    let err = submit(&client).await.expect_err("503, not retried");
    assert!(
        matches!(
            err.error,
            VendorError::Unavailable { .. } | VendorError::HttpStatus { .. }
        ),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    drop(tx);
}

#[tokio::test]
async fn once_stopping_an_idempotent_call_still_retries() {
    let (url, hits) = scripted(vec![(503, vec![], ""), (200, vec![], "{}")]).await;
    let (tx, rx) = tokio::sync::watch::channel(true);
    let client = stopping_client(&url, rx);
    // Its caller is still waiting: the drain is for such calls.
    let out = call(&client, None).await.expect("retried and answered");
    assert_eq!(out.attempts, 2);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    drop(tx);
}
