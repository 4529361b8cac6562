//! xiaoshibao (seed 000) over HTTP: tokens, body checks, answers, and the callback mode.

use std::time::Duration;

use axum::routing::post;

async fn sandbox() -> String {
    let running = sandbox::start(
        sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..sandbox::SandboxConfig::default()
        },
        std::future::pending(),
    )
    .await
    .expect("starts");
    format!("http://{}/v1/vehicle/query", running.addr)
}

async fn query(
    url: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("answers");
    assert_eq!(
        resp.headers()
            .get("x-axle-sandbox")
            .map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"1"[..])
    );
    (resp.status().as_u16(), resp.json().await.expect("json"))
}

#[tokio::test]
async fn documented_statuses() {
    let url = sandbox().await;
    let body = serde_json::json!({"plate_number": "粤B12345", "province": "广东", "city": "深圳"});
    let (s, v) = query(&url, Some("sandbox-xiaoshibao-token"), body.clone()).await;
    assert_eq!((s, v["code"].as_i64()), (200, Some(0)));
    assert_eq!(v["data"]["vin"], "LSJA24U66JA123456");
    assert_eq!(query(&url, None, body.clone()).await.0, 401);
    assert_eq!(query(&url, Some("nope"), body.clone()).await.0, 401);
    assert_eq!(
        query(&url, Some("sandbox-xiaoshibao-forbidden"), body.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        query(
            &url,
            Some("sandbox-xiaoshibao-token"),
            serde_json::json!({})
        )
        .await
        .0,
        400
    );
    let unknown = serde_json::json!({"plate_number": "粤B99999"});
    assert_eq!(
        query(&url, Some("sandbox-xiaoshibao-token"), unknown)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn callback_mode_delivers_the_answer_later() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(1);
    let app = axum::Router::new().route(
        "/cb",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let cb = format!("http://{}/cb", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let url = sandbox().await;
    let (s, v) = query(
        &url,
        Some("sandbox-xiaoshibao-token"),
        serde_json::json!({"plate_number": "沪A12345", "callback": cb}),
    )
    .await;
    assert_eq!((s, v["message"].as_str()), (200, Some("accepted")));
    let task = v["data"]["task_id"].as_str().expect("task id").to_owned();
    let delivered = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("delivered in time")
        .expect("payload");
    assert_eq!(delivered["task_id"], task.as_str());
    assert_eq!(delivered["data"]["vin"], "LSVAM4182N2123456");
}
