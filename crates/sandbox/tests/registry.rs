//! The vendor registry seen from outside: `/_sandbox/info` lists exactly the registered
//! vendors, each one's injected error is in its own shape at each of its paths, and
//! rules that could never fire are refused.

mod common;

use common::{Sandbox, start};
use reqwest::Method;
use serde_json::{Value, json};

async fn info(sb: &Sandbox) -> serde_json::Map<String, Value> {
    let info = sb.admin(Method::GET, "/_sandbox/info", None).await;
    info["vendors"].as_object().expect("vendors object").clone()
}

#[tokio::test]
async fn info_lists_exactly_the_registered_vendors_with_their_paths() {
    let sb = start().await;
    let vendors = info(&sb).await;
    let names: Vec<&str> = vendors.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["apihz", "apistore", "connapi", "platecb", "xiaoshibao"]
    );
    for (name, v) in &vendors {
        let paths = v["paths"].as_array().expect("paths");
        assert!(!paths.is_empty(), "{name}");
        for p in paths {
            // Every listed path is served: anything but 404 (405 for a wrong method).
            let res = sb
                .http
                .post(sb.url(p.as_str().expect("path")))
                .send()
                .await
                .expect("answers");
            assert_ne!(res.status(), 404, "{name} {p}");
        }
    }
}

/// An injected vendor code, at every path of every vendor, answers in that vendor's own
/// shape and is counted under that vendor.
#[tokio::test]
async fn an_injected_code_looks_like_each_vendors_own_error() {
    let sb = start().await;
    let fault = r#"{"action": {"kind": "vendor_code", "code": 503, "msg": "injected"}}"#;
    let mut expected_calls = 0;
    for (name, v) in info(&sb).await {
        for path in v["paths"].as_array().expect("paths") {
            let res = sb
                .http
                .post(sb.url(path.as_str().expect("path")))
                .header("x-sandbox-fault", fault)
                .send()
                .await
                .expect("answers");
            let status = res.status().as_u16();
            assert_eq!(res.headers()["x-axle-sandbox"], "1");
            let mut body: Value = res.json().await.expect("JSON");
            if name == "apistore" {
                // The platform's clock, in every apistore answer.
                let time = body.as_object_mut().and_then(|b| b.remove("time"));
                assert!(time.is_some_and(|t| t.is_string()), "{path}");
            }
            let shape = match name.as_str() {
                "connapi" => json!({"code": 503, "msg": "injected", "data": null}),
                "xiaoshibao" => json!({"code": 503, "message": "injected", "data": null}),
                "platecb" | "apistore" => json!({"codeid": 503, "message": "injected"}),
                "apihz" => json!({"code": 503, "msg": "injected"}),
                other => panic!("{other}: add its error shape to this test"),
            };
            assert_eq!(body, shape, "{name} {path}");
            let want_status = if name == "xiaoshibao" { 503 } else { 200 };
            assert_eq!(status, want_status, "{name} {path}");
            expected_calls += 1;
        }
    }
    let calls = sb.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], expected_calls);
    for vendor in ["apistore", "connapi", "platecb", "xiaoshibao"] {
        let endpoints = calls["calls"][vendor].as_object().expect("counted");
        // Alias paths count as the documented endpoint.
        assert_eq!(endpoints.len(), 1, "{vendor}: {endpoints:?}");
    }
}

#[tokio::test]
async fn rules_that_could_never_fire_are_refused() {
    let sb = start().await;
    for (rule, says) in [
        (json!([{"vendor": "conapi"}]), "no vendor `conapi`"),
        (
            json!({"rules": [{}, {"vendor": "platecb", "vin": "X"}]}),
            "fault rule #1: vendor `platecb` has no `vin`",
        ),
    ] {
        let res = sb
            .http
            .post(sb.url("/_sandbox/faults"))
            .json(&rule)
            .send()
            .await
            .expect("answers");
        assert_eq!(res.status(), 400, "{rule}");
        let body = res.text().await.expect("text");
        assert!(body.contains(says), "{body}");
    }
    // The same check for the per-request header.
    let res = sb
        .http
        .post(sb.url("/v1/vehicle/query"))
        .header("x-sandbox-fault", r#"{"vendor": "xiaoshibao", "key": "k"}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("text").contains("no `key`"));
    // And for the configuration, at start.
    let mut cfg = sandbox::SandboxConfig::default();
    cfg.faults.push(sandbox::FaultRule {
        vendor: Some("platecb".into()),
        key: Some("k".into()),
        ..sandbox::FaultRule::default()
    });
    let err = sandbox::AppState::new(&cfg).expect_err("refused");
    assert!(err.to_string().contains("fault rule #0"), "{err}");
}
