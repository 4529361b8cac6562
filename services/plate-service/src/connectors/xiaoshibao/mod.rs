//! xiaoshibao (seed 000): plate -> VIN, 使用性质, brand, model, first registration.
//!
//! `POST {base}/v1/vehicle/query`, `Authorization: Bearer <token>`, JSON body
//! `{plate_number, province, city}`. HTTP 400 bad parameters, 401/403 credentials,
//! 429 rate limited, 503 busy: the last two are retried with exponential backoff and
//! jitter that honours Retry-After and the caller's deadline (`connector::VendorClient`).
//! Axle calls it synchronously and sends no `callback`: the answer is needed within the
//! caller's deadline, and a webhook would add a public endpoint for no gain here.

pub mod transformers;

mod source;

use std::time::Instant;

use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::config::HttpClientConfig;
use connector::{ConnectorError, VendorError, VendorErrorKind};
use serde::{Deserialize, Serialize};
use settings::Secret;

pub use source::{short_name, source};

pub use transformers::XiaoshibaoVehicle;

/// Connector name: provenance, metrics, merge policy.
pub const SOURCE: &str = "xiaoshibao";
const PATH: &str = "/v1/vehicle/query";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XiaoshibaoConfig {
    /// When false, LookupVehicle reports xiaoshibao as SKIPPED.
    pub enabled: bool,
    pub http: HttpClientConfig,
    /// Bearer token (开发者中心). Never printed.
    pub token: Secret<String>,
    /// How far its answers are trusted when an answer states no confidence of its own
    /// (the vendor usually sends one per answer, which is then used).
    pub confidence: f32,
}

impl Default for XiaoshibaoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            http: HttpClientConfig {
                base_url: "http://127.0.0.1:50080".to_owned(),
                request_timeout: std::time::Duration::from_secs(3),
                ..HttpClientConfig::default()
            },
            token: Secret::new("sandbox-xiaoshibao-token".to_owned()),
            confidence: 0.8,
        }
    }
}

#[derive(Debug)]
pub struct XiaoshibaoClient {
    client: VendorClient,
    cfg: XiaoshibaoConfig,
}

impl XiaoshibaoClient {
    pub fn new(cfg: &XiaoshibaoConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &cfg.http, ctx)?,
            cfg: cfg.clone(),
        })
    }

    /// Looks a plate up. `province` and `city` are the short names the vendor's example
    /// uses ("广东", "深圳").
    pub async fn lookup(
        &self,
        plate: &str,
        province: &str,
        city: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<XiaoshibaoVehicle>, CallFailure> {
        let url = format!("{}{PATH}", self.client.base_url().trim_end_matches('/'));
        let body = serde_json::json!({
            "plate_number": plate,
            "province": province,
            "city": city,
        });
        let auth = format!("Bearer {}", self.cfg.token.expose());
        self.client
            .execute(
                Operation {
                    name: "vehicle_query",
                    idempotent: true,
                },
                deadline,
                |http| {
                    http.post(&url)
                        .header("authorization", auth.as_str())
                        .json(&body)
                },
                classify,
            )
            .await
    }
}

/// A success envelope without a vehicle: absent, null, or PHP's empty array / object /
/// string for "nothing".
fn no_data(data: Option<&serde_json::Value>) -> bool {
    use serde_json::Value;
    match data {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::String(t)) => t.trim().is_empty(),
        Some(_) => false,
    }
}

/// Turns one HTTP response into an answer, a retry, or a final error. Public for the
/// fuzz targets (`fuzz/`), which feed it arbitrary responses.
pub fn classify(resp: &RawResponse) -> Classification<XiaoshibaoVehicle> {
    let vendor_said = transformers::parse_envelope(&resp.body).ok();
    let vendor_msg = vendor_said
        .as_ref()
        .map(|e| e.message.chars().take(200).collect::<String>())
        .unwrap_or_default();
    match resp.status {
        200 => match vendor_said {
            // The seed documents no "no record" answer. A success envelope that carries no
            // data, or a 404 code in the body, can only mean that: an answer, not a
            // broken response.
            Some(env) if env.code == 0 && no_data(env.data.as_ref()) => {
                Classification::Fail(VendorError::Vendor {
                    code: "0".to_owned(),
                    message: "success without data".to_owned(),
                    kind: VendorErrorKind::NotFound,
                })
            }
            Some(env) if env.code == 404 => Classification::Fail(VendorError::Vendor {
                code: "404".to_owned(),
                message: vendor_msg,
                kind: VendorErrorKind::NotFound,
            }),
            Some(env) if env.code == 0 => match transformers::to_vehicle(env) {
                Ok(v) => Classification::Done(v),
                Err(detail) => Classification::Fail(VendorError::MalformedBody { detail }),
            },
            // The documented error statuses, sent as the body's code under HTTP 200 (a
            // gateway that always answers 200): read as if they were the status.
            Some(env) if matches!(env.code, 400 | 401 | 403 | 429 | 503) => {
                classify(&RawResponse {
                    status: u16::try_from(env.code).unwrap_or(500),
                    headers: resp.headers.clone(),
                    body: resp.body.clone(),
                })
            }
            Some(env) => Classification::Fail(VendorError::Vendor {
                code: env.code.to_string(),
                message: vendor_msg,
                kind: VendorErrorKind::Unknown,
            }),
            None => Classification::Fail(VendorError::MalformedBody {
                detail: "response is not the documented JSON envelope".to_owned(),
            }),
        },
        // Not documented by the seed; the vendor's "no record" in practice (and in the
        // sandbox): an answer, not a failure to retry.
        404 => Classification::Fail(VendorError::Vendor {
            code: "404".to_owned(),
            message: vendor_msg,
            kind: VendorErrorKind::NotFound,
        }),
        400 => Classification::Fail(VendorError::Vendor {
            code: "400".to_owned(),
            message: vendor_msg,
            kind: VendorErrorKind::InvalidRequest,
        }),
        _ => match connector::client::classify_http_status(resp) {
            Some(err) => connector::client::retry_or_fail(err),
            None => Classification::Fail(VendorError::HttpStatus {
                status: resp.status,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn not_found(c: &Classification<XiaoshibaoVehicle>) -> bool {
        matches!(
            c,
            Classification::Fail(VendorError::Vendor {
                kind: VendorErrorKind::NotFound,
                ..
            })
        )
    }

    #[test]
    fn every_shape_of_no_record_is_not_found() {
        assert!(not_found(&classify(&answer(
            404,
            r#"{"code":404,"message":"none"}"#
        ))));
        assert!(not_found(&classify(&answer(
            200,
            r#"{"code":0,"message":"success","data":null}"#
        ))));
        assert!(not_found(&classify(&answer(
            200,
            r#"{"code":0,"message":"success"}"#
        ))));
        assert!(not_found(&classify(&answer(
            200,
            r#"{"code":404,"message":"none"}"#
        ))));
        // Data that is not an object is a broken answer, not "no record".
        assert!(matches!(
            classify(&answer(200, r#"{"code":0,"message":"success","data":[1]}"#)),
            Classification::Fail(VendorError::MalformedBody { .. })
        ));
        assert!(matches!(
            classify(&answer(200, r#"{"code":0,"message":"success","data":{"vin":"LSVAM4182N2123456"}}"#)),
            Classification::Done(v) if v.vin == "LSVAM4182N2123456"
        ));
        // PHP's empty array, object and string for "nothing".
        for data in ["[]", "{}", "\"\""] {
            let body = format!(r#"{{"code":0,"message":"success","data":{data}}}"#);
            assert!(not_found(&classify(&answer(200, &body))), "{data}");
        }
    }

    #[test]
    fn documented_error_statuses_in_the_body_count_as_statuses() {
        let body = |code: u16| format!(r#"{{"code":{code},"message":"x"}}"#);
        assert!(matches!(
            classify(&answer(200, &body(429))),
            Classification::Retry {
                error: VendorError::RateLimited { .. },
                ..
            }
        ));
        assert!(matches!(
            classify(&answer(200, &body(503))),
            Classification::Retry {
                error: VendorError::Unavailable { .. },
                ..
            }
        ));
        assert!(matches!(
            classify(&answer(200, &body(401))),
            Classification::Fail(VendorError::Auth { .. })
        ));
        assert!(matches!(
            classify(&answer(200, &body(400))),
            Classification::Fail(VendorError::Vendor {
                kind: VendorErrorKind::InvalidRequest,
                ..
            })
        ));
    }
}
