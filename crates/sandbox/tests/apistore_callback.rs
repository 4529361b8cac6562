//! apistore's asynchronous answers: 10023, then the 10000 answer POSTed to the request's
//! `callback` in seed 004's form, retried on seed 004's schedule, re-delivered or forged
//! on demand from the admin API.

mod common;

use std::time::Duration;

use common::platform::{
    Form, field, md5_hex, receiver, sorted_sign, unix_now, wait_for, with_sign,
};
use serde_json::{Value, json};

const PATH: &str = "/pyi/65/173";
const APPID: &str = "1";
const SECRET: &str = "sandbox-apistore-secret";

/// A sandbox whose retries (5 min, 1 h, 12 h) are scaled to 3 ms, 36 ms and 432 ms.
async fn start(tweak: impl FnOnce(&mut sandbox::SandboxConfig)) -> String {
    let mut cfg = sandbox::SandboxConfig::default();
    cfg.apistore.first_delivery_ms = 10;
    cfg.apistore.time_scale = 1e-5;
    tweak(&mut cfg);
    common::start_with(cfg).await.base
}

/// Submits the asynchronous fixture (苏E9T8R7) with `extra` parameters.
async fn submit(base: &str, plate: &str, extra: &[(&str, &str)]) -> Value {
    let time = unix_now().to_string();
    let (engine, frame) = if plate == "苏E9T8R7" {
        ("108452", "052917")
    } else {
        ("600062", "308384")
    };
    let mut params = vec![
        ("appid", APPID),
        ("car_no", plate),
        ("car_type", "02"),
        ("engine_number", engine),
        ("frame_number", frame),
        ("format", "json"),
        ("time", time.as_str()),
    ];
    params.extend_from_slice(extra);
    let form = with_sign(&params, &sorted_sign(&params, SECRET));
    reqwest::Client::new()
        .post(format!("{base}{PATH}"))
        .form(&form)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

fn json_field(d: &Form, name: &str) -> Value {
    serde_json::from_str(&field(d, name)).expect("a JSON field")
}

#[tokio::test]
async fn accepted_then_delivered_signed_and_retried_until_success() {
    let base = start(|_| {}).await;
    let (cb, seen) = receiver(2).await;
    let v = submit(&base, "苏E9T8R7", &[("callback", &cb), ("my_ref", "ref-1")]).await;
    assert_eq!(
        (&v["codeid"], &v["message"]),
        (&json!(10023), &json!("订单提交成功,等待回调结果")),
        "{v}"
    );
    assert!(
        v.get("request_id").is_none(),
        "seed 003 lists no request_id: {v}"
    );
    assert!(
        v.get("data").is_none() && v.get("retdata").is_none(),
        "no records yet: {v}"
    );

    let deliveries = wait_for(&seen, 3).await;
    assert_eq!(deliveries.len(), 3, "two fails, then success, then no more");
    for d in &deliveries {
        // Seed 004: md5(time + appid + secret), nothing else signed.
        let time = field(d, "time");
        assert_eq!(field(d, "sign"), md5_hex(&format!("{time}{APPID}{SECRET}")));
        assert_eq!(field(d, "appid"), APPID);
        assert_eq!(field(d, "request_id").len(), 32);
        let request = json_field(d, "request");
        assert_eq!(
            (&request["my_ref"], &request["car_no"]),
            (&json!("ref-1"), &json!("苏E9T8R7"))
        );
        let response = json_field(d, "response");
        assert_eq!(
            (&response["codeid"], &response["message"]),
            (&json!(10000), &json!("返回成功"))
        );
        assert_eq!(response["carNo"], "苏E9T8R7");
        assert_eq!(response["data"].as_array().map(Vec::len), Some(2));
    }
    assert!(
        deliveries.iter().all(|d| *d == deliveries[0]),
        "retries replay the first attempt's time and sign"
    );
}

/// Seed 004 line 89: 总共尝试回调4次,4次之后不再回调.
#[tokio::test]
async fn a_receiver_that_never_acknowledges_gets_four_attempts_in_all() {
    let base = start(|_| {}).await;
    let (cb, seen) = receiver(usize::MAX).await;
    let v = submit(&base, "苏E9T8R7", &[("callback", &cb)]).await;
    assert_eq!(v["codeid"], 10023, "{v}");
    assert_eq!(wait_for(&seen, 4).await.len(), 4);
    // Longer than any scaled wait of the schedule: a fifth attempt would have come.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(seen.lock().expect("lock").len(), 4, "no fifth attempt");
}

#[tokio::test]
async fn only_the_async_vehicle_uses_the_callback_and_only_when_given_one() {
    let base = start(|_| {}).await;
    let (cb, seen) = receiver(0).await;
    // Without a callback the order is taken all the same, and the answer reaches nobody.
    let v = submit(&base, "苏E9T8R7", &[]).await;
    assert_eq!(v["codeid"], 10023, "{v}");
    // A vehicle answered at once ignores a callback.
    let v = submit(&base, "粤AJ44E6", &[("callback", &cb)]).await;
    assert_eq!(v["codeid"], 10000, "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.lock().expect("lock").is_empty(), "nothing delivered");
}

#[tokio::test]
async fn callbacks_carry_the_platforms_clock() {
    let base = start(|c| c.apistore.clock_offset_s = -7200).await;
    let (cb, seen) = receiver(0).await;
    let time = (unix_now() - 7200).to_string();
    // The client signs with the platform's time, as after a drift correction.
    let mut params = vec![
        ("appid", APPID),
        ("car_no", "苏E9T8R7"),
        ("car_type", "02"),
        ("frame_number", "052917"),
        ("engine_number", "108452"),
        ("callback", cb.as_str()),
        ("time", time.as_str()),
    ];
    let sign = sorted_sign(&params, SECRET);
    params.push(("sign", &sign));
    let v: Value = reqwest::Client::new()
        .post(format!("{base}{PATH}"))
        .form(&params)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(v["codeid"], 10023, "{v}");
    let d = wait_for(&seen, 1).await;
    let sent: u64 = field(&d[0], "time").parse().expect("integer time");
    assert!(sent.abs_diff(unix_now() - 7200) <= 5, "{sent}");
}

#[tokio::test]
async fn the_admin_api_redelivers_and_forges() {
    let base = start(|c| c.apistore.submit_answer_has_request_id = true).await;
    let (cb, seen) = receiver(0).await;
    let v = submit(&base, "苏E9T8R7", &[("callback", &cb)]).await;
    let request_id = v["request_id"]
        .as_str()
        .expect("request_id when configured");
    assert_eq!(wait_for(&seen, 1).await.len(), 1);
    let http = reqwest::Client::new();
    let admin = |what: &'static str| {
        http.post(format!("{base}/_sandbox/apistore/{what}"))
            .json(&json!({ "request_id": request_id }))
            .send()
    };
    let again: Value = admin("redeliver")
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["receiver_said_success"], true);
    let forged: Value = admin("forge")
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        forged["receiver_said_success"], true,
        "this receiver checks nothing"
    );
    let deliveries = seen.lock().expect("lock").clone();
    assert_eq!(deliveries.len(), 3);
    assert_eq!(deliveries[1], deliveries[0], "a duplicate");
    let fake = &deliveries[2];
    assert_ne!(field(fake, "sign"), field(&deliveries[0], "sign"));
    assert_ne!(
        json_field(fake, "response"),
        json_field(&deliveries[0], "response")
    );
    let missing = http
        .post(format!("{base}/_sandbox/apistore/redeliver"))
        .json(&json!({"request_id": "nope"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}
