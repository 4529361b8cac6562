//! `POST /webhooks/apistore`: where the platform delivers answers to queries it accepted
//! with 10023 (订单提交成功,等待回调结果).
//!
//! Seed 003 documents no callback format. The platform is the one seed 004 documents, so
//! its callback is accepted as seed 004 describes it (and the sandbox sends): a form with
//! `time, appid, sign, request_id, request, response`, `sign == md5(time + appid +
//! secret)` compared in constant time, `response` the answer JSON (an envelope with
//! `codeid` and the records, read like a synchronous answer), and our reference read from
//! the echoed `request` (`axle_ref`). The signature covers no data, so only answers to
//! queries we made are stored, under the vehicle we asked about: that is
//! `callback::webhook`'s, with freshness, first-write-wins and the listener's bounds.

use std::time::SystemTime;

use axum::Router;
use callback::Callbacks;
use callback::webhook::{self, Checked, Delivery, Refusal, Verifier};
use settings::Secret;

use super::ApistoreConfig;

pub const PATH: &str = "/webhooks/apistore";

/// The platform's check of its deliveries (seed 004: 加密规则 md5(time+appid+密钥)).
#[derive(Debug, Clone)]
pub struct ApistoreVerifier {
    pub appid: String,
    pub secret: Secret<String>,
}

impl Verifier for ApistoreVerifier {
    fn check(&self, delivery: &Delivery, _now: SystemTime) -> Result<Checked, Refusal> {
        let field = |k: &'static str| {
            delivery
                .field(k)
                .ok_or_else(|| Refusal::BadRequest(format!("missing field `{k}`")))
        };
        let time = field("time")?;
        let appid = field("appid")?;
        let sign = field("sign")?;
        let request_id = field("request_id")?;
        let response = field("response")?;
        if *appid != *self.appid {
            return Err(Refusal::Forbidden("not our appid".to_owned()));
        }
        let signed_at = webhook::unix_seconds(&time)
            .ok_or_else(|| Refusal::BadRequest("`time` is not Unix seconds".to_owned()))?;
        let expected =
            connector::signing::md5_time_appid_secret(&time, &appid, self.secret.expose());
        if !webhook::constant_time_eq(
            sign.trim().to_ascii_lowercase().as_bytes(),
            expected.as_bytes(),
        ) {
            return Err(Refusal::Forbidden("wrong signature".to_owned()));
        }
        let (vendor_request_id, our_request_id) =
            super::callback_ids(&request_id, delivery.field("request").as_deref());
        Ok(Checked {
            vendor_request_id,
            our_request_id,
            payload: Some(response.into_owned()),
            signed_at: Some(signed_at),
            sandbox: delivery.header(connector::client::SANDBOX_HEADER) == Some("1"),
        })
    }
}

/// The webhook's route, storing into `callbacks` (whose waiting callers it wakes).
pub fn router(callbacks: Callbacks, cfg: &ApistoreConfig) -> Router {
    let verifier = ApistoreVerifier {
        appid: cfg.appid.clone(),
        secret: cfg.secret.clone(),
    };
    Router::new().route(
        PATH,
        webhook::endpoint(callbacks, verifier, cfg.callback.webhook_settings()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn check(fields: &[(&str, &str)]) -> Result<Checked, Refusal> {
        let body = fields
            .iter()
            .map(|(k, v)| connector::signing::php_http_build_query(&[(k, v)]))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let delivery = Delivery::parse(headers, body.into()).expect("parses");
        ApistoreVerifier {
            appid: "1".into(),
            secret: Secret::new("s3cret".into()),
        }
        .check(&delivery, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn seed_004_deliveries_are_checked() {
        let t = NOW.to_string();
        let good = connector::signing::md5_time_appid_secret(&t, "1", "s3cret");
        let answer = r#"{"codeid":10000,"vioNum":0,"data":[]}"#;
        let fields = |sign: &str, appid: &str| {
            vec![
                ("time", t.clone()),
                ("appid", appid.to_owned()),
                ("request_id", "v-1".to_owned()),
                (
                    "request",
                    r#"{"car_no":"苏E9T8R7","axle_ref":"ours-1"}"#.to_owned(),
                ),
                ("sign", sign.to_owned()),
                ("response", answer.to_owned()),
            ]
        };
        let borrow = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
        let run = |v: Vec<(&str, String)>| {
            let b: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            check(&b)
        };
        let ok = run(borrow(&fields(&good, "1"))).expect("genuine");
        assert_eq!(ok.vendor_request_id, "v-1");
        assert_eq!(ok.our_request_id.as_deref(), Some("ours-1"));
        assert_eq!(ok.payload.as_deref(), Some(answer));
        assert!(!ok.sandbox);
        assert!(run(fields(&good.to_uppercase(), "1")).is_ok(), "hex case");
        assert!(matches!(
            run(fields("0123456789abcdef0123456789abcdef", "1")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            run(fields(&good, "2")),
            Err(Refusal::Forbidden(_))
        ));
        let mut missing = fields(&good, "1");
        missing.retain(|(k, _)| *k != "response");
        assert_eq!(
            run(missing),
            Err(Refusal::BadRequest("missing field `response`".into()))
        );
    }
}
