//! A store file written by plate-service before the callback crate (its `platecb_*`
//! tables) keeps working after the upgrade, through the service's own configuration:
//! answers already paid for are served without a new charge, and a query submitted
//! before the upgrade is still awaited (not paid again) and its callback still taken.
//!
//! Every shape the old tables had is migrated in crates/callback/tests/migrate_*.rs;
//! this is the service end to end on the shape the last release wrote.

mod common;

use std::time::Duration;

use common::{free_port, lookup_on, status, temp_store};
use contracts::axle::common::v1::SourceState;
use plate_service::config::PlateServiceConfig;

/// The sandbox account's app and secret: the service's defaults.
const APPID: &str = "1365";
const SECRET: &str = "sandbox-platecb-secret";

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// The tables and rows plate-service's store.rs wrote: an answer for 闽DD22222 and an
/// accepted, unanswered submission for 沪A12345.
fn write_old_store(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).expect("create");
    let n = now();
    conn.execute_batch(&format!(
        r#"CREATE TABLE platecb_results (
               request_id  TEXT PRIMARY KEY,
               plate       TEXT NOT NULL,
               received_at INTEGER NOT NULL,
               payload     TEXT NOT NULL,
               sandbox     INTEGER NOT NULL DEFAULT 0,
               vendor_request_id TEXT NOT NULL DEFAULT '');
           CREATE TABLE platecb_pending (
               request_id   TEXT PRIMARY KEY,
               plate        TEXT NOT NULL,
               submitted_at INTEGER NOT NULL);
           CREATE TABLE platecb_claims (
               plate      TEXT PRIMARY KEY,
               request_id TEXT NOT NULL,
               claimed_at INTEGER NOT NULL,
               submitted  INTEGER NOT NULL DEFAULT 0);
           INSERT INTO platecb_results VALUES ('old-1', '闽DD22222', {answered},
               '{{"c_plate":"闽DD22222","c_vin":"LNBSCC3H5JT920714","c_properties":"非营业个人","result_status":"1"}}',
               1, 'vendor-1');
           INSERT INTO platecb_pending VALUES ('pend-1', '沪A12345', {submitted});
           INSERT INTO platecb_claims VALUES ('沪A12345', 'pend-1', {submitted}, 1);"#,
        answered = n - 3600,
        submitted = n - 60,
    ))
    .expect("old tables");
}

#[tokio::test]
async fn an_old_store_file_is_served_and_its_pending_query_still_answered() {
    let store = temp_store();
    write_old_store(&store);
    let webhook_port = free_port();
    let mut cfg = PlateServiceConfig::default();
    cfg.vendors.xiaoshibao.enabled = false;
    // Nothing listens here: any submission would fail, so an answer is the old store's.
    cfg.vendors.platecb.http.base_url = format!("http://127.0.0.1:{}", free_port());
    cfg.vendors.platecb.http.retry.max_attempts = 1;
    cfg.vendors.platecb.store_path = store;
    cfg.vendors.platecb.webhook_listen = format!("127.0.0.1:{webhook_port}").parse().expect("addr");
    cfg.vendors.platecb.max_wait = Duration::from_millis(300);
    let (mut client, _) = common::start(cfg).await;

    let r = lookup_on(&mut client, "闽DD22222").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(
        (st.state, st.attempts),
        (SourceState::Ok as i32, 0),
        "{st:?}"
    );
    assert!(st.message.contains("no new charge"), "{st:?}");
    let p = r.usage.and_then(|u| u.provenance).expect("provenance");
    assert_eq!(
        (p.vendor_request_id.as_str(), p.sandbox),
        ("vendor-1", true)
    );

    // Submitted before the upgrade and not answered yet: awaited, not paid again.
    let r = lookup_on(&mut client, "沪A12345").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(st.state, SourceState::Pending as i32, "{st:?}");
    assert!(st.message.contains("pend-1"), "{st:?}");

    // Its callback comes and is taken.
    let t = now().to_string();
    let sign = connector::signing::md5_time_appid_secret(&t, APPID, SECRET);
    let response = r#"{"c_plate":"沪A12345","c_vin":"LSVAM4182N2123456","c_properties":"营转非","result_status":"1"}"#;
    let form = [
        ("time", t.as_str()),
        ("appid", APPID),
        ("request_id", "pend-1"),
        ("request", r#"{"car_no":"沪A12345"}"#),
        ("sign", sign.as_str()),
        ("response", response),
    ];
    let url = format!(
        "http://127.0.0.1:{webhook_port}{}",
        plate_service::connectors::platecb::webhook::PATH
    );
    let resp = reqwest::Client::new()
        .post(url)
        .form(&form)
        .send()
        .await
        .expect("delivers");
    assert_eq!(
        (resp.status().as_u16(), resp.text().await.expect("body")),
        (200, "success".to_owned())
    );
    let r = lookup_on(&mut client, "沪A12345").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(r.usage.map(|u| u.code), Some("L".to_owned()), "营转非");
}
