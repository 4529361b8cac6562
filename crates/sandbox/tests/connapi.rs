//! connapi contract: happy paths, every documented code, signatures, balance.

mod common;

use common::{KEY, SECRET, SEED_VIN, SIGNED_KEY, fixture_result, sign, start};
use serde_json::Value;

#[tokio::test]
async fn get_seed_vin_returns_the_fixture_with_sandbox_header() {
    let sb = start().await;
    let res = sb.get_vin(&format!("key={KEY}&vin={SEED_VIN}"), &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json")
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], 200);
    assert_eq!(body["msg"], "成功");
    assert_eq!(body["data"]["result"], fixture_result(SEED_VIN));
    assert_eq!(body["data"]["result"]["carid"], 7131);
    let order = body["data"]["order_no"].as_str().expect("order_no string");
    assert_eq!(order.len(), 18);
    assert!(order.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test]
async fn post_form_seed_vin_matches_get() {
    let sb = start().await;
    let res = sb
        .http
        .post(sb.url("/api/vin/get"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(format!("key={KEY}&vin={SEED_VIN}"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], 200);
    assert_eq!(body["data"]["result"], fixture_result(SEED_VIN));
    // The vendor-prefixed alias serves the same contract.
    let alias: Value = sb
        .http
        .get(sb.url(&format!("/connapi/api/vin/get?key={KEY}&vin={SEED_VIN}")))
        .send()
        .await
        .expect("alias")
        .json()
        .await
        .expect("json");
    assert_eq!(alias["data"]["result"], body["data"]["result"]);
}

#[tokio::test]
async fn order_numbers_are_deterministic_and_distinct() {
    let orders = |sb: common::Sandbox| async move {
        let mut out = Vec::new();
        for _ in 0..3 {
            let b: Value = sb
                .get_vin(&format!("key={KEY}&vin={SEED_VIN}"), &[])
                .await
                .json()
                .await
                .expect("json");
            out.push(b["data"]["order_no"].as_str().expect("order").to_owned());
        }
        out
    };
    let a = orders(start().await).await;
    let b = orders(start().await).await;
    assert_eq!(a, b, "same seed, same sequence");
    assert_ne!(a[0], a[1]);
}

#[tokio::test]
async fn every_documented_code_is_reachable() {
    let sb = start().await;
    let cases: &[(&str, i64)] = &[
        (&format!("key={KEY}&vin={SEED_VIN}"), 200),
        ("key=sandbox-unprovisioned&vin=WP0AA2978BL012976", 400),
        ("key=no-such-key&vin=WP0AA2978BL012976", 400),
        (&format!("key={KEY}"), 403),
        ("vin=WP0AA2978BL012976", 403),
        (&format!("key={KEY}&vin="), 403),
        (&format!("key={KEY}&vin=WP0AA%3B--"), 403),
        (&format!("key={KEY}&vin=LFV2A21K0N3999999"), 404),
        (&format!("key={KEY}&vin=LSBX50000S0000500"), 500),
        (&format!("key={KEY}&vin=LSBX50104S0000501"), 501),
        ("key=sandbox-no-permission&vin=WP0AA2978BL012976", 601),
        ("key=sandbox-suspended&vin=WP0AA2978BL012976", 602),
        ("key=sandbox-no-balance&vin=WP0AA2978BL012976", 603),
        ("key=sandbox-discontinued&vin=WP0AA2978BL012976", 604),
    ];
    for (query, want) in cases {
        let res = sb.get_vin(query, &[]).await;
        assert_eq!(res.status(), 200, "vendor errors are HTTP 200: {query}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["code"], *want, "{query}: {body}");
        if *want != 200 {
            assert_eq!(body["data"], Value::Null, "{query}");
            assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[tokio::test]
async fn vin_is_trimmed_and_uppercased() {
    let sb = start().await;
    let code = sb
        .code(&format!("key={KEY}&vin=+wp0aa2978bl012976+"), &[])
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn signature_ok_bad_and_missing() {
    let sb = start().await;
    let query = format!("key={SIGNED_KEY}&vin={SEED_VIN}");
    let good = sign(&query, SECRET);
    assert_eq!(sb.code(&query, &[("sign", &good)]).await, 200);
    assert_eq!(
        sb.code(&query, &[("sign", &good.to_uppercase())]).await,
        200
    );

    let bad: Value = sb
        .get_vin(&query, &[("sign", &sign(&query, "wrong"))])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(bad["code"], 403);
    assert!(bad["msg"].as_str().expect("msg").contains("签名错误"));

    let missing: Value = sb.get_vin(&query, &[]).await.json().await.expect("json");
    assert_eq!(missing["code"], 403);
    assert!(missing["msg"].as_str().expect("msg").contains("签名错误"));

    // The signature covers the raw string: reordering parameters invalidates it.
    let reordered = format!("vin={SEED_VIN}&key={SIGNED_KEY}");
    assert_eq!(sb.code(&reordered, &[("sign", &good)]).await, 403);

    // POST signs the raw body.
    let res: Value = sb
        .http
        .post(sb.url("/api/vin/get"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sign", sign(&query, SECRET))
        .body(query.clone())
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(res["code"], 200);

    // An unsigned key ignores a stray sign header.
    let plain = format!("key={KEY}&vin={SEED_VIN}");
    assert_eq!(sb.code(&plain, &[("sign", "garbage")]).await, 200);
}

#[tokio::test]
async fn balance_is_charged_per_answer_and_restored_by_reset() {
    let sb = start().await;
    let hit = format!("key=sandbox-balance-3&vin={SEED_VIN}");
    let miss = "key=sandbox-balance-3&vin=LFV2A21K0N3999999";
    assert_eq!(sb.code(miss, &[]).await, 404, "misses are free");
    for _ in 0..3 {
        assert_eq!(sb.code(&hit, &[]).await, 200);
    }
    assert_eq!(sb.code(&hit, &[]).await, 603);
    assert_eq!(sb.code(miss, &[]).await, 603, "no balance, no lookup");
    sb.admin(reqwest::Method::POST, "/_sandbox/reset", None)
        .await;
    assert_eq!(sb.code(&hit, &[]).await, 200);
}

#[tokio::test]
async fn post_without_form_content_type_has_no_parameters() {
    let sb = start().await;
    let body: Value = sb
        .http
        .post(sb.url("/api/vin/get"))
        .header("content-type", "text/plain")
        .body(format!("key={KEY}&vin={SEED_VIN}"))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(body["code"], 403);
}

#[tokio::test]
async fn every_fixture_vin_answers_its_fixture() {
    let sb = start().await;
    let all: Value = serde_json::from_str(common::FIXTURES).expect("json");
    for v in all["vehicles"].as_array().expect("vehicles") {
        let vin = v["vin"].as_str().expect("vin");
        let body: Value = sb
            .get_vin(&format!("key={KEY}&vin={vin}"), &[])
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(body["code"], 200, "{vin}");
        assert_eq!(body["data"]["result"], v["result"], "{vin}");
    }
}

#[tokio::test]
async fn unknown_paths_are_labelled_too() {
    let sb = start().await;
    let res = sb.http.get(sb.url("/nope")).send().await.expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-axle-sandbox"], "1");
}
