//! The platecb webhook over HTTP: what the vendor sees for good, forged, stale, replayed
//! and duplicate deliveries, and what ends up stored.

mod common;

use std::sync::Arc;

use callback::{SqliteStore, Store};
use plate_service::connectors::platecb::webhook::{PATH, router};
use plate_service::connectors::platecb::{PlatecbConfig, SOURCE as VENDOR, callbacks};

const SECRET: &str = "s3cret";

async fn start() -> (String, Arc<dyn Store>) {
    let (url, store, _) = start_with_path().await;
    (url, store)
}

/// platecb's webhook as plate-service mounts it, on a store file of its own.
async fn start_with_path() -> (String, Arc<dyn Store>, std::path::PathBuf) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "axle-webhook-http-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&path);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("store"));
    let cfg = PlatecbConfig {
        appid: "1365".into(),
        secret: SECRET.to_owned().into(),
        ..PlatecbConfig::default()
    };
    let app = router(callbacks(&cfg, store.clone()).expect("settings"), &cfg);
    let (addr, _task) = callback::webhook::serve(
        "127.0.0.1:0".parse().expect("addr"),
        app,
        cfg.webhook_limits.server_limits(),
        std::future::pending::<()>(),
    )
    .await
    .expect("listens");
    (format!("http://{addr}{PATH}"), store, path)
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

async fn deliver(
    url: &str,
    time: i64,
    appid: &str,
    sign: Option<&str>,
    request_id: &str,
    vin: &str,
) -> (u16, String) {
    let t = time.to_string();
    let good = connector::signing::md5_time_appid_secret(&t, appid, SECRET);
    let response =
        format!(r#"{{"c_plate":"闽DD22222","c_vin":"{vin}","c_properties":"非营业个人"}}"#);
    let form = [
        ("time", t.as_str()),
        ("appid", appid),
        ("request_id", request_id),
        ("request", r#"{"car_no":"闽DD22222"}"#),
        ("sign", sign.unwrap_or(&good)),
        ("response", response.as_str()),
    ];
    let resp = reqwest::Client::new()
        .post(url)
        .form(&form)
        .send()
        .await
        .expect("delivers");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

#[tokio::test]
async fn deliveries_are_verified_stored_once_and_acknowledged() {
    let (url, store) = start().await;
    // Forged: wrong signature.
    assert_eq!(
        deliver(
            &url,
            now(),
            "1365",
            Some("0123456789abcdef0123456789abcdef"),
            "r1",
            "A"
        )
        .await,
        (403, "fail".into())
    );
    // Unknown app.
    assert_eq!(
        deliver(&url, now(), "9999", None, "r1", "A").await.1,
        "fail"
    );
    // A captured delivery replayed an hour later.
    assert_eq!(
        deliver(&url, now() - 3600, "1365", None, "r1", "A").await,
        (403, "fail".into())
    );
    assert!(
        store
            .result_for_request(VENDOR, "r1")
            .await
            .expect("query")
            .is_none(),
        "nothing refused was stored"
    );

    // Genuine, but for a query Axle never made: the signature covers no data, so it is
    // refused and nothing is stored.
    assert_eq!(
        deliver(&url, now(), "1365", None, "r1", "LNBSCC3H5JT920714").await,
        (403, "fail".into())
    );
    assert!(
        store
            .result_for_request(VENDOR, "r1")
            .await
            .expect("q")
            .is_none()
    );

    // Genuine, for our submission r1: stored, then acknowledged.
    store
        .add_pending(VENDOR, "r1", "闽DD22222")
        .await
        .expect("pending");
    assert_eq!(
        deliver(&url, now(), "1365", None, "r1", "LNBSCC3H5JT920714").await,
        (200, "success".into())
    );
    // The platform's retry of the same answer (we said success, it did not hear it):
    // acknowledged again, nothing changes, even if its content differs.
    assert_eq!(
        deliver(&url, now(), "1365", None, "r1", "LCHANGED000000000").await,
        (200, "success".into())
    );
    let stored = store
        .result_for_request(VENDOR, "r1")
        .await
        .expect("query")
        .expect("stored");
    assert!(
        stored.payload.contains("LNBSCC3H5JT920714"),
        "{}",
        stored.payload
    );
    assert_eq!(
        stored.query_key, "闽DD22222",
        "filed under the plate we asked about"
    );

    // Malformed deliveries are refused with fail, so the platform retries.
    let resp = reqwest::Client::new()
        .post(&url)
        .form(&[("time", "x")])
        .send()
        .await
        .expect("delivers");
    assert_eq!(
        (resp.status().as_u16(), resp.text().await.expect("body")),
        (400, "fail".into())
    );
}

/// A genuine (correctly signed) delivery of `response` for `request_id` at `time`.
async fn deliver_response(url: &str, time: i64, request_id: &str, response: &str) -> (u16, String) {
    let t = time.to_string();
    let sign = connector::signing::md5_time_appid_secret(&t, "1365", SECRET);
    let form = [
        ("time", t.as_str()),
        ("appid", "1365"),
        ("request_id", request_id),
        ("request", r#"{"car_no":"闽DD22222"}"#),
        ("sign", sign.as_str()),
        ("response", response),
    ];
    let resp = reqwest::Client::new()
        .post(url)
        .form(&form)
        .send()
        .await
        .expect("delivers");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

/// Moves a submission's time back, as if it had been made `ago` seconds ago.
fn backdate_pending(path: &std::path::Path, request_id: &str, ago: i64) {
    let conn = rusqlite::Connection::open(path).expect("open store file");
    let changed = conn
        .execute(
            "UPDATE callback_submissions SET claimed_at_ms = ?1 \
             WHERE vendor = ?2 AND request_id = ?3",
            rusqlite::params![(now() - ago) * 1000, VENDOR, request_id],
        )
        .expect("backdate");
    assert_eq!(changed, 1, "one submission backdated");
}

#[tokio::test]
async fn late_retries_of_our_own_requests_are_taken_and_nothing_else() {
    let (url, store, path) = start_with_path().await;
    let ok =
        |vin: &str| format!(r#"{{"c_plate":"闽DD22222","c_vin":"{vin}","result_status":"1"}}"#);
    // We submitted "p1" two hours ago. The platform's 1 h retry carries a time from an
    // hour ago (the document does not say retries are signed afresh): a real retry.
    store
        .add_pending(VENDOR, "p1", "闽DD22222")
        .await
        .expect("pending");
    backdate_pending(&path, "p1", 2 * 3600);
    assert_eq!(
        deliver_response(&url, now() - 3600, "p1", &ok("LNBSCC3H5JT920714")).await,
        (200, "success".into())
    );
    let stored = store
        .result_for_request(VENDOR, "p1")
        .await
        .expect("q")
        .expect("stored");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));
    // A late redelivery of what is already stored: acknowledged, not read.
    assert_eq!(
        deliver_response(&url, now() - 7200, "p1", &ok("LFORGED0000000000")).await,
        (200, "success".into())
    );
    let stored = store
        .result_for_request(VENDOR, "p1")
        .await
        .expect("q")
        .expect("stored");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));

    // A signature captured before we submitted "p2" cannot be used for it.
    store
        .add_pending(VENDOR, "p2", "闽DD22222")
        .await
        .expect("pending");
    backdate_pending(&path, "p2", 3600);
    assert_eq!(
        deliver_response(&url, now() - 3 * 3600, "p2", &ok("LFORGED0000000000")).await,
        (403, "fail".into())
    );
    assert!(
        store
            .result_for_request(VENDOR, "p2")
            .await
            .expect("q")
            .is_none()
    );

    // A late delivery for a request we never made: refused.
    assert_eq!(
        deliver_response(
            &url,
            now() - 3600,
            "never-submitted",
            &ok("LFORGED0000000000")
        )
        .await,
        (403, "fail".into())
    );
    assert!(
        store
            .result_for_request(VENDOR, "never-submitted")
            .await
            .expect("q")
            .is_none()
    );
}

#[tokio::test]
async fn interim_status_is_acknowledged_and_does_not_shadow_the_final_answer() {
    let (url, store) = start().await;
    store
        .add_pending(VENDOR, "q1", "闽DD22222")
        .await
        .expect("pending");
    assert_eq!(
        deliver_response(
            &url,
            now(),
            "q1",
            r#"{"c_plate":"闽DD22222","result_status":"2"}"#
        )
        .await,
        (200, "success".into())
    );
    assert!(
        store
            .result_for_request(VENDOR, "q1")
            .await
            .expect("q")
            .is_none(),
        "查询中 is not an answer"
    );
    assert_eq!(
        deliver_response(
            &url,
            now(),
            "q1",
            r#"{"c_plate":"闽DD22222","c_vin":"LNBSCC3H5JT920714","result_status":"1"}"#
        )
        .await,
        (200, "success".into())
    );
    let stored = store
        .result_for_request(VENDOR, "q1")
        .await
        .expect("q")
        .expect("final stored");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));
}

/// The service's webhook listener runs with `[vendors.platecb.webhook_limits]`: an
/// oversized body is refused before it is read, a stalled request head is cut off, and
/// connections beyond the limit are refused at once (issue 8: 500 stalled bodies and 300
/// header-only connections stayed open 40 s).
#[tokio::test]
async fn the_services_webhook_applies_its_configured_limits() {
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let port = common::free_port();
    let mut cfg = plate_service::config::PlateServiceConfig::default();
    cfg.vendors.xiaoshibao.enabled = false;
    cfg.vendors.platecb.webhook_listen = format!("127.0.0.1:{port}").parse().expect("addr");
    let limits = &mut cfg.vendors.platecb.webhook_limits;
    limits.max_body_bytes = 4096;
    limits.header_read_timeout = Duration::from_secs(2);
    limits.max_connections = 2;
    let _service = common::start(cfg).await;

    // Declared over the limit: refused before a byte of it is sent.
    let mut big = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    big.write_all(
        b"POST /webhooks/platecb HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\n\r\n",
    )
    .await
    .expect("write");
    let mut response = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), big.read_to_string(&mut response)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // Two connections stall their heads; a third is refused while they are held, and
    // both are cut off (the bound is 2 s, checked at 8 s).
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(b"POST /webhooks/platecb HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        stalled.push(s);
    }
    // Accepted in order, after the two: refused at once.
    let mut extra = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = extra
        .write_all(b"POST /webhooks/platecb HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await;
    let mut response = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut response)).await;
    assert!(
        response.starts_with("HTTP/1.1 503"),
        "over the connection limit: {response}"
    );
    let cut_by = Instant::now() + Duration::from_secs(8);
    for mut s in stalled {
        // Whatever the server says before closing (a 408, or nothing), then EOF.
        let mut said = Vec::new();
        let closed = tokio::time::timeout_at(cut_by.into(), s.read_to_end(&mut said)).await;
        assert!(closed.is_ok(), "a stalled head was held for 8 s");
    }
}
