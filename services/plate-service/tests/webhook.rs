//! The platecb webhook over HTTP: what the vendor sees for good, forged, stale, replayed
//! and duplicate deliveries, and what ends up stored.

use std::time::Duration;

use connector::secret::Secret;
use plate_service::connectors::platecb::Waiters;
use plate_service::connectors::platecb::webhook::{PATH, Webhook, serve};
use plate_service::store::CallbackStore;

const SECRET: &str = "s3cret";

async fn start() -> (String, CallbackStore) {
    let path =
        std::env::temp_dir().join(format!("axle-webhook-http-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = CallbackStore::open(&path).expect("store");
    let hook = Webhook {
        appid: "1365".into(),
        secret: Secret::new(SECRET.into()),
        max_clock_skew: Duration::from_secs(600),
        store: store.clone(),
        waiters: Waiters::default(),
    };
    let (addr, _task) = serve(
        "127.0.0.1:0".parse().expect("addr"),
        hook,
        kit::server::Shutdown::new(),
    )
    .await
    .expect("listens");
    (format!("http://{addr}{PATH}"), store)
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
    let good = connector::signing::callback_sign(&t, appid, SECRET);
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
            .result_for_request("r1")
            .await
            .expect("query")
            .is_none(),
        "nothing refused was stored"
    );

    // Genuine: stored, then acknowledged.
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
        .result_for_request("r1")
        .await
        .expect("query")
        .expect("stored");
    assert!(
        stored.payload.contains("LNBSCC3H5JT920714"),
        "{}",
        stored.payload
    );
    assert_eq!(stored.plate, "闽DD22222");

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
