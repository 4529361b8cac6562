//! Fidelity and robustness details: what the sandbox refuses, and what a reset restores.

async fn start(cfg: sandbox::SandboxConfig) -> Result<String, sandbox::SandboxError> {
    let running = sandbox::start(
        sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..cfg
        },
        std::future::pending(),
    )
    .await?;
    Ok(format!("http://{}", running.addr))
}

#[tokio::test]
async fn a_time_scale_that_cannot_work_is_refused_at_start() {
    for scale in [f64::NAN, -1.0, 1e20] {
        let mut cfg = sandbox::SandboxConfig::default();
        cfg.platecb.time_scale = scale;
        let err = start(cfg).await.expect_err("refused");
        assert!(err.to_string().contains("time_scale"), "{err}");
    }
}

#[tokio::test]
async fn connapi_reads_query_and_form_only_like_the_php_endpoint() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    let http = reqwest::Client::new();
    // The VIN in a JSON body is not a parameter there: "parameters missing" (403).
    let v: serde_json::Value = http
        .post(format!("{base}/api/vin/get?key=sandbox-connapi-key"))
        .json(&serde_json::json!({"vin": "WP0AA2978BL012976"}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(v["code"], 403, "{v}");
    // As a form it is.
    let v: serde_json::Value = http
        .post(format!("{base}/api/vin/get"))
        .form(&[("key", "sandbox-connapi-key"), ("vin", "WP0AA2978BL012976")])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(v["code"], 200, "{v}");
}

#[tokio::test]
async fn injected_http_statuses_must_be_errors() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    for status in [100, 204, 302, 999] {
        let resp = reqwest::Client::new()
            .post(format!("{base}/_sandbox/faults"))
            .json(&serde_json::json!([{ "action": { "kind": "http_status", "status": status } }]))
            .send()
            .await
            .expect("answers");
        assert_eq!(resp.status().as_u16(), 400, "status {status} refused");
    }
}

#[tokio::test]
async fn admin_answers_bad_rules_clearly_and_info_lists_every_vendor() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/_sandbox/faults"))
        .json(&serde_json::json!({"rules": [{"actoin": {"kind": "reset"}}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 400);
    let body = resp.text().await.expect("body");
    assert!(body.contains("actoin"), "names the bad key: {body}");
    assert!(!body.contains("untagged"), "{body}");

    let info: serde_json::Value = http
        .get(format!("{base}/_sandbox/info"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    for vendor in ["connapi", "xiaoshibao", "platecb"] {
        assert!(info["vendors"][vendor].is_object(), "{vendor}: {info}");
    }
    assert!(
        !info.to_string().contains("sandbox-platecb-secret"),
        "no secrets in /info"
    );
}

#[tokio::test]
async fn injected_platform_codes_carry_the_platforms_own_words() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/platecb/api/query"))
        .header("x-sandbox-fault", "code=10021")
        .form(&[("appid", "1365")])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (v["codeid"].as_i64(), v["message"].as_str()),
        (Some(10021), Some("服务器发生错误"))
    );
}
