//! DecodeVin against the sandbox: the happy path, every vendor code, and the failure
//! paths (timeouts, malformed bodies, bad signatures, deadlines, shutdown in flight).

mod common;

use std::time::Duration;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::vin::v1::{DecodeVinRequest, DecodeVinResponse};
use serde_json::json;
use tonic::Code;

const SEED_VIN: &str = "WP0AA2978BL012976";

async fn decode(s: &mut common::Suite, vin: &str) -> Result<DecodeVinResponse, tonic::Status> {
    s.client
        .decode_vin(DecodeVinRequest {
            vin: vin.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn source<'a>(r: &'a DecodeVinResponse, name: &str) -> &'a SourceStatus {
    r.sources
        .iter()
        .find(|s| s.source == name)
        .expect("source listed")
}

#[tokio::test]
async fn seed_vin_is_decoded_merged_and_labelled_sandbox() {
    let mut s = common::suite(|_| {}).await;
    let r = decode(&mut s, SEED_VIN).await.expect("decoded");
    let local = r.local.as_ref().expect("local decode");
    assert!(local.valid);
    let v = &r.vendor_decodes[0];
    assert_eq!(v.brand, "保时捷");
    assert_eq!(
        v.engine.as_ref().and_then(|e| e.displacement_ml),
        Some(3605)
    );
    assert_eq!(v.candidates.len(), 7);
    let p = v.provenance.as_ref().expect("provenance");
    assert!(p.sandbox && p.source == "connapi" && !p.vendor_request_id.is_empty());
    assert!(p.cost.is_some(), "billable call carries its cost");

    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::Ok as i32);
    assert!(st.sandbox);
    assert_eq!(source(&r, "local").state, SourceState::Ok as i32);

    let sum = r.summary.as_ref().expect("summary");
    let brand = sum.brand.as_ref().expect("brand");
    assert_eq!(brand.value, "保时捷");
    assert_eq!(
        brand.provenance.as_ref().map(|p| p.source.as_str()),
        Some("connapi")
    );
    // The VIN says 2011 (position 10 'B'); the catalogue says 年款 2010: both are kept.
    let year = sum.model_year.as_ref().expect("model year");
    assert_eq!(year.value, 2011);
    assert_eq!(year.alternatives[0].value, "2010");
    assert!(r.disagreements.iter().any(|d| d.field == "model_year"));
    let msrp = sum
        .msrp
        .as_ref()
        .and_then(|m| m.value.clone())
        .expect("msrp");
    assert_eq!(
        (msrp.currency_code.as_str(), msrp.units, msrp.nanos),
        ("CNY", 1_224_300, 0),
        "exact, from 122.43 万元"
    );
    assert_eq!(sum.country.as_ref().map(|c| c.value.as_str()), Some("DE"));
}

#[tokio::test]
async fn unknown_vin_is_local_decode_plus_vendor_not_found() {
    let mut s = common::suite(|_| {}).await;
    // A real VIN that is not among the sandbox fixtures: the sandbox never invents data.
    let r = decode(&mut s, "1M8GDM9AXKP042788").await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::NotFound as i32);
    assert_eq!(st.code, Code::NotFound as i32);
    assert_eq!(st.vendor_code, "404");
    assert!(r.vendor_decodes.is_empty());
    assert!(r.local.is_some_and(|l| l.valid));
}

#[tokio::test]
async fn every_account_code_is_an_operator_problem_with_the_right_status() {
    for (key, code, reason) in [
        // Seed 001: 400 没有开通此业务或权限余额不足 — not enabled, or no permission or
        // balance; the vendor does not say which, so neither does Axle.
        (
            "sandbox-unprovisioned",
            "400",
            "VENDOR_NOT_ENABLED_OR_NO_BALANCE",
        ),
        ("sandbox-no-permission", "601", "VENDOR_PERMISSION_MISSING"),
        ("sandbox-suspended", "602", "VENDOR_ACCOUNT_SUSPENDED"),
        ("sandbox-no-balance", "603", "VENDOR_BALANCE_EXHAUSTED"),
        ("sandbox-discontinued", "604", "VENDOR_API_DISCONTINUED"),
        ("not-a-known-key", "400", "VENDOR_NOT_ENABLED_OR_NO_BALANCE"),
        ("", "403", "VENDOR_REJECTED_REQUEST"),
    ] {
        let mut s = common::suite(|c| c.vendors.connapi.key = key.to_owned().into()).await;
        let r = decode(&mut s, SEED_VIN)
            .await
            .expect("local decode still answered");
        let st = source(&r, "connapi");
        assert_eq!(st.state, SourceState::Failed as i32, "{key}");
        assert_eq!(st.code, Code::FailedPrecondition as i32, "{key}");
        assert_eq!(st.vendor_code, code, "{key}");
        assert_eq!(st.reason, reason, "{key}");
        assert!(st.operator_action_required, "{key}");
        assert!(st.message.contains("operator"), "{key}: {}", st.message);
        if code == "400" {
            assert!(
                st.message.contains("not enabled") && st.message.contains("balance"),
                "both readings of 400 are named: {}",
                st.message
            );
        }
        assert_eq!(st.attempts, 1, "account codes are not retried");
        assert!(st.sandbox, "the sandbox's refusals are labelled too");
        assert!(r.local.is_some());
    }
}

#[tokio::test]
async fn vendor_internal_errors_are_retried_then_reported_unavailable() {
    let mut s = common::suite(|_| {}).await;
    for (vin, code) in [("LSBX50000S0000500", "500"), ("LSBX50104S0000501", "501")] {
        let r = decode(&mut s, vin).await.expect("answer");
        let st = source(&r, "connapi");
        assert_eq!(st.code, Code::Unavailable as i32, "{vin}");
        assert_eq!(st.vendor_code, code);
        assert!(!st.operator_action_required);
    }
    assert_eq!(
        common::connapi_calls(&s.sandbox_url, "500").await,
        3,
        "3 attempts"
    );
    assert_eq!(
        common::connapi_calls(&s.sandbox_url, "501").await,
        3,
        "3 attempts"
    );
}

#[tokio::test]
async fn signed_accounts_need_the_right_secret() {
    let mut ok = common::suite(|c| {
        c.vendors.connapi.key = "sandbox-connapi-signed".to_owned().into();
        c.vendors.connapi.sign_secret = Some("sandbox-connapi-secret".to_owned().into());
    })
    .await;
    let r = decode(&mut ok, SEED_VIN).await.expect("answer");
    assert_eq!(source(&r, "connapi").state, SourceState::Ok as i32);

    for secret in [Some("wrong-secret"), None] {
        let mut bad = common::suite(|c| {
            c.vendors.connapi.key = "sandbox-connapi-signed".to_owned().into();
            c.vendors.connapi.sign_secret = secret.map(|s| s.to_owned().into());
        })
        .await;
        let r = decode(&mut bad, SEED_VIN).await.expect("answer");
        let st = source(&r, "connapi");
        assert_eq!(st.vendor_code, "403");
        assert!(st.operator_action_required);
    }
}

#[tokio::test]
async fn post_method_works_too() {
    let mut s = common::suite(|c| {
        c.vendors.connapi.method = vin_service::config::HttpMethod::Post;
        c.vendors.connapi.key = "sandbox-connapi-signed".to_owned().into();
        c.vendors.connapi.sign_secret = Some("sandbox-connapi-secret".to_owned().into());
    })
    .await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    assert_eq!(source(&r, "connapi").state, SourceState::Ok as i32);
}

#[tokio::test]
async fn malformed_vendor_json_is_reported_not_fatal() {
    let mut s = common::suite(|_| {}).await;
    common::set_faults(
        &s.sandbox_url,
        json!([{ "vin": SEED_VIN, "action": { "kind": "malformed" } }]),
    )
    .await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.reason, "VENDOR_MALFORMED_RESPONSE");
    assert_eq!(st.code, Code::Unavailable as i32);
    assert!(r.local.is_some() && r.vendor_decodes.is_empty());
}

#[tokio::test]
async fn rate_limited_and_unavailable_vendors_are_retried_with_backoff() {
    let mut s = common::suite(|_| {}).await;
    common::set_faults(
        &s.sandbox_url,
        json!([
            { "vin": SEED_VIN, "times": 1, "action": { "kind": "http_status", "status": 429, "retry_after_s": 0 } },
            { "vin": SEED_VIN, "times": 1, "action": { "kind": "http_status", "status": 503 } }
        ]),
    )
    .await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(st.attempts, 3);
}

#[tokio::test]
async fn connection_resets_are_reported_unavailable() {
    let mut s = common::suite(|_| {}).await;
    common::set_faults(
        &s.sandbox_url,
        json!([{ "vin": SEED_VIN, "action": { "kind": "reset" } }]),
    )
    .await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.code, Code::Unavailable as i32, "{st:?}");
}

#[tokio::test]
async fn slow_vendor_times_out_and_the_local_decode_is_returned() {
    let mut s = common::suite(|c| {
        c.vendors.connapi.http.request_timeout = Duration::from_millis(150);
        c.vendors.connapi.http.retry.max_attempts = 1;
    })
    .await;
    common::set_faults(
        &s.sandbox_url,
        json!([{ "latency": { "kind": "fixed", "ms": 2000 } }]),
    )
    .await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::Timeout as i32, "{st:?}");
    assert!(r.local.is_some());
}

#[tokio::test]
async fn the_callers_deadline_bounds_the_vendor_call() {
    let mut s =
        common::suite(|c| c.vendors.connapi.http.request_timeout = Duration::from_secs(10)).await;
    common::set_faults(
        &s.sandbox_url,
        json!([{ "latency": { "kind": "fixed", "ms": 5000 } }]),
    )
    .await;
    let mut req = tonic::Request::new(DecodeVinRequest {
        vin: SEED_VIN.to_owned(),
    });
    req.set_timeout(Duration::from_millis(800));
    let started = std::time::Instant::now();
    let r = s
        .client
        .decode_vin(req)
        .await
        .expect("partial answer before the deadline")
        .into_inner();
    assert!(started.elapsed() < Duration::from_millis(800));
    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::Timeout as i32, "{st:?}");
    assert_eq!(st.code, Code::DeadlineExceeded as i32);
    assert!(r.local.is_some_and(|l| l.valid));
}

#[tokio::test]
async fn invalid_vins_are_rejected_without_paying_a_vendor() {
    let mut s = common::suite(|_| {}).await;
    let err = decode(&mut s, "WPOAA2978BL012976")
        .await
        .expect_err("invalid VIN");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("position 3"), "{}", err.message());
    assert!(
        err.message().contains("WP0AA2978BL012976"),
        "suggests the fix: {}",
        err.message()
    );
    // Machine-readable too: one violation per problem with its kind, the fix in ErrorInfo.
    let details = tonic_types::StatusExt::get_error_details(&err);
    let bad = details.bad_request().expect("BadRequest");
    assert_eq!(bad.field_violations.len(), 1, "{bad:?}");
    assert_eq!(
        bad.field_violations[0].reason,
        "VIN_PROBLEM_KIND_FORBIDDEN_LETTER"
    );
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "INVALID_VIN");
    assert_eq!(
        info.metadata.get("suggested_vin").map(String::as_str),
        Some("WP0AA2978BL012976")
    );
    assert_eq!(common::total_calls(&s.sandbox_url).await, 0);
}

#[tokio::test]
async fn disabled_vendor_is_skipped() {
    let mut s = common::suite(|c| c.vendors.connapi.enabled = false).await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    assert_eq!(source(&r, "connapi").state, SourceState::Skipped as i32);
    assert!(
        r.summary
            .as_ref()
            .and_then(|s| s.manufacturer.as_ref())
            .is_some(),
        "local facts fill the summary"
    );
}

#[tokio::test]
async fn unreachable_vendor_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut s = common::suite_with_sandbox(format!("http://127.0.0.1:{port}"), |_| {}).await;
    let r = decode(&mut s, SEED_VIN).await.expect("answer");
    let st = source(&r, "connapi");
    assert_eq!(st.code, Code::Unavailable as i32);
    assert!(
        !st.message.contains("sandbox-connapi-key"),
        "key leaked: {}",
        st.message
    );
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_decode_finish() {
    let s = common::suite(|_| {}).await;
    common::set_faults(
        &s.sandbox_url,
        json!([{ "latency": { "kind": "fixed", "ms": 400 } }]),
    )
    .await;
    let mut client = s.client.clone();
    let call = tokio::spawn(async move {
        client
            .decode_vin(DecodeVinRequest {
                vin: SEED_VIN.to_owned(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.shutdown.trigger();
    let r = call
        .await
        .expect("task")
        .expect("in-flight call completes")
        .into_inner();
    assert_eq!(source(&r, "connapi").state, SourceState::Ok as i32);
    let mut client = s.client.clone();
    s.server.wait().await.expect("clean stop");
    // New calls are refused once stopped.
    assert!(
        client
            .decode_vin(DecodeVinRequest {
                vin: SEED_VIN.to_owned()
            })
            .await
            .is_err()
    );
}

#[tokio::test]
async fn metrics_count_vendor_calls_and_spend() {
    let mut s = common::suite(|c| {
        c.vendors.connapi.http.cost_per_call = Some(connector::config::CostConfig {
            currency: "CNY".into(),
            amount: 0.5,
        });
    })
    .await;
    decode(&mut s, SEED_VIN).await.expect("answer");
    let text = s.metrics.encode();
    assert!(
        text.contains(r#"vendor_calls_total{vendor="connapi",operation="vin_get",outcome="ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vendor_spend_total{vendor="connapi",currency="CNY"} 0.5"#),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_method="DecodeVin",grpc_code="OK"} 1"#),
        "{text}"
    );
}
