//! The `/_sandbox/*` admin API.

mod common;

use common::{KEY, SEED_VIN, start};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn faults_set_get_clear() {
    let sb = start().await;
    let empty = sb.admin(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(empty["rules"], json!([]));
    assert_eq!(empty["seed"], 1);

    let rule = json!({"name": "slow connapi", "vendor": "connapi",
                      "latency": {"kind": "log_normal", "p50_ms": 5, "p99_ms": 20}});
    let set = sb
        .admin(
            Method::POST,
            "/_sandbox/faults",
            Some(json!({"rules": [rule], "seed": 9})),
        )
        .await;
    assert_eq!(set["rules"][0], rule, "rules round-trip");
    assert_eq!(set["seed"], 9);
    assert_eq!(set["fired"], json!([0]));

    assert_eq!(
        sb.code(&format!("key={KEY}&vin={SEED_VIN}"), &[]).await,
        200
    );
    let got = sb.admin(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(got["fired"], json!([1]));

    let cleared = sb.admin(Method::DELETE, "/_sandbox/faults", None).await;
    assert_eq!(cleared["rules"], json!([]));
}

#[tokio::test]
async fn invalid_rules_are_rejected_with_400() {
    let sb = start().await;
    for bad in [
        json!({"probability": 3}),
        json!({"action": {"kind": "teleport"}}),
        json!([{"latency": {"kind": "uniform", "min_ms": 9, "max_ms": 1}}]),
    ] {
        let res = sb
            .http
            .post(sb.url("/_sandbox/faults"))
            .json(&bad)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.headers()["x-axle-sandbox"], "1");
    }
}

#[tokio::test]
async fn calls_are_counted_per_vendor_endpoint_and_code_and_reset() {
    let sb = start().await;
    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls, json!({"total": 0, "calls": {}, "arrived": {}}));

    sb.code(&format!("key={KEY}&vin={SEED_VIN}"), &[]).await;
    sb.code(&format!("key={KEY}&vin={SEED_VIN}"), &[]).await;
    sb.code(&format!("key={KEY}&vin=LFV2A21K0N3999999"), &[])
        .await;
    sb.code("key=sandbox-suspended&vin=X", &[]).await;
    let res = sb
        .http
        .get(sb.url(&format!("/connapi/api/vin/get?key={KEY}&vin={SEED_VIN}")))
        .header("x-sandbox-fault", "status=503")
        .send()
        .await
        .expect("alias");
    assert_eq!(res.status(), 503);

    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 5);
    assert_eq!(
        calls["calls"]["connapi"]["/api/vin/get"],
        json!({"200": 2, "404": 1, "602": 1, "http_503": 1})
    );
    assert_eq!(calls["arrived"], json!({"connapi": 5}));

    let reset = sb.admin(Method::POST, "/_sandbox/reset", None).await;
    assert_eq!(reset["reset"], true);
    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 0);
    assert_eq!(calls["arrived"], json!({}));
}

/// A test that holds a vendor call open (a latency fault) learns from `arrived` that the
/// call got there, without waiting for its answer.
#[tokio::test]
async fn a_request_still_being_answered_has_arrived_but_has_no_outcome() {
    let sb = start().await;
    sb.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!([{"vendor": "connapi", "latency": {"kind": "fixed", "ms": 60_000}}])),
    )
    .await;
    let held = tokio::spawn({
        let http = sb.http.clone();
        let url = sb.url(&format!("/connapi/api/vin/get?key={KEY}&vin={SEED_VIN}"));
        async move { http.get(url).send().await }
    });
    let mut calls = Value::Null;
    for _ in 0..500 {
        calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
        if calls["arrived"]["connapi"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(calls["arrived"], json!({"connapi": 1}), "{calls}");
    assert_eq!(calls["total"], 0, "not answered yet: {calls}");
    assert_eq!(calls["calls"], json!({}));
    held.abort();
}

#[tokio::test]
async fn info_lists_accounts_and_fixtures() {
    let sb = start().await;
    let info = sb.admin(Method::GET, "/_sandbox/info", None).await;
    assert_eq!(info["sandbox"], true);
    let connapi = &info["vendors"]["connapi"];
    let fixtures = connapi["fixtures"].as_array().expect("fixtures");
    assert!(
        fixtures
            .iter()
            .any(|f| f["vin"] == SEED_VIN && f["code"] == 200)
    );
    assert!(fixtures.iter().any(|f| f["code"] == 500));
    let accounts = connapi["accounts"].as_array().expect("accounts");
    assert!(
        accounts
            .iter()
            .any(|a| a["key"] == "sandbox-connapi-signed" && a["signed"] == true)
    );
    assert!(
        !info.to_string().contains("sandbox-connapi-secret"),
        "secrets are not listed"
    );
    let health = sb
        .http
        .get(sb.url("/_sandbox/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.headers()["x-axle-sandbox"], "1");
    assert_eq!(health.text().await.expect("text"), "ok");
}

#[tokio::test]
async fn shutdown_future_stops_the_server() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("literal"),
        ..sandbox::SandboxConfig::default()
    };
    let running = sandbox::start(cfg, async {
        let _ = rx.await;
    })
    .await
    .expect("starts");
    let addr = running.addr;
    let ok: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("http://{addr}/_sandbox/info"))
        .send()
        .await
        .expect("up")
        .json()
        .await
        .expect("json");
    assert_eq!(ok["sandbox"], true);
    tx.send(()).expect("send");
    tokio::time::timeout(std::time::Duration::from_secs(10), running.wait())
        .await
        .expect("stops in time")
        .expect("clean stop");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}
