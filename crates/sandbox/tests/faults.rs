//! Fault injection: each kind, per-request header and admin rules, seeded determinism.

mod common;

use std::time::{Duration, Instant};

use common::{KEY, SEED_VIN, Sandbox, start};
use reqwest::Method;
use serde_json::{Value, json};

fn seed_query() -> String {
    format!("key={KEY}&vin={SEED_VIN}")
}

#[tokio::test]
async fn fixed_latency_delays_the_answer() {
    let sb = start().await;
    let t = Instant::now();
    let res = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "delay=150")])
        .await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["code"], 200,
        "latency alone does not change the answer"
    );
}

#[tokio::test]
async fn uniform_latency_from_admin_rule_stays_in_range() {
    let sb = start().await;
    sb.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!([{"vendor": "connapi", "latency": {"kind": "uniform", "min_ms": 40, "max_ms": 60}}])),
    )
    .await;
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(sb.code(&seed_query(), &[]).await, 200);
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(40), "{e:?}");
        assert!(e < Duration::from_secs(5), "{e:?}");
    }
}

#[tokio::test]
async fn vendor_code_fault_uses_the_vendor_envelope() {
    let sb = start().await;
    let res = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "code=501")])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body,
        json!({"code": 501, "msg": "第三方服务异常", "data": null})
    );
}

/// Codes of 40 requests under a 30 % code-500 rule.
async fn error_rate_run(sb: &Sandbox) -> Vec<i64> {
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(sb.code(&seed_query(), &[]).await);
    }
    codes
}

#[tokio::test]
async fn error_rate_is_seeded_and_reproducible() {
    let sb = start().await;
    let rule = json!({"rules": [{"vendor": "connapi", "probability": 0.3,
                                  "action": {"kind": "vendor_code", "code": 500}}], "seed": 7});
    sb.admin(Method::POST, "/_sandbox/faults", Some(rule.clone()))
        .await;
    let first = error_rate_run(&sb).await;
    let failures = first.iter().filter(|c| **c == 500).count();
    assert!(
        (4..=20).contains(&failures),
        "{failures} of 40 failed at 30 %"
    );
    assert!(first.iter().all(|c| *c == 200 || *c == 500));

    // Setting the rules again reseeds: the same sequence of faults.
    sb.admin(Method::POST, "/_sandbox/faults", Some(rule)).await;
    assert_eq!(error_rate_run(&sb).await, first);

    // And a fresh server with the same seed agrees too.
    let other = start().await;
    other
        .admin(
            Method::POST,
            "/_sandbox/faults",
            Some(json!({"rules": [{"vendor": "connapi", "probability": 0.3,
                                    "action": {"kind": "vendor_code", "code": 500}}], "seed": 7})),
        )
        .await;
    assert_eq!(error_rate_run(&other).await, first);

    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(
        calls["calls"]["connapi"]["/api/vin/get"]["500"],
        json!(failures * 2)
    );
}

#[tokio::test]
async fn status_429_with_retry_after() {
    let sb = start().await;
    let res = sb
        .get_vin(
            &seed_query(),
            &[("x-sandbox-fault", "status=429; retry-after=7")],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
}

#[tokio::test]
async fn status_503_twice_then_recovery() {
    let sb = start().await;
    sb.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(
            json!({"name": "flaky", "path_prefix": "/api/vin", "times": 2,
                     "action": {"kind": "http_status", "status": 503}}),
        ),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(sb.get_vin(&seed_query(), &[]).await.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200]);
    let faults = sb.admin(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(faults["fired"], json!([2]));
}

#[tokio::test]
async fn malformed_body_is_a_truncated_prefix() {
    let sb = start().await;
    let whole = sb
        .get_vin(&seed_query(), &[])
        .await
        .text()
        .await
        .expect("text");
    let res = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "malformed")])
        .await;
    assert_eq!(res.status(), 200);
    let cut = res.text().await.expect("text");
    assert!(cut.len() < whole.len());
    assert!(
        serde_json::from_str::<Value>(&cut).is_err(),
        "truncated JSON must not parse"
    );
    // Same prefix, apart from the order number which differs per call.
    assert_eq!(&cut[..10], &whole[..10]);
    let cut = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "malformed=5")])
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(cut.len(), 5);
}

#[tokio::test]
async fn slow_body_sends_headers_then_dribbles() {
    let sb = start().await;
    // A 404 answer is short (~60 bytes), so 16-byte chunks every 40 ms take >= 160 ms.
    let query = format!("key={KEY}&vin=LFV2A21K0N3999999");
    let t = Instant::now();
    let mut res = sb
        .get_vin(&query, &[("x-sandbox-fault", "slow=16:40")])
        .await;
    let headers_at = t.elapsed();
    assert_eq!(res.status(), 200);
    let mut body = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        chunks += 1;
        body.extend_from_slice(&chunk);
    }
    let done_at = t.elapsed();
    assert!(chunks >= 3, "{chunks} chunks");
    assert!(done_at >= Duration::from_millis(160), "{done_at:?}");
    assert!(
        headers_at + Duration::from_millis(80) < done_at,
        "headers {headers_at:?}, body {done_at:?}"
    );
    let body: Value = serde_json::from_slice(&body).expect("complete JSON in the end");
    assert_eq!(body["code"], 404);
}

#[tokio::test]
async fn reset_drops_the_connection_and_the_server_survives() {
    let sb = start().await;
    let err = sb
        .http
        .get(sb.url(&format!("/api/vin/get?{}", seed_query())))
        .header("x-sandbox-fault", "reset")
        .send()
        .await
        .expect_err("client must see the connection drop");
    assert!(!err.is_timeout(), "reset, not timeout: {err:?}");
    assert_eq!(sb.code(&seed_query(), &[]).await, 200, "next request works");
    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["calls"]["connapi"]["/api/vin/get"]["reset"], 1);
}

#[tokio::test]
async fn rules_match_on_vin_and_key_including_post_bodies() {
    let sb = start().await;
    sb.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!([
            {"vin": "wp0aa2978bl012976", "key": KEY, "action": {"kind": "vendor_code", "code": 500}}
        ])),
    )
    .await;
    assert_eq!(sb.code(&seed_query(), &[]).await, 500);
    let other_vin = format!("key={KEY}&vin=LSVAM4182N2123456");
    assert_eq!(sb.code(&other_vin, &[]).await, 200);
    let signed = format!("key=sandbox-connapi-signed&vin={SEED_VIN}");
    let sign = common::sign(&signed, common::SECRET);
    assert_eq!(sb.code(&signed, &[("sign", &sign)]).await, 200, "other key");
    let post: Value = sb
        .http
        .post(sb.url("/api/vin/get"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(seed_query())
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(post["code"], 500, "form body parameters match too");
}

#[tokio::test]
async fn header_overrides_rules_and_bad_header_is_loud() {
    let sb = start().await;
    sb.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!({"action": {"kind": "vendor_code", "code": 500}})),
    )
    .await;
    assert_eq!(
        sb.code(&seed_query(), &[("x-sandbox-fault", "delay=1")])
            .await,
        200
    );
    let res = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "explode")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("text").contains("x-sandbox-fault"));
}

#[tokio::test]
async fn configured_rules_apply_from_start_and_come_back_on_reset() {
    let mut cfg = sandbox::SandboxConfig::default();
    cfg.faults.push(sandbox::FaultRule {
        vin: Some(SEED_VIN.into()),
        action: Some(sandbox::FaultAction::VendorCode {
            code: 501,
            msg: Some("上游超时".into()),
        }),
        ..sandbox::FaultRule::default()
    });
    let sb = common::start_with(cfg).await;
    let body: Value = sb
        .get_vin(&seed_query(), &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body, json!({"code": 501, "msg": "上游超时", "data": null}));
    sb.admin(Method::DELETE, "/_sandbox/faults", None).await;
    assert_eq!(sb.code(&seed_query(), &[]).await, 200);
    sb.admin(Method::POST, "/_sandbox/reset", None).await;
    assert_eq!(sb.code(&seed_query(), &[]).await, 501);
}

#[tokio::test]
async fn a_call_dropped_during_its_delay_still_counts_as_received() {
    let sb = start().await;
    sb.running
        .state
        .set_faults(vec![sandbox::FaultRule {
            vendor: Some("connapi".to_owned()),
            latency: Some(sandbox::Latency::Fixed { ms: 2000 }),
            ..sandbox::FaultRule::default()
        }])
        .expect("valid rule");
    let url = sb.url(&format!("/api/vin/get?{}", seed_query()));
    // The client gives up while the sandbox still sleeps: a hedge's loser.
    let dropped = tokio::time::timeout(Duration::from_millis(100), sb.http.get(url).send()).await;
    assert!(dropped.is_err(), "the injected delay holds the answer");
    assert_eq!(
        sb.running.state.calls_of("connapi"),
        1,
        "received, so billed"
    );
    assert_eq!(sb.running.state.calls_of("xiaoshibao"), 0);
    let err = sb
        .running
        .state
        .set_faults(vec![sandbox::FaultRule {
            vendor: Some("nosuchvendor".to_owned()),
            ..sandbox::FaultRule::default()
        }])
        .expect_err("unknown vendor");
    assert!(err.contains("nosuchvendor"), "{err}");
}

#[tokio::test]
async fn content_type_and_charset_faults_relabel_or_recode_the_real_answer() {
    let sb = start().await;
    let whole = sb.get_vin(&seed_query(), &[]).await;
    assert!(
        whole.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    let whole = whole.bytes().await.expect("body");

    let res = sb
        .get_vin(
            &seed_query(),
            &[("x-sandbox-fault", "content-type=text/html")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html");
    let body: Value = res.json().await.expect("the body is still the real JSON");
    assert_eq!(body["code"], 200);

    // GBK bytes under a UTF-8 label: the Chinese fields no longer decode as declared.
    let res = sb
        .get_vin(&seed_query(), &[("x-sandbox-fault", "charset=gbk:utf-8")])
        .await;
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let bytes = res.bytes().await.expect("body");
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8 any more");
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad, "but valid GBK");
    let decoded: Value = serde_json::from_str(&text).expect("the real answer, in GBK");
    let original: Value = serde_json::from_slice(&whole).expect("JSON");
    assert_eq!(decoded["data"]["brand"], original["data"]["brand"]);

    // Declared truthfully, the same bytes are readable by a client that honours it.
    let res = sb
        .get_vin(
            &seed_query(),
            &[("x-sandbox-fault", "charset=gb18030:gb18030")],
        )
        .await;
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=gb18030"
    );
    assert_eq!(res.status(), 200);
}
