//! platecb's side of the webhook (seed 004), as a vendor's check and as a vendor's
//! deliveries: fields signed `md5(time + appid + secret)`, in each body format.

use std::time::SystemTime;

use callback::webhook::{self, Checked, Delivery, Refusal};
use md5::{Digest, Md5};

pub const APPID: &str = "1365";
pub const SECRET: &str = "s3cret";

pub fn sign(time: &str) -> String {
    hex::encode(Md5::digest(format!("{time}{APPID}{SECRET}").as_bytes()))
}

/// platecb's check: every field present, our app id, `sign == md5(time + appid +
/// secret)`; our reference from the echoed `request`; `result_status` 2 is interim.
pub fn platecb(delivery: &Delivery, _now: SystemTime) -> Result<Checked, Refusal> {
    let field = |k: &str| {
        delivery
            .field(k)
            .map(std::borrow::Cow::into_owned)
            .ok_or_else(|| Refusal::BadRequest(format!("missing {k}")))
    };
    let (time, appid, sig) = (field("time")?, field("appid")?, field("sign")?);
    let (request_id, response) = (field("request_id")?, field("response")?);
    if appid != APPID {
        return Err(Refusal::Forbidden("unknown appid".into()));
    }
    let signed_at = webhook::unix_seconds(&time).ok_or(Refusal::BadRequest("time".into()))?;
    if !webhook::constant_time_eq(sig.to_ascii_lowercase().as_bytes(), sign(&time).as_bytes()) {
        return Err(Refusal::Forbidden("bad signature".into()));
    }
    let our_request_id = delivery
        .field("request")
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| {
            v.get("axle_ref")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        });
    let interim = serde_json::from_str::<serde_json::Value>(&response)
        .ok()
        .and_then(|v| {
            v.get("result_status")
                .and_then(|s| s.as_str())
                .map(|s| s == "2")
        })
        .unwrap_or(false);
    Ok(Checked {
        vendor_request_id: request_id,
        our_request_id,
        payload: (!interim).then_some(response),
        signed_at: Some(signed_at),
        sandbox: delivery.header("x-axle-sandbox") == Some("1"),
    })
}

pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// A delivery's fields: signed at `time` (with `sig` instead when given).
pub fn form(
    time: i64,
    appid: &str,
    sig: Option<&str>,
    request_id: &str,
    response: &str,
) -> Vec<(String, String)> {
    let t = time.to_string();
    vec![
        ("time".into(), t.clone()),
        ("appid".into(), appid.into()),
        ("request_id".into(), request_id.into()),
        ("request".into(), r#"{"car_no":"闽DD22222"}"#.into()),
        ("sign".into(), sig.map_or_else(|| sign(&t), str::to_owned)),
        ("response".into(), response.into()),
    ]
}

pub fn answer(vin: &str) -> String {
    format!(r#"{{"c_plate":"闽DD22222","c_vin":"{vin}","result_status":"1"}}"#)
}

pub async fn post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("delivers");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

pub async fn urlencoded(url: &str, fields: &[(String, String)]) -> (u16, String) {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    post(
        url,
        "application/x-www-form-urlencoded;charset=utf-8",
        body.into_bytes(),
    )
    .await
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The body curl -F (or PHP's CURLOPT_POSTFIELDS with an array) sends.
pub async fn multipart(url: &str, fields: &[(String, String)]) -> (u16, String) {
    let boundary = "------------------------d74496d66958873e";
    let mut body = String::new();
    for (k, v) in fields {
        use std::fmt::Write as _;
        let _ = write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        );
    }
    body += "--";
    body += boundary;
    body += "--\r\n";
    post(
        url,
        &format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
    .await
}

pub async fn json(url: &str, fields: &[(String, String)]) -> (u16, String) {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| {
            // A JSON-posting vendor sends the answer as an object, not as text.
            let value = if k == "response" {
                serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.clone()))
            } else {
                serde_json::Value::String(v.clone())
            };
            (k.clone(), value)
        })
        .collect();
    post(
        url,
        "application/json",
        serde_json::Value::Object(map).to_string().into_bytes(),
    )
    .await
}

pub fn ok() -> (u16, String) {
    (200, "success".to_owned())
}

pub fn refused(status: u16) -> (u16, String) {
    (status, "fail".to_owned())
}
