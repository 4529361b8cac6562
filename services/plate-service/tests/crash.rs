//! A crash right after the webhook acknowledged a callback loses nothing, and the
//! vendor's redelivery (it never saw our `success`, or saw it and retried anyway) changes
//! nothing. The real binary is killed with SIGKILL: no destructor, no flush, no drain.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callback::{SqliteStore, Store};

/// The shipped default credentials of the sandbox platecb account.
const APPID: &str = "1365";
const SECRET: &str = "sandbox-platecb-secret";
/// The vendor platecb's rows are filed under in the callback store.
const VENDOR: &str = plate_service::connectors::platecb::SOURCE;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Service {
    child: Child,
    webhook: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the plate-service binary on free ports with its store at `store`, and waits
/// (bounded) until the webhook accepts connections.
fn start(store: &Path) -> Service {
    let webhook_port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_plate-service"))
        .env("AXLE_SERVER__LISTEN", format!("127.0.0.1:{}", free_port()))
        .env(
            "AXLE_SERVER__METRICS_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env(
            "AXLE_VENDORS__PLATECB__WEBHOOK_LISTEN",
            format!("127.0.0.1:{webhook_port}"),
        )
        .env("AXLE_VENDORS__PLATECB__STORE_PATH", store)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("plate-service binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", webhook_port)).is_err() {
        assert!(Instant::now() < deadline, "webhook never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Service {
        child,
        webhook: format!(
            "http://127.0.0.1:{webhook_port}{}",
            plate_service::connectors::platecb::webhook::PATH
        ),
    }
}

async fn deliver(url: &str, request_id: &str, vin: &str) -> (u16, String) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let sign = connector::signing::md5_time_appid_secret(&t, APPID, SECRET);
    let response =
        format!(r#"{{"c_plate":"闽DD22222","c_vin":"{vin}","c_properties":"非营业个人"}}"#);
    let form = [
        ("time", t.as_str()),
        ("appid", APPID),
        ("request_id", request_id),
        ("request", r#"{"car_no":"闽DD22222"}"#),
        ("sign", sign.as_str()),
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
async fn sigkill_after_success_loses_nothing_and_redelivery_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("axle-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = dir.join("callbacks.sqlite");
    let rid = "crash-test-request-1";

    // The submission the callback answers (the webhook takes callbacks only for these).
    SqliteStore::open(&store)
        .expect("store")
        .add_pending(VENDOR, rid, "闽DD22222")
        .await
        .expect("pending");
    let mut first = start(&store);
    let acked = deliver(&first.webhook, rid, "LNBSCC3H5JT920714").await;
    assert_eq!(acked, (200, "success".to_owned()));
    // The process dies the instant after answering.
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reaped");

    // What it acknowledged is on disk.
    let opened = SqliteStore::open(&store).expect("store reopens");
    let stored = opened
        .result_for_request(VENDOR, rid)
        .await
        .expect("read")
        .expect("the acknowledged callback survived the crash");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));
    drop(opened);

    // Restarted on the same file, the vendor retries the delivery (with a different body,
    // as a forger replaying the request id would): acknowledged, nothing overwritten.
    let second = start(&store);
    let again = deliver(&second.webhook, rid, "LFORGED0000000000").await;
    assert_eq!(again, (200, "success".to_owned()));
    drop(second);
    let stored = SqliteStore::open(&store)
        .expect("store reopens")
        .result_for_request(VENDOR, rid)
        .await
        .expect("read")
        .expect("row");
    assert!(
        stored.payload.contains("LNBSCC3H5JT920714"),
        "{}",
        stored.payload
    );
    let _ = std::fs::remove_dir_all(&dir);
}
