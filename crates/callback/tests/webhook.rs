//! A vendor's webhook over HTTP, with platecb's rules (seed 004) as the vendor's check:
//! what the vendor sees for good, forged, stale, replayed, duplicate and interim
//! deliveries in each body format PHP's `$_POST` accepts (and JSON), and what is stored.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use callback::webhook::{self, ServerLimits, WebhookSettings};
use callback::{
    Asked, Callbacks, Settings, SqliteStore, Store, Submission, SubmitError, Submitted,
};
use common::TempDb;
use common::platecb::{
    APPID, answer, enc, form, json, multipart, now, ok, platecb, post, refused, urlencoded,
};

struct Hooked {
    url: String,
    store: Arc<SqliteStore>,
    callbacks: Callbacks,
    db: TempDb,
}

async fn start() -> Hooked {
    let db = TempDb::new("webhook");
    let store = Arc::new(SqliteStore::open(&db.0).expect("store"));
    let callbacks = Callbacks::new(
        "platecb",
        store.clone(),
        Settings {
            max_wait: Duration::from_secs(60),
            ..Settings::default()
        },
    )
    .expect("settings");
    let app = axum::Router::new().route(
        "/webhooks/platecb",
        webhook::endpoint(callbacks.clone(), platecb, WebhookSettings::default()),
    );
    let (addr, _task) = webhook::serve(
        "127.0.0.1:0".parse().expect("addr"),
        app,
        ServerLimits::default(),
        std::future::pending(),
    )
    .await
    .expect("listens");
    Hooked {
        url: format!("http://{addr}/webhooks/platecb"),
        store,
        callbacks,
        db,
    }
}

#[tokio::test]
async fn deliveries_are_verified_stored_once_and_acknowledged() {
    let h = start().await;
    let good = answer("LNBSCC3H5JT920714");
    let forged = form(
        now(),
        APPID,
        Some("0123456789abcdef0123456789abcdef"),
        "r1",
        &good,
    );
    assert_eq!(urlencoded(&h.url, &forged).await, refused(403));
    assert_eq!(
        urlencoded(&h.url, &form(now(), "9999", None, "r1", &good)).await,
        refused(403)
    );
    // A captured delivery replayed an hour later.
    assert_eq!(
        urlencoded(&h.url, &form(now() - 3600, APPID, None, "r1", &good)).await,
        refused(403)
    );
    // From the future.
    assert_eq!(
        urlencoded(&h.url, &form(now() + 3600, APPID, None, "r1", &good)).await,
        refused(403)
    );
    // Signed at the ends of time: stale, whatever the arithmetic.
    h.store
        .add_pending("platecb", "r0", "沪A12345")
        .await
        .expect("pending");
    assert_eq!(
        urlencoded(&h.url, &form(i64::MAX, APPID, None, "r0", &good)).await,
        refused(403)
    );
    assert_eq!(
        urlencoded(&h.url, &form(i64::MIN, APPID, None, "r0", &good)).await,
        refused(403)
    );
    // Genuine, but for a query we never made: the signature covers no data.
    assert_eq!(
        urlencoded(&h.url, &form(now(), APPID, None, "r1", &good)).await,
        refused(403)
    );
    assert!(
        h.store
            .result_for_request("platecb", "r1")
            .await
            .expect("q")
            .is_none()
    );

    // Genuine, for our submission r1 (of another plate than the callback names).
    h.store
        .add_pending("platecb", "r1", "沪A12345")
        .await
        .expect("pending");
    assert_eq!(
        urlencoded(&h.url, &form(now(), APPID, None, "r1", &good)).await,
        ok()
    );
    // The vendor's retry with other content: acknowledged, nothing changes.
    let changed = answer("LCHANGED000000000");
    assert_eq!(
        urlencoded(&h.url, &form(now(), APPID, None, "r1", &changed)).await,
        ok()
    );
    let stored = h
        .store
        .result_for_request("platecb", "r1")
        .await
        .expect("q")
        .expect("row");
    assert!(
        stored.payload.contains("LNBSCC3H5JT920714"),
        "{}",
        stored.payload
    );
    assert_eq!(
        stored.query_key, "沪A12345",
        "filed under what we asked about"
    );
    assert!(!stored.sandbox);

    // Unreadable deliveries are refused, so the vendor retries.
    let missing: Vec<_> = form(now(), APPID, None, "r1", &good)
        .into_iter()
        .take(3)
        .collect();
    assert_eq!(urlencoded(&h.url, &missing).await, refused(400));
    assert_eq!(
        post(&h.url, "text/plain", b"time=1".to_vec()).await,
        refused(415)
    );
    assert_eq!(
        post(
            &h.url,
            "application/x-www-form-urlencoded",
            b"time=%FF%FE".to_vec()
        )
        .await,
        refused(400)
    );
}

#[tokio::test]
async fn multipart_and_json_bodies_are_read_like_urlencoded_ones() {
    let h = start().await;
    for (i, id) in ["m1", "j1"].into_iter().enumerate() {
        h.store
            .add_pending("platecb", id, "闽DD22222")
            .await
            .expect("pending");
        let fields = form(now(), APPID, None, id, &answer("LNBSCC3H5JT920714"));
        let reply = if i == 0 {
            multipart(&h.url, &fields).await
        } else {
            json(&h.url, &fields).await
        };
        assert_eq!(reply, ok(), "{id}");
        let stored = h
            .store
            .result_for_request("platecb", id)
            .await
            .expect("q")
            .expect(id);
        let v: serde_json::Value = serde_json::from_str(&stored.payload).expect("json");
        assert_eq!(v["c_vin"], "LNBSCC3H5JT920714", "{id}");
    }
    // A forged multipart delivery is refused like any other.
    h.store
        .add_pending("platecb", "m2", "闽DD22222")
        .await
        .expect("pending");
    let forged = form(now(), APPID, Some("00"), "m2", &answer("X"));
    assert_eq!(multipart(&h.url, &forged).await, refused(403));
    // A multipart body cut short is refused (the vendor sends it again).
    let cut = b"--b\r\nContent-Disposition: form-data; name=\"time\"\r\n\r\n1".to_vec();
    assert_eq!(
        post(&h.url, "multipart/form-data; boundary=b", cut).await,
        refused(400)
    );
}

fn backdate(db: &TempDb, request_id: &str, ago_secs: i64) {
    let conn = rusqlite::Connection::open(&db.0).expect("open");
    conn.execute(
        "UPDATE callback_submissions SET claimed_at_ms = ?1 WHERE request_id = ?2",
        rusqlite::params![(now() - ago_secs) * 1000, request_id],
    )
    .expect("backdate");
}

#[tokio::test]
async fn late_retries_of_our_own_requests_are_taken_and_nothing_else() {
    let h = start().await;
    // Submitted two hours ago; the vendor's 1 h retry is signed an hour ago.
    h.store
        .add_pending("platecb", "p1", "闽DD22222")
        .await
        .expect("pending");
    backdate(&h.db, "p1", 2 * 3600);
    assert_eq!(
        urlencoded(
            &h.url,
            &form(
                now() - 3600,
                APPID,
                None,
                "p1",
                &answer("LNBSCC3H5JT920714")
            )
        )
        .await,
        ok()
    );
    // A late redelivery of what is stored: acknowledged, not read.
    assert_eq!(
        urlencoded(
            &h.url,
            &form(
                now() - 7200,
                APPID,
                None,
                "p1",
                &answer("LFORGED0000000000")
            )
        )
        .await,
        ok()
    );
    let stored = h
        .store
        .result_for_request("platecb", "p1")
        .await
        .expect("q")
        .expect("row");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));
    // A signature captured before we submitted p2 cannot answer it.
    h.store
        .add_pending("platecb", "p2", "闽DD22222")
        .await
        .expect("pending");
    backdate(&h.db, "p2", 3600);
    assert_eq!(
        urlencoded(
            &h.url,
            &form(
                now() - 3 * 3600,
                APPID,
                None,
                "p2",
                &answer("LFORGED0000000000")
            )
        )
        .await,
        refused(403)
    );
    assert!(
        h.store
            .result_for_request("platecb", "p2")
            .await
            .expect("q")
            .is_none()
    );
    // Late, for a request never made.
    assert_eq!(
        urlencoded(
            &h.url,
            &form(now() - 3600, APPID, None, "never", &answer("X"))
        )
        .await,
        refused(403)
    );
}

#[tokio::test]
async fn an_interim_status_is_acknowledged_and_does_not_shadow_the_answer() {
    let h = start().await;
    h.store
        .add_pending("platecb", "q1", "闽DD22222")
        .await
        .expect("pending");
    let interim = r#"{"c_plate":"闽DD22222","result_status":"2"}"#;
    assert_eq!(
        urlencoded(&h.url, &form(now(), APPID, None, "q1", interim)).await,
        ok()
    );
    assert!(
        h.store
            .result_for_request("platecb", "q1")
            .await
            .expect("q")
            .is_none()
    );
    assert_eq!(
        urlencoded(
            &h.url,
            &form(now(), APPID, None, "q1", &answer("LNBSCC3H5JT920714"))
        )
        .await,
        ok()
    );
    assert!(
        h.store
            .result_for_request("platecb", "q1")
            .await
            .expect("q")
            .is_some()
    );
}

#[tokio::test]
async fn a_waiting_caller_is_answered_by_the_webhook_at_once() {
    let h = start().await;
    let submitted = Arc::new(tokio::sync::Mutex::new(None::<String>));
    let seen = submitted.clone();
    let asking = {
        let cb = h.callbacks.clone();
        tokio::spawn(async move {
            cb.ask("闽DD22222", None, move |s: Submission| async move {
                *seen.lock().await = Some(s.request_id);
                // Seed 003 lists no id in the acceptance: matched by our echoed reference.
                Ok::<_, SubmitError<String>>(Submitted::accepted(None, ()))
            })
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let our_ref = loop {
        if let Some(r) = submitted.lock().await.clone() {
            break r;
        }
        assert!(Instant::now() < deadline, "submitted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut fields = form(
        now(),
        APPID,
        None,
        "vendor-id-1",
        &answer("LNBSCC3H5JT920714"),
    );
    fields[3].1 = format!(r#"{{"car_no":"闽DD22222","axle_ref":"{our_ref}"}}"#);
    let started = Instant::now();
    assert_eq!(urlencoded(&h.url, &fields).await, ok());
    let asked = tokio::time::timeout(Duration::from_secs(10), asking)
        .await
        .expect("woken, not after max_wait")
        .expect("task")
        .expect("store");
    assert!(started.elapsed() < Duration::from_secs(10));
    let Asked::Answered(a) = asked else {
        panic!("{asked:?}")
    };
    assert_eq!(a.result.request_id, our_ref);
    assert_eq!(a.result.id_for_vendor(), "vendor-id-1");
    assert_eq!(a.receipt, Some(()));
    // The query is over under both its ids: a redelivery under the vendor's is a duplicate.
    let again = form(
        now(),
        APPID,
        None,
        "vendor-id-1",
        &answer("LFORGED0000000000"),
    );
    assert_eq!(urlencoded(&h.url, &again).await, ok());
    let stored = h
        .store
        .result_for_request("platecb", &our_ref)
        .await
        .expect("q")
        .expect("row");
    assert!(stored.payload.contains("LNBSCC3H5JT920714"));
}

#[tokio::test]
async fn a_callback_for_a_submission_that_certainly_failed_is_refused() {
    let h = start().await;
    let asked = h
        .callbacks
        .ask("闽DD22222", None, |_: Submission| async {
            Err::<Submitted<()>, _>(SubmitError::NotSent("10018 次数不足".to_owned()))
        })
        .await
        .expect("store");
    let Asked::Failed(f) = asked else {
        panic!("{asked:?}")
    };
    let fields = form(
        now(),
        APPID,
        None,
        &f.request_id,
        &answer("LFORGED0000000000"),
    );
    assert_eq!(urlencoded(&h.url, &fields).await, refused(403));
    assert!(
        h.store
            .result_for_request("platecb", &f.request_id)
            .await
            .expect("q")
            .is_none()
    );
}

#[tokio::test]
async fn the_sandbox_header_is_recorded() {
    let h = start().await;
    h.store
        .add_pending("platecb", "s1", "闽DD22222")
        .await
        .expect("pending");
    let body = form(now(), APPID, None, "s1", &answer("X"))
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let resp = reqwest::Client::new()
        .post(&h.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-axle-sandbox", "1")
        .body(body)
        .send()
        .await
        .expect("delivers");
    assert_eq!(resp.status().as_u16(), 200);
    let stored = h
        .store
        .result_for_request("platecb", "s1")
        .await
        .expect("q")
        .expect("row");
    assert!(stored.sandbox);
}
