//! xiaoshibao, seed 000: `POST /v1/vehicle/query` with `Authorization: Bearer <token>`
//! and a JSON body `{plate_number, province, city, callback?}`.
//!
//! Success is HTTP 200 `{"code":0,"message":"success","data":{vin, usage, brand, model,
//! first_register_date, confidence, source}}`. Errors use the HTTP status the seed
//! documents: 400 bad parameters, 401 missing/invalid token, 403 token not allowed,
//! 429 rate limited, 503 busy (the last two by fault injection). The seed does not
//! document "no record": the sandbox answers 404 `{"code":404,...}` for plates it has no
//! fixture for, and never invents data.
//!
//! With a `callback` URL the query is asynchronous (the seed's 异步任务与WebHook回调): the
//! answer is `{"code":0,"message":"accepted","data":{"task_id":…}}` and the result is
//! POSTed as JSON `{task_id, code, message, data}` to the callback shortly after. Axle's
//! own connector queries synchronously (the answer is needed within the caller's
//! deadline); the async mode is here for fidelity and for other clients.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::faults::matching::{Compare, Matcher, ParamFact};
use crate::headers::SANDBOX_HEADER;
use crate::vendor::{RequestView, Vendor, VendorCode};

pub const VENDOR: &str = "xiaoshibao";
pub const PATH: &str = "/v1/vehicle/query";
pub const ALIAS_PREFIX: &str = "/xiaoshibao";

/// Demo tokens (sandbox-only values, not credentials).
pub const TOKEN: &str = "sandbox-xiaoshibao-token";
pub const FORBIDDEN_TOKEN: &str = "sandbox-xiaoshibao-forbidden";

const FIXTURES: &str = include_str!("../../fixtures/xiaoshibao.json");

/// Fault rules may match a query by `plate` (the body's `plate_number`, read without
/// separators as the vendor reads it, any case), so that tests can fault one plate.
const MATCHERS: &[Matcher] = &[Matcher {
    name: "plate",
    compare: Compare::Loose,
}];

#[derive(Debug, Deserialize)]
struct File {
    vehicles: Vec<Fixture>,
}

#[derive(Debug, Deserialize)]
struct Fixture {
    plate_number: String,
    data: Value,
}

#[derive(Debug)]
pub(crate) struct Xiaoshibao {
    by_plate: HashMap<String, Value>,
    http: reqwest::Client,
    tasks: AtomicU64,
}

/// The registry's constructor.
pub(crate) fn register(_cfg: &SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError> {
    Ok(Arc::new(Xiaoshibao::new()?))
}

impl Xiaoshibao {
    fn new() -> Result<Self, SandboxError> {
        let file: File = serde_json::from_str(FIXTURES).map_err(|e| SandboxError::Fixture {
            origin: "fixtures/xiaoshibao.json".into(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            by_plate: file
                .vehicles
                .into_iter()
                .map(|f| (normalize_plate(&f.plate_number), f.data))
                .collect(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(|e| SandboxError::Config(e.to_string()))?,
            tasks: AtomicU64::new(0),
        })
    }

    /// Fixture plates, sorted.
    fn fixture_plates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_plate.keys().cloned().collect();
        v.sort();
        v
    }
}

impl Vendor for Xiaoshibao {
    fn name(&self) -> &'static str {
        VENDOR
    }

    fn paths(&self) -> Vec<String> {
        vec![PATH.to_owned(), format!("{ALIAS_PREFIX}{PATH}")]
    }

    fn alias_prefix(&self) -> Option<&'static str> {
        Some(ALIAS_PREFIX)
    }

    fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route(PATH, post(query))
            .route(&format!("{ALIAS_PREFIX}{PATH}"), post(query))
            .with_state(self)
    }

    /// Seed 000 reports errors as HTTP statuses (400, 401, 403, 429, 503) with the same
    /// code in the body; a code that is not an HTTP error status is a body code on an
    /// HTTP 200 answer.
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        let status = u16::try_from(code)
            .ok()
            .filter(|c| (400..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::OK);
        let text = msg.unwrap_or(match code {
            400 => "invalid parameters",
            401 => "missing or invalid token",
            403 => "token not allowed for this interface",
            404 => "no vehicle found for this plate",
            429 => "rate limited",
            503 => "service busy",
            _ => "error",
        });
        reply(status, code, text, &Value::Null)
    }

    /// Task ids from the beginning.
    fn reset(&self) {
        self.tasks.store(0, Ordering::Relaxed);
    }

    fn info(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "tokens".into(),
            json!({"active": TOKEN, "forbidden (403)": FORBIDDEN_TOKEN}),
        );
        m.insert("fixtures".into(), json!(self.fixture_plates()));
        m
    }

    fn fault_matchers(&self) -> &'static [Matcher] {
        MATCHERS
    }

    fn fault_params(&self, req: &RequestView<'_>) -> Vec<ParamFact> {
        let plate = serde_json::from_slice::<Value>(req.body)
            .ok()
            .and_then(|v| v.get("plate_number")?.as_str().map(normalize_plate));
        MATCHERS
            .iter()
            .map(|&matcher| ParamFact {
                matcher,
                value: plate.clone(),
            })
            .collect()
    }
}

/// The vendor matches plates without separators and case-insensitively, like Axle.
fn normalize_plate(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•'))
        .flat_map(char::to_uppercase)
        .collect()
}

fn reply(status: StatusCode, code: i64, message: &str, data: &Value) -> Response {
    let body = json!({"code": code, "message": message, "data": data}).to_string();
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        )],
        body,
    )
        .into_response();
    res.extensions_mut().insert(VendorCode(code));
    res
}

async fn query(State(x): State<Arc<Xiaoshibao>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        None | Some("") => {
            return reply(
                StatusCode::UNAUTHORIZED,
                401,
                "missing bearer token",
                &Value::Null,
            );
        }
        Some(FORBIDDEN_TOKEN) => {
            return reply(
                StatusCode::FORBIDDEN,
                403,
                "token not allowed for this API or IP",
                &Value::Null,
            );
        }
        Some(TOKEN) => {}
        Some(_) => {
            return reply(
                StatusCode::UNAUTHORIZED,
                401,
                "invalid or expired token",
                &Value::Null,
            );
        }
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            400,
            "body is not JSON",
            &Value::Null,
        );
    };
    let Some(plate) = req
        .get("plate_number")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
    else {
        return reply(
            StatusCode::BAD_REQUEST,
            400,
            "plate_number is required",
            &Value::Null,
        );
    };
    let plate = normalize_plate(plate);
    if !(7..=8).contains(&plate.chars().count()) {
        return reply(
            StatusCode::BAD_REQUEST,
            400,
            "plate_number format is invalid",
            &Value::Null,
        );
    }
    let found = x.by_plate.get(&plate).cloned();
    if let Some(callback) = req
        .get("callback")
        .and_then(Value::as_str)
        .filter(|c| c.starts_with("http://") || c.starts_with("https://"))
    {
        let n = x.tasks.fetch_add(1, Ordering::Relaxed) + 1;
        let task_id = format!("xsb-{n:08}");
        let (code, message, data) = match found {
            Some(d) => (0, "success", d),
            None => (404, "no vehicle found for this plate", Value::Null),
        };
        let body = json!({"task_id": task_id, "code": code, "message": message, "data": data});
        let (http, url) = (x.http.clone(), callback.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let sent = http
                .post(&url)
                .header(SANDBOX_HEADER, "1")
                .json(&body)
                .send()
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e.without_url(), "xiaoshibao callback delivery failed");
            }
        });
        return reply(
            StatusCode::OK,
            0,
            "accepted",
            &json!({ "task_id": task_id }),
        );
    }
    match found {
        Some(data) => reply(StatusCode::OK, 0, "success", &data),
        None => reply(
            StatusCode::NOT_FOUND,
            404,
            "no vehicle found for this plate",
            &Value::Null,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_load_and_include_the_seed_example() {
        let x = Xiaoshibao::new().expect("fixtures");
        let seed = x.by_plate.get("粤B12345").expect("seed example");
        assert_eq!(seed["vin"], "LSJA24U66JA123456");
        assert_eq!(normalize_plate("粤b·12345"), "粤B12345");
    }
}
