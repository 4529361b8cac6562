//! platecb's submit answers through LookupVehicle (seed 003's 状态码说明 on seed 004's
//! platform): refusals as operator statuses, 10019 passed through verbatim, and a
//! billed 10000 that carries the answer itself or leaves it to the callback.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Json, Router};
use common::{faults, lookup, lookup_on, status, suite};
use contracts::axle::common::v1::SourceState;
use plate_service::config::PlateServiceConfig;
use tonic::Code;

#[tokio::test]
async fn platecb_submit_codes_map_to_operator_statuses() {
    // Bad secret (10003 sign), unknown app (10005): our configuration, the operator's.
    for (tweak, code) in [
        (
            Box::new(|c: &mut PlateServiceConfig| {
                c.vendors.platecb.secret = "wrong".to_owned().into();
            }) as Box<dyn FnOnce(&mut PlateServiceConfig)>,
            "10003",
        ),
        (
            Box::new(|c: &mut PlateServiceConfig| c.vendors.platecb.appid = "9999".to_owned()),
            "10005",
        ),
    ] {
        let mut s = suite(|c| {
            c.vendors.xiaoshibao.enabled = false;
            tweak(c);
        })
        .await;
        let r = lookup(&mut s, "沪A12345").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(
            (st.vendor_code.as_str(), st.code),
            (code, Code::FailedPrecondition as i32),
            "{st:?}"
        );
        assert!(st.operator_action_required);
        assert!(
            !st.message.contains("wrong"),
            "secret leaked: {}",
            st.message
        );
    }
    // Quota and balance (10018 次数不足, 10022 余额不足) and a vendor error (10021), injected.
    for (code, grpc) in [
        (10018, Code::FailedPrecondition),
        (10022, Code::FailedPrecondition),
        (10021, Code::Unavailable),
    ] {
        let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
        common::faults(&s.sandbox, serde_json::json!([{ "vendor": "platecb", "action": { "kind": "vendor_code", "code": code } }])).await;
        let r = lookup(&mut s, "沪A12345").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(
            (st.vendor_code.clone(), st.code),
            (code.to_string(), grpc as i32),
            "{st:?}"
        );
    }
}

/// Seed 003 line 104: `10019 {@info}`, a placeholder the platform fills at run time. The
/// vendor's words go through verbatim and no meaning is invented: not the operator's
/// configuration, not the caller's input, just an unknown refusal.
#[tokio::test]
async fn code_10019_is_the_vendors_text_and_nothing_more() {
    for (msg, said) in [
        (
            Some("该车牌今日查询次数已达上限"),
            "该车牌今日查询次数已达上限",
        ),
        (None, "{@info}"),
    ] {
        let mut s = suite(|c| c.vendors.xiaoshibao.enabled = false).await;
        let mut action = serde_json::json!({ "kind": "vendor_code", "code": 10019 });
        if let Some(m) = msg {
            action["msg"] = m.into();
        }
        faults(
            &s.sandbox,
            serde_json::json!([{ "vendor": "platecb", "action": action }]),
        )
        .await;
        let r = lookup(&mut s, "沪A12345").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(
            (st.state, st.code, st.vendor_code.as_str()),
            (SourceState::Failed as i32, Code::Unknown as i32, "10019"),
            "{st:?}"
        );
        assert_eq!(st.reason, "VENDOR_UNKNOWN_CODE", "{st:?}");
        assert!(st.message.contains(said), "verbatim: {st:?}");
        assert!(!st.operator_action_required, "{st:?}");
    }
}

const STUB_SECRET: &str = "stub-secret";
const STUB_VIN: &str = "LNBSCC3H5JT920714";

/// A platecb platform of a test's own: every submission answers `answer` (JSON); when
/// `callback` is set it is also delivered, signed, to the submission's callback URL,
/// echoing the submitted parameters in `request` as seed 004 describes.
struct Platform {
    answer: serde_json::Value,
    callback: Option<String>,
    submissions: AtomicU32,
}

async fn platform(answer: serde_json::Value, callback: Option<String>) -> (String, Arc<Platform>) {
    let state = Arc::new(Platform {
        answer,
        callback,
        submissions: AtomicU32::new(0),
    });
    let app = Router::new()
        .route("/platecb/api/query", post(submitted))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), state)
}

async fn submitted(
    State(p): State<Arc<Platform>>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    p.submissions.fetch_add(1, Ordering::SeqCst);
    if let (Some(response), Some(url)) = (p.callback.clone(), form.get("callback").cloned()) {
        let request = serde_json::to_string(&form).expect("json");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs()
                .to_string();
            let sign = connector::signing::md5_time_appid_secret(&time, "1365", STUB_SECRET);
            let delivery = [
                ("time", time.as_str()),
                ("appid", "1365"),
                ("request_id", "stub-request-1"),
                ("request", request.as_str()),
                ("sign", sign.as_str()),
                ("response", response.as_str()),
            ];
            let _ = reqwest::Client::new()
                .post(url)
                .form(&delivery)
                .send()
                .await;
        });
    }
    Json(p.answer.clone())
}

/// plate-service with only platecb, on `base_url`, at 0.12 CNY a submission.
async fn platecb_on(
    base_url: String,
) -> (
    contracts::axle::plate::v1::plate_service_client::PlateServiceClient<tonic::transport::Channel>,
    kit::metrics::Metrics,
) {
    let mut cfg = PlateServiceConfig::default();
    cfg.vendors.xiaoshibao.enabled = false;
    cfg.vendors.platecb.http.base_url = base_url;
    cfg.vendors.platecb.secret = STUB_SECRET.to_owned().into();
    cfg.vendors.platecb.http.cost_per_call = Some(connector::config::CostConfig {
        currency: "CNY".to_owned(),
        amount: 0.12,
    });
    common::start(cfg).await
}

/// Seed 003 line 58: 返回10000状态都会进行计费 (a 10000 is billed), and lines 60/71: its
/// data comes as `data` (数据集合) or `retdata` (回数据集合,可能是数据、对象或者字符串). The
/// data is the answer: used at once, its spend counted, stored and served again for free;
/// no callback is awaited.
#[tokio::test]
async fn a_billed_10000_with_data_is_the_answer() {
    let vehicle = serde_json::json!({
        "c_plate": "闽DD22222", "c_vin": STUB_VIN, "c_properties": "非营业个人", "result_status": "1"
    });
    for answer in [
        serde_json::json!({ "codeid": 10000, "message": "返回成功", "data": [vehicle] }),
        serde_json::json!({ "codeid": 10000, "message": "返回成功", "retdata": vehicle }),
        serde_json::json!({ "codeid": 10000, "message": "返回成功", "retdata": vehicle.to_string() }),
    ] {
        let (base, platform) = platform(answer.clone(), None).await;
        let (mut client, metrics) = platecb_on(base).await;
        let started = std::time::Instant::now();
        let r = lookup_on(&mut client, "闽DD22222").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(st.state, SourceState::Ok as i32, "{answer}: {st:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered at once, no callback awaited ({answer})"
        );
        assert_eq!(st.attempts, 1, "{st:?}");
        assert_eq!(
            st.cost.as_ref().map(|m| m.nanos),
            Some(120_000_000),
            "{st:?}"
        );
        let usage = r.usage.as_ref().expect("usage");
        assert_eq!(usage.code, "A", "非营业个人");
        let p = usage.provenance.as_ref().expect("provenance");
        assert_eq!(p.cost.as_ref().map(|m| m.nanos), Some(120_000_000));
        assert_eq!(p.vendor_request_id.len(), 32, "our reference: {p:?}");
        let text = metrics.encode();
        assert!(
            text.contains(r#"vendor_spend_total{vendor="platecb",currency="CNY"} 0.12"#),
            "the spend is counted: {text}"
        );
        // Stored like a callback's answer: served again without a new submission.
        let r = lookup_on(&mut client, "闽DD22222").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(
            (st.state, st.attempts),
            (SourceState::Ok as i32, 0),
            "{st:?}"
        );
        assert!(st.message.contains("no new charge"), "{st:?}");
        assert_eq!(platform.submissions.load(Ordering::SeqCst), 1, "{answer}");
    }
}

/// A 10000 without data (nor with only an interim 查询中) leaves the answer to the
/// callback, which is awaited and used.
#[tokio::test]
async fn a_10000_without_data_waits_for_the_callback() {
    let response = serde_json::json!({
        "c_plate": "闽DD22222", "c_vin": STUB_VIN, "c_properties": "非营业个人", "result_status": "1"
    })
    .to_string();
    for answer in [
        serde_json::json!({ "codeid": 10000, "message": "返回成功" }),
        serde_json::json!({ "codeid": 10000, "message": "返回成功", "data": [] }),
        serde_json::json!({ "codeid": 10000, "data": [{ "result_status": "2" }] }),
    ] {
        let (base, platform) = platform(answer.clone(), Some(response.clone())).await;
        let (mut client, _) = platecb_on(base).await;
        let r = lookup_on(&mut client, "闽DD22222").await.expect("answer");
        let st = status(&r, "platecb");
        assert_eq!(st.state, SourceState::Ok as i32, "{answer}: {st:?}");
        assert_eq!(
            r.usage.as_ref().map(|u| u.code.as_str()),
            Some("A"),
            "the callback's answer ({answer})"
        );
        assert_eq!(platform.submissions.load(Ordering::SeqCst), 1, "{answer}");
    }
}
