//! platecb's answers by callback through LookupVehicle (seed 004): late callbacks
//! PENDING then served without a new charge, matching by the vendor's id or our echoed
//! reference, one payment for concurrent lookups, failed queries not reused, forged and
//! replayed deliveries.

mod common;

use std::time::Duration;

use common::{lookup, state, status, suite, suite_full};
use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::LookupVehicleRequest;
use tonic::Code;

#[tokio::test]
async fn a_late_callback_is_pending_then_returned_without_paying_again() {
    // The first delivery comes after 4 s: longer than the caller's 2 s deadline.
    let mut s = suite_full(
        |sb| sb.platecb.first_delivery_ms = 4000,
        |c| c.vendors.xiaoshibao.enabled = false,
    )
    .await;
    let mut req = tonic::Request::new(LookupVehicleRequest {
        plate: "闽DD22222".to_owned(),
        color: 0,
    });
    req.set_timeout(Duration::from_secs(2));
    let r = s
        .client
        .lookup_vehicle(req)
        .await
        .expect("answer")
        .into_inner();
    assert_eq!(
        state(&r, "platecb"),
        SourceState::Pending as i32,
        "{:?}",
        r.sources
    );
    // A PENDING source says when to ask again and, once platecb took the query, what was
    // sent. (The submission runs on its own deadline: on a starved machine it may still
    // be on its way when the caller's 2 s are up, and then it says so.)
    let pending = status(&r, "platecb");
    assert!(pending.retry_after.is_some(), "{pending:?}");
    if pending.message.contains("accepted") {
        assert!(pending.sandbox && pending.attempts >= 1, "{pending:?}");
    } else {
        assert!(pending.message.contains("being asked"), "{pending:?}");
    }
    // The callback lands and is stored; the next call is answered from the store with no
    // new submission.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    assert_eq!(state(&r, "platecb"), SourceState::Ok as i32);
    assert_eq!(
        r.usage.as_ref().map(|u| u.code.as_str()),
        Some("A"),
        "非营业个人"
    );
    let calls = common::calls(&s.sandbox).await;
    assert_eq!(
        calls["calls"]["platecb"]["/platecb/api/query"]["10023"], 1,
        "one submission: {calls}"
    );
}

#[tokio::test]
async fn callbacks_are_matched_by_the_vendor_id_or_by_our_echoed_reference() {
    // Seed 003 lists no request_id in submit answers (the sandbox's default: the callback
    // is matched by our `axle_ref`, echoed in `request`); a platform that does give one
    // is matched by it. Either way the answer arrives within the call and provenance
    // carries the vendor's own id.
    for with_id in [false, true] {
        let mut s = suite_full(
            |sb| sb.platecb.submit_answer_has_request_id = with_id,
            |c| {
                c.vendors.xiaoshibao.enabled = false;
                c.vendors.platecb.http.cost_per_call = Some(connector::config::CostConfig {
                    currency: "CNY".to_owned(),
                    amount: 0.12,
                });
            },
        )
        .await;
        let r = lookup(&mut s, "闽DD22222").await.expect("answer");
        // The lookup that paid shows the charge on the answer and on the source status.
        let st = status(&r, "platecb");
        assert_eq!(
            st.cost.as_ref().map(|m| m.nanos),
            Some(120_000_000),
            "{st:?}"
        );
        assert_eq!(
            state(&r, "platecb"),
            SourceState::Ok as i32,
            "{with_id}: {:?}",
            r.sources
        );
        let p = r.vin.and_then(|v| v.provenance).expect("provenance");
        assert_eq!(p.vendor_request_id.len(), 32, "{with_id}: {p:?}");
        assert_eq!(p.cost.map(|m| m.currency_code), Some("CNY".to_owned()));
    }
}

#[tokio::test]
async fn concurrent_lookups_of_one_plate_pay_once() {
    // The callback takes 800 ms: both lookups are in flight before it comes.
    let mut s = suite_full(
        |sb| sb.platecb.first_delivery_ms = 800,
        |c| c.vendors.xiaoshibao.enabled = false,
    )
    .await;
    let mut other = s.client.clone();
    let (a, b) = tokio::join!(lookup(&mut s, "闽DD22222"), async {
        other
            .lookup_vehicle(LookupVehicleRequest {
                plate: "闽DD·22222".to_owned(),
                color: 0,
            })
            .await
            .map(tonic::Response::into_inner)
    });
    let (a, b) = (a.expect("answer"), b.expect("answer"));
    for r in [&a, &b] {
        assert_eq!(
            state(r, "platecb"),
            SourceState::Ok as i32,
            "{:?}",
            r.sources
        );
    }
    let calls = common::calls(&s.sandbox).await;
    assert_eq!(
        calls["calls"]["platecb"]["/platecb/api/query"]["10023"], 1,
        "one submission for two lookups: {calls}"
    );
}

#[tokio::test]
async fn a_failed_query_is_reported_and_not_reused() {
    let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
    // The sandbox's callback for 津A00003 says result_status 3 (查询失败).
    for round in 1..=2 {
        let r = lookup(&mut s, "津A00003").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(st.state, SourceState::Failed as i32, "{st:?}");
        assert_eq!(st.code, Code::Unavailable as i32, "{st:?}");
        assert_eq!(st.vendor_code, "3", "verbatim: {st:?}");
        assert!(st.sandbox, "{st:?}");
        assert!(r.vin.is_none());
        let calls = common::calls(&s.sandbox).await;
        assert_eq!(
            calls["calls"]["platecb"]["/platecb/api/query"]["10023"], round,
            "a failed answer is not served from the store: asked again ({calls})"
        );
    }
}

#[tokio::test]
async fn forged_and_replayed_callbacks_never_change_stored_data() {
    let mut s = suite(|c| {
        c.vendors.xiaoshibao.enabled = false;
        c.privacy.reveal_full_vin = true;
    })
    .await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    let p = r
        .vin
        .as_ref()
        .and_then(|v| v.provenance.clone())
        .expect("platecb provenance");
    assert_eq!(
        r.vin.as_ref().map(|v| v.value.as_str()),
        Some("LSVAM4182N2123456")
    );
    let request_id = p.vendor_request_id;
    let admin = |path: &str| {
        let url = format!("{}/_sandbox/platecb/{path}", s.sandbox);
        let body = serde_json::json!({ "request_id": request_id });
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("admin")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(
        admin("forge").await["receiver_said_success"],
        false,
        "forged: refused"
    );
    assert_eq!(
        admin("redeliver").await["receiver_said_success"],
        true,
        "duplicate: acknowledged"
    );
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    assert_eq!(
        r.vin.map(|v| v.value),
        Some("LSVAM4182N2123456".to_owned()),
        "stored data unchanged"
    );
}
