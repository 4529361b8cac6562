//! platecb, seed 004 (submit protocol of seed 003's platform): plate -> vehicle, answered
//! by callback.
//!
//! Submit: `POST` (or `GET`) `/platecb/api/query`, form `appid, car_no, callback, format,
//! time, sign`, `sign = md5(sorted non-empty k+v + secret)`, `time` within 10 minutes,
//! `car_no` upper case. Answers `{"codeid":10023,"message":"订单提交成功,等待回调结果"}`:
//! seed 003 lists no `request_id` in submit answers (`submit_answer_has_request_id` adds
//! one); receivers correlate by the submitted parameters, all echoed in the callback's
//! `request`, as seed 004 describes. Errors use the platform's codes (10001 no appid,
//! 10002 no sign, 10003 bad sign, 10004 clock drift, 10005 unknown appid, 10015 missing
//! `car_no` or `callback`, 10017 non-integer time, 10019 lower-case `car_no`, 10025 no
//! data).
//!
//! Callback: `POST <callback>` form `time, appid, request_id, request, sign, response` with
//! `sign = md5(time + appid + secret)`. Anything but a body containing `success` is
//! retried after 5 min, 1 h and 12 h, multiplied by `time_scale` (tests use a tiny scale);
//! retries replay the first attempt's `time` and `sign`. A fixture's `result_status` is
//! sent as is (`津A00003` is a query that failed: 3).
//! The admin API can re-deliver a callback (duplicate) or send a forged one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::VendorCode;
use crate::SandboxError;
use crate::faults::{self, VendorScope};
use crate::signing;
use crate::state::AppState;

pub const VENDOR: &str = "platecb";
pub const PATH: &str = "/platecb/api/query";

const FIXTURES: &str = include_str!("../../fixtures/platecb.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatecbConfig {
    /// appid -> secret (sandbox demo values).
    pub apps: HashMap<String, String>,
    /// Delay before the first delivery, in ms.
    pub first_delivery_ms: u64,
    /// Multiplies the documented retry schedule (5 min, 1 h, 12 h): 1.0 is real time.
    pub time_scale: f64,
    /// Put a `request_id` in the submit answer. Seed 003 lists none, so by default the
    /// answer has none and receivers correlate by the parameters echoed in the
    /// callback's `request`; turn on to test receivers that use the id.
    pub submit_answer_has_request_id: bool,
}

impl Default for PlatecbConfig {
    fn default() -> Self {
        Self {
            apps: HashMap::from([("1365".to_owned(), "sandbox-platecb-secret".to_owned())]),
            first_delivery_ms: 200,
            time_scale: 1.0,
            submit_answer_has_request_id: false,
        }
    }
}

/// A delivery as sent (kept for re-delivery from the admin API).
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub callback: String,
    pub form: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct Platecb {
    by_plate: HashMap<String, Value>,
    deliveries: Mutex<HashMap<String, Delivery>>,
    counter: Mutex<u64>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct File {
    vehicles: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    plate: String,
    response: Value,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Platecb {
    /// Fixture plates, sorted (for `/_sandbox/info`).
    pub(crate) fn fixture_plates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_plate.keys().cloned().collect();
        v.sort();
        v
    }

    /// Request ids from the beginning and no remembered deliveries (for
    /// `/_sandbox/reset`). Callbacks already scheduled still go out.
    pub(crate) fn reset(&self) {
        *crate::state::lock(&self.counter) = 0;
        crate::state::lock(&self.deliveries).clear();
    }

    pub(crate) fn new() -> Result<Self, SandboxError> {
        let file: File = serde_json::from_str(FIXTURES).map_err(|e| SandboxError::Fixture {
            origin: "fixtures/platecb.json".into(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            by_plate: file
                .vehicles
                .into_iter()
                .map(|f| (f.plate, f.response))
                .collect(),
            deliveries: Mutex::new(HashMap::new()),
            counter: Mutex::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| SandboxError::Config(e.to_string()))?,
        })
    }

    fn remember(&self, request_id: &str, d: Delivery) {
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(request_id.to_owned(), d);
    }

    pub(crate) fn delivery(&self, request_id: &str) -> Option<Delivery> {
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(request_id)
            .cloned()
    }

    /// POSTs one delivery; true when the receiver answered `success`.
    pub(crate) async fn send(&self, d: &Delivery) -> bool {
        // The platform is PHP: its forms are `http_build_query` text.
        let body = signing::http_build_query(&d.form);
        match self
            .http
            .post(&d.callback)
            .header("content-type", "application/x-www-form-urlencoded")
            // Labels the delivery as simulated, like every other sandbox answer.
            .header(crate::SANDBOX_HEADER, "1")
            .body(body)
            .send()
            .await
        {
            Ok(r) => r.text().await.is_ok_and(|t| t.contains("success")),
            Err(_) => false,
        }
    }
}

fn reply(code: i64, message: &str, extra: &Value) -> Response {
    let mut body = json!({"codeid": code, "message": message});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let mut res = Json(body).into_response();
    res.extensions_mut().insert(VendorCode(code));
    res
}

/// The platform's own text for a status code (seed 003's 状态码说明).
pub fn message(code: i64) -> &'static str {
    match code {
        10000 => "返回成功",
        10001 => "appid必须指定",
        10002 => "sign值必须指定",
        10003 => "sign值验证不通过",
        10004 => "时差不能超过10分钟",
        10005 => "appid错误",
        10006 => "当前IP地址未授权",
        10007 => "应用被禁用,请联系客服处理",
        10008 => "应用内没有该接口",
        10009 => "api接口不存在",
        10010 => "您没有添加该api接口",
        10011 => "api已经到期",
        10012 => "没有订购任何api,请前往购买后再操作",
        10013 => "该接口已经暂停使用",
        10014 => "未知的错误,可以联系客服处理",
        10015 => "参数个数错误",
        10017 => "time必须是整型",
        10018 => "次数不足",
        10020 => "子接口不存在,可能已经被关闭",
        10021 => "服务器发生错误",
        10022 => "帐户余额不足,请充值!",
        10023 => "订单提交成功,等待回调结果",
        10024 => "调试模式数据",
        10025 => "查无数据",
        _ => "未知的错误",
    }
}

pub(crate) fn error_response(code: i64, msg: Option<&str>) -> Response {
    reply(code, msg.unwrap_or_else(|| message(code)), &json!({}))
}

pub(crate) fn routes(state: AppState) -> Router {
    let scope = VendorScope {
        state: state.clone(),
        vendor: VENDOR,
        alias: "",
    };
    Router::new()
        // 请求方式:POST,GET (seed 003).
        .route(PATH, post(submit).get(submit_get))
        .layer(axum::middleware::from_fn_with_state(scope, faults::layer))
        .with_state(state)
}

async fn submit_get(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    let query = uri.query().unwrap_or_default().as_bytes().to_vec();
    submit(State(state), Bytes::from(query)).await
}

async fn submit(State(state): State<AppState>, body: Bytes) -> Response {
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let cfg = &state.0.config.platecb;
    let Some(appid) = get("appid").filter(|a| !a.is_empty()) else {
        return reply(10001, "appid必须指定", &json!({}));
    };
    let Some(sign) = get("sign").filter(|s| !s.is_empty()) else {
        return reply(10002, "sign值必须指定", &json!({}));
    };
    let Some(secret) = cfg.apps.get(appid) else {
        return reply(10005, "appid错误", &json!({}));
    };
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !signing::sign_matches(sign, &signing::sorted_pairs_then_secret(&pairs, secret)) {
        return reply(10003, "sign值验证不通过", &json!({}));
    }
    if let Some(t) = get("time") {
        let Ok(t) = t.parse::<u64>() else {
            return reply(10017, "time必须是整型", &json!({}));
        };
        if now_secs().abs_diff(t) > 600 {
            return reply(10004, "时差不能超过10分钟", &json!({}));
        }
    }
    let Some(car_no) = get("car_no").filter(|c| !c.trim().is_empty()) else {
        return reply(10015, "参数个数错误:缺少car_no", &json!({}));
    };
    // 查询的车牌号,必须大写 (seed 003).
    if car_no.chars().any(char::is_lowercase) {
        return reply(10019, "car_no必须大写", &json!({}));
    }
    let plate = domain_plate(car_no);
    let Some(response) = state.0.platecb.by_plate.get(&plate).cloned() else {
        return reply(10025, "查无数据", &json!({}));
    };
    let Some(callback) = get("callback").filter(|c| !c.is_empty()).map(str::to_owned) else {
        return reply(10015, "参数个数错误:缺少callback", &json!({}));
    };
    let request_id = {
        let mut c = state
            .0
            .platecb
            .counter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *c += 1;
        signing::md5_hex(format!("{}-{}-{plate}", state.0.config.seed, *c).as_bytes())
    };
    let request_json = json!(params.iter().cloned().collect::<HashMap<_, _>>()).to_string();
    let (appid, secret) = (appid.to_owned(), secret.clone());
    let schedule: Vec<Duration> = [0.0, 300.0, 3600.0, 43_200.0]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 {
                Duration::from_millis(cfg.first_delivery_ms)
            } else {
                Duration::try_from_secs_f64((s * cfg.time_scale).max(0.0)).unwrap_or(Duration::MAX)
            }
        })
        .collect();
    let st = state.clone();
    let rid = request_id.clone();
    tokio::spawn(async move {
        // Seed 004 does not say whether a retry is signed afresh; the sandbox replays the
        // first attempt's `time` and `sign`, the harder case for a receiver that checks
        // freshness (it must still take a late retry for a request it made).
        let time = now_secs().to_string();
        for wait in schedule {
            tokio::time::sleep(wait).await;
            let delivery = Delivery {
                callback: callback.clone(),
                form: vec![
                    ("time".into(), time.clone()),
                    ("appid".into(), appid.clone()),
                    ("request_id".into(), rid.clone()),
                    ("request".into(), request_json.clone()),
                    (
                        "sign".into(),
                        signing::time_appid_secret(&time, &appid, &secret),
                    ),
                    ("response".into(), response.to_string()),
                ],
            };
            st.0.platecb.remember(&rid, delivery.clone());
            if st.0.platecb.send(&delivery).await {
                return;
            }
        }
    });
    let extra = if cfg.submit_answer_has_request_id {
        json!({ "request_id": request_id })
    } else {
        json!({})
    };
    reply(10023, "订单提交成功,等待回调结果", &extra)
}

fn domain_plate(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•'))
        .flat_map(char::to_uppercase)
        .collect()
}

#[derive(Deserialize)]
struct Target {
    request_id: String,
}

/// Admin: `POST /_sandbox/platecb/redeliver {"request_id"}` sends the last delivery again
/// (a duplicate); `POST /_sandbox/platecb/forge {"request_id"}` sends one with altered data
/// and a wrong signature. Both answer `{"receiver_said_success": bool}`.
pub(crate) fn admin_routes(state: AppState) -> Router {
    Router::new()
        .route("/_sandbox/platecb/redeliver", post(redeliver))
        .route("/_sandbox/platecb/forge", post(forge))
        .with_state(state)
}

async fn redeliver(State(state): State<AppState>, Json(t): Json<Target>) -> Response {
    match state.0.platecb.delivery(&t.request_id) {
        Some(d) => {
            Json(json!({ "receiver_said_success": state.0.platecb.send(&d).await })).into_response()
        }
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "no delivery with that request_id\n",
        )
            .into_response(),
    }
}

async fn forge(State(state): State<AppState>, Json(t): Json<Target>) -> Response {
    let Some(mut d) = state.0.platecb.delivery(&t.request_id) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "no delivery with that request_id\n",
        )
            .into_response();
    };
    for (k, v) in &mut d.form {
        match k.as_str() {
            "response" => {
                *v = json!({"c_vin": "LFORGED0000000000", "c_properties": "营运"}).to_string();
            }
            "sign" => *v = "0".repeat(32),
            _ => {}
        }
    }
    Json(json!({ "receiver_said_success": state.0.platecb.send(&d).await })).into_response()
}
