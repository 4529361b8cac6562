//! `POST /webhooks/platecb`: where platecb delivers answers (seed 004).
//!
//! This file is platecb's part of the callback crate's webhook: the check of a delivery
//! ([`PlatecbVerifier`]). Every field present (`time, appid, sign, request_id,
//! response`); `appid` ours; `sign == md5(time + appid + secret)`, compared in constant
//! time; our reference read from the echoed `request` (`axle_ref`, see
//! [`super::callback_ids`]); `result_status` 2 (查询中) is an interim message,
//! acknowledged and not stored, so the final answer that follows is not shadowed; the
//! sandbox header labels what the Axle sandbox delivered.
//!
//! The rest is `callback::webhook`'s: freshness (`max_clock_skew`, with late retries of
//! our own pending queries still taken: the platform retries after 5 min, 1 h, 12 h and
//! the document does not say a retry is signed afresh), storing only answers to queries
//! we submitted, under the plate we asked about (the signature covers `time` and `appid`
//! only, so a callback's data could be anything), committing before `success`, first
//! write wins, and the server's bounds on headers, bodies and connections.

use std::time::SystemTime;

use axum::Router;
use callback::Callbacks;
use callback::webhook::{self, Checked, Delivery, Refusal, Verifier};
use settings::Secret;

use super::PlatecbConfig;
use super::transformers::{STATUS_QUERYING, result_status};

pub const PATH: &str = "/webhooks/platecb";

/// platecb's check of its deliveries (seed 004: 加密规则 md5(time+appid+密钥)).
#[derive(Debug, Clone)]
pub struct PlatecbVerifier {
    pub appid: String,
    pub secret: Secret<String>,
}

impl Verifier for PlatecbVerifier {
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
        let interim = result_status(&response) == Some(STATUS_QUERYING);
        Ok(Checked {
            vendor_request_id,
            our_request_id,
            payload: (!interim).then(|| response.into_owned()),
            signed_at: Some(signed_at),
            sandbox: delivery.header(connector::client::SANDBOX_HEADER) == Some("1"),
        })
    }
}

/// The webhook's route, storing into `callbacks` (whose waiting lookups it wakes), for
/// [`callback::webhook::serve`].
pub fn router(callbacks: Callbacks, cfg: &PlatecbConfig) -> Router {
    let verifier = PlatecbVerifier {
        appid: cfg.appid.clone(),
        secret: cfg.secret.clone(),
    };
    Router::new().route(
        PATH,
        webhook::endpoint(callbacks, verifier, cfg.webhook_settings()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn verifier() -> PlatecbVerifier {
        PlatecbVerifier {
            appid: "1365".into(),
            secret: Secret::new("s3cret".into()),
        }
    }

    fn delivery(fields: &[(&str, &str)], sandbox: bool) -> Delivery {
        let body = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    connector::signing::php_http_build_query(&[("v", v)]).trim_start_matches("v=")
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if sandbox {
            headers.insert(
                connector::client::SANDBOX_HEADER,
                http::HeaderValue::from_static("1"),
            );
        }
        Delivery::parse(headers, body.into()).expect("parses")
    }

    fn signed(time: u64, sign: Option<&str>, response: &str) -> Vec<(String, String)> {
        let t = time.to_string();
        let good = connector::signing::md5_time_appid_secret(&t, "1365", "s3cret");
        vec![
            ("time".into(), t),
            ("appid".into(), "1365".into()),
            ("request_id".into(), "v-1".into()),
            (
                "request".into(),
                r#"{"car_no":"闽DD22222","axle_ref":"ours-1"}"#.into(),
            ),
            ("sign".into(), sign.map_or(good, str::to_owned)),
            ("response".into(), response.into()),
        ]
    }

    fn check(fields: &[(String, String)], sandbox: bool) -> Result<Checked, Refusal> {
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(NOW);
        verifier().check(&delivery(&borrowed, sandbox), now)
    }

    #[test]
    fn seed_004_signature_ids_and_interim_answers() {
        let answer = r#"{"c_vin":"LNBSCC3H5JT920714","result_status":"1"}"#;
        let ok = check(&signed(NOW, None, answer), true).expect("genuine");
        assert_eq!(ok.vendor_request_id, "v-1");
        assert_eq!(ok.our_request_id.as_deref(), Some("ours-1"));
        assert_eq!(ok.payload.as_deref(), Some(answer));
        assert!(ok.sandbox);
        assert_eq!(
            ok.signed_at,
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(NOW))
        );
        // Upper-case hex is the same signature.
        let upper = connector::signing::md5_time_appid_secret(&NOW.to_string(), "1365", "s3cret")
            .to_uppercase();
        assert!(check(&signed(NOW, Some(&upper), answer), false).is_ok_and(|c| !c.sandbox));
        // Seed 004 line 63: 2 查询中 is acknowledged, not an answer.
        let interim = check(&signed(NOW, None, r#"{"result_status":"2"}"#), false).expect("ok");
        assert_eq!(interim.payload, None);
        // Forged, foreign, unreadable.
        assert!(matches!(
            check(
                &signed(NOW, Some("0123456789abcdef0123456789abcdef"), answer),
                false
            ),
            Err(Refusal::Forbidden(_))
        ));
        let mut foreign = signed(NOW, None, answer);
        foreign[1].1 = "9999".into();
        assert!(matches!(check(&foreign, false), Err(Refusal::Forbidden(_))));
        let mut missing = signed(NOW, None, answer);
        missing.retain(|(k, _)| k != "response");
        assert_eq!(
            check(&missing, false),
            Err(Refusal::BadRequest("missing field `response`".into()))
        );
        let mut bad_time = signed(NOW, None, answer);
        bad_time[0].1 = "soon".into();
        assert!(matches!(
            check(&bad_time, false),
            Err(Refusal::BadRequest(_))
        ));
    }
}
