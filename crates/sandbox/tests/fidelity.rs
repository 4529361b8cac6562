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
    for vendor in ["connapi", "xiaoshibao", "platecb", "apistore"] {
        assert!(info["vendors"][vendor].is_object(), "{vendor}: {info}");
    }
    for secret in [
        "sandbox-platecb-secret",
        "sandbox-apistore-secret",
        "sandbox-apistore-hash-secret",
    ] {
        assert!(!info.to_string().contains(secret), "no secrets in /info");
    }
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

/// Seed 001 line 458: `400没有开通此业务或权限余额不足` — not provisioned, or no
/// permission or balance. The sandbox says exactly that, for an unprovisioned key and for
/// an unknown one, and for an injected 400.
#[tokio::test]
async fn connapi_400_says_the_seeds_words_verbatim() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    let http = reqwest::Client::new();
    for (key, fault) in [
        ("sandbox-unprovisioned", None),
        ("no-such-key", None),
        ("sandbox-connapi-key", Some("code=400")),
    ] {
        let mut req = http.get(format!(
            "{base}/api/vin/get?key={key}&vin=WP0AA2978BL012976"
        ));
        if let Some(f) = fault {
            req = req.header("x-sandbox-fault", f);
        }
        let v: serde_json::Value = req
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("json");
        assert_eq!(
            v,
            serde_json::json!({"code": 400, "msg": "没有开通此业务或权限余额不足", "data": null}),
            "{key}"
        );
    }
}

/// Seed 003 line 104: `10019 {@info}`. An injected 10019 passes the fault's text through
/// verbatim, or sends the placeholder itself: the sandbox gives the code no meaning.
#[tokio::test]
async fn platecb_10019_carries_the_vendor_text_and_invents_none() {
    let base = start(sandbox::SandboxConfig::default())
        .await
        .expect("starts");
    let http = reqwest::Client::new();
    let answer = |fault: &'static str| {
        let req = http
            .post(format!("{base}/platecb/api/query"))
            .header("x-sandbox-fault", fault)
            .form(&[("appid", "1365")]);
        async move {
            req.send()
                .await
                .expect("answers")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(
        answer("code=10019").await,
        serde_json::json!({"codeid": 10019, "message": "{@info}"})
    );
    assert_eq!(
        answer(r#"{"action": {"kind": "vendor_code", "code": 10019, "msg": "plate busy"}}"#).await,
        serde_json::json!({"codeid": 10019, "message": "plate busy"})
    );
}
