//! xiaoshibao (seed 000) through LookupVehicle and its connector: credentials, rate
//! limiting, a slow vendor within the caller's deadline, every documented status.

mod common;

use std::time::Duration;

use common::{lookup, state, status, suite};
use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::LookupVehicleRequest;
use tonic::Code;

#[tokio::test]
async fn credential_problems_are_the_operators() {
    for token in ["wrong-token", "sandbox-xiaoshibao-forbidden"] {
        let mut s = suite(|c| {
            c.vendors.xiaoshibao.token = token.to_owned().into();
            c.vendors.platecb.enabled = false;
        })
        .await;
        let r = lookup(&mut s, "粤B12345").await.expect("answer");
        let st = status(&r, "xiaoshibao");
        assert_eq!(st.code, Code::FailedPrecondition as i32, "{token}");
        assert!(st.operator_action_required);
        assert!(!st.message.contains(token), "token leaked: {}", st.message);
    }
}

#[tokio::test]
async fn rate_limits_and_busy_answers_are_retried() {
    let mut s = suite(|c| c.vendors.platecb.enabled = false).await;
    common::faults(&s.sandbox, serde_json::json!([
            { "vendor": "xiaoshibao", "times": 1, "action": { "kind": "http_status", "status": 429, "retry_after_s": 0 } },
            { "vendor": "xiaoshibao", "times": 1, "action": { "kind": "http_status", "status": 503 } }
        ])).await;
    let r = lookup(&mut s, "粤B12345").await.expect("answer");
    let st = status(&r, "xiaoshibao");
    assert_eq!(
        (st.state, st.attempts),
        (SourceState::Ok as i32, 3),
        "{st:?}"
    );
}

#[tokio::test]
async fn a_slow_vendor_leaves_the_local_parse_within_the_deadline() {
    let mut s =
        suite(|c| c.vendors.xiaoshibao.http.request_timeout = Duration::from_secs(10)).await;
    common::faults(
        &s.sandbox,
        serde_json::json!([{ "vendor": "xiaoshibao", "latency": { "kind": "fixed", "ms": 5000 } }]),
    )
    .await;
    let mut req = tonic::Request::new(LookupVehicleRequest {
        plate: "粤B12345".to_owned(),
        color: 0,
    });
    req.set_timeout(Duration::from_millis(600));
    let r = s
        .client
        .lookup_vehicle(req)
        .await
        .expect("partial answer")
        .into_inner();
    assert_eq!(state(&r, "xiaoshibao"), SourceState::Timeout as i32);
    assert!(r.plate.is_some_and(|p| p.valid));
}

#[tokio::test]
async fn xiaoshibao_connector_against_every_documented_status() {
    use connector::{VendorError, VendorErrorKind};
    use plate_service::connectors::xiaoshibao::{XiaoshibaoClient, XiaoshibaoConfig};
    let s = suite(|c| c.vendors.platecb.enabled = false).await;
    let client = |token: &str| {
        let mut cfg = XiaoshibaoConfig::default();
        cfg.http.base_url = s.sandbox.clone();
        cfg.http.retry.initial_backoff = Duration::from_millis(5);
        cfg.token = token.to_owned().into();
        XiaoshibaoClient::new(&cfg, &connector::client::ClientContext::noop()).expect("client")
    };
    let ok = client("sandbox-xiaoshibao-token");
    let v = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect("200")
        .value;
    assert_eq!(v.vin, "LSJA24U66JA123456");
    // 400: the vendor's own parameter check (Axle never sends such a plate itself).
    let err = ok.lookup("X", "", "", None).await.expect_err("400");
    assert!(
        matches!(err.error, VendorError::Vendor { ref code, kind: VendorErrorKind::InvalidRequest, .. } if code == "400"),
        "{err:?}"
    );
    let err = client("bad")
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("401");
    assert!(matches!(err.error, VendorError::Auth { .. }), "{err:?}");
    let err = client("sandbox-xiaoshibao-forbidden")
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("403");
    assert!(matches!(err.error, VendorError::Auth { .. }), "{err:?}");
    let err = ok
        .lookup("粤B99999", "广东", "深圳", None)
        .await
        .expect_err("404");
    assert!(
        matches!(
            err.error,
            VendorError::Vendor {
                kind: VendorErrorKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    // 503 on every attempt, then malformed JSON: both reported, neither panics.
    let faults = |rules: serde_json::Value| {
        let url = format!("{}/_sandbox/faults", s.sandbox);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&rules)
                .send()
                .await
                .expect("admin")
        }
    };
    faults(serde_json::json!([{ "vendor": "xiaoshibao", "action": { "kind": "http_status", "status": 503 } }])).await;
    let err = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("503");
    assert!(
        matches!(err.error, VendorError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    faults(serde_json::json!([{ "vendor": "xiaoshibao", "action": { "kind": "malformed" } }]))
        .await;
    let err = ok
        .lookup("粤B12345", "广东", "深圳", None)
        .await
        .expect_err("malformed");
    assert!(
        matches!(err.error, VendorError::MalformedBody { .. }),
        "{err:?}"
    );
}
