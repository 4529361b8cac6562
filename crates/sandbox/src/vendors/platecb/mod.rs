//! platecb, seed 004 (submit protocol of seed 003's platform): plate -> vehicle, answered
//! by callback (`delivery`).
//!
//! Submit: `POST` (or `GET`) `/platecb/api/query`, form `appid, car_no, callback, format,
//! time, sign`, `sign = md5(sorted non-empty k+v + secret)`, `time` within 10 minutes.
//! Answers `{"codeid":10023,"message":"订单提交成功,等待回调结果"}`: seed 003 lists no
//! `request_id` in submit answers (`submit_answer_has_request_id` adds one); receivers
//! correlate by the submitted parameters, all echoed in the callback's `request`, as
//! seed 004 describes. Errors use the platform's codes, in the words of seed 003's table
//! (10001 no appid, 10002 no sign, 10003 bad sign, 10004 clock drift, 10005 unknown
//! appid, 10015 missing `car_no` or `callback`, 10017 non-integer time, 10025 no data).
//!
//! What the seed leaves open, the sandbox does not fill in:
//! - 10019's text is `{@info}` (seed 003 line 104), a placeholder the platform fills at
//!   run time: the seed gives the code no meaning. The sandbox never answers 10019 by
//!   itself; an injected 10019 carries the fault's `msg` verbatim, or the placeholder.
//! - `car_no` 必须大写 (line 38) documents no answer for lower case: the sandbox looks a
//!   lower-case plate up as sent, finds no fixture, and answers 10025 查无数据.
//!
//! A fixture's `result_status` is sent as is (`津A00003` is a query that failed: 3).

mod delivery;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use self::delivery::{Courier, Order, now_secs, schedule};
pub use crate::config::PlatecbConfig;
use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::params::{Params, parse_urlencoded};
use crate::signing;
use crate::vendor::{Vendor, VendorCode};

pub const VENDOR: &str = "platecb";
pub const PATH: &str = "/platecb/api/query";

const FIXTURES: &str = include_str!("../../../fixtures/platecb.json");
/// Seed 003's 10004: 时差不能超过10分钟.
const MAX_DRIFT_S: u64 = 600;

/// The platform's own text for a status code, verbatim from seed 003's 状态码说明
/// (lines 88-112); `None` for a code the table does not list.
pub fn message(code: i64) -> Option<&'static str> {
    Some(match code {
        10000 => "返回成功",
        10001 => "appid必须指定,可以我的应用里面查看",
        10002 => "sign值必须指定,加密规则请前往帮助中心查看",
        10003 => "sign值验证不通过,加密规则请前往帮助中心查看",
        10004 => "时差不能超过10分钟,可以不传递这个参数,注意时间戳单位是秒",
        10005 => "appid错误,请检查appid值,前往会员中心->我的应用查看或添加",
        10006 => "当前IP地址未授权,请前往用户中心->我的应用添加ip{@info}",
        10007 => "应用被禁用,请联系客服处理",
        10008 => "应用内没有该接口,请到我的应用里面添加这个接口",
        10009 => "api接口不存在",
        10010 => "您没有添加该api接口",
        10011 => "api已经到期",
        10012 => "没有订购任何api,请前往购买后再操作",
        10013 => "该接口已经暂停使用",
        10014 => "未知的错误,可以联系客服处理",
        10015 => "参数个数错误",
        10017 => "time必须是整型",
        10018 => "次数不足",
        10019 => "{@info}",
        10020 => "子接口不存在,可能已经被关闭",
        10021 => "服务器发生错误",
        10022 => "帐户余额不足,请充值!",
        10023 => "订单提交成功,等待回调结果",
        10024 => "调试模式数据",
        10025 => "查无数据",
        _ => return None,
    })
}

#[derive(Debug)]
pub(crate) struct Platecb {
    config: PlatecbConfig,
    seed: u64,
    by_plate: HashMap<String, Value>,
    requests: AtomicU64,
    courier: Arc<Courier>,
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

/// The registry's constructor.
pub(crate) fn register(cfg: &SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError> {
    Ok(Arc::new(Platecb::new(cfg)?))
}

impl Platecb {
    fn new(cfg: &SandboxConfig) -> Result<Self, SandboxError> {
        let scale = cfg.platecb.time_scale;
        if !(scale.is_finite() && (0.0..=1000.0).contains(&scale)) {
            return Err(SandboxError::Config(format!(
                "platecb.time_scale must be between 0 and 1000 (1 is real time), not {scale}"
            )));
        }
        let file: File = serde_json::from_str(FIXTURES).map_err(|e| SandboxError::Fixture {
            origin: "fixtures/platecb.json".into(),
            detail: e.to_string(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SandboxError::Config(e.to_string()))?;
        Ok(Self {
            config: cfg.platecb.clone(),
            seed: cfg.seed,
            by_plate: file
                .vehicles
                .into_iter()
                .map(|f| (f.plate, f.response))
                .collect(),
            requests: AtomicU64::new(0),
            courier: Arc::new(Courier::new(http)),
        })
    }

    /// Fixture plates, sorted.
    fn fixture_plates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_plate.keys().cloned().collect();
        v.sort();
        v
    }

    fn next_request_id(&self, plate: &str) -> String {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        signing::md5_hex(format!("{}-{n}-{plate}", self.seed).as_bytes())
    }
}

impl Vendor for Platecb {
    fn name(&self) -> &'static str {
        VENDOR
    }

    fn paths(&self) -> Vec<String> {
        vec![PATH.to_owned()]
    }

    fn routes(self: Arc<Self>) -> Router {
        Router::new()
            // 请求方式:POST,GET (seed 003).
            .route(PATH, post(submit).get(submit))
            .with_state(self)
    }

    fn admin_routes(self: Arc<Self>) -> Router {
        delivery::admin_routes(self.courier.clone())
    }

    /// The platform's envelope: `{"codeid", "message"}` on HTTP 200.
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        match msg.or_else(|| message(code)) {
            Some(text) => reply(code, text, &json!({})),
            // No vendor text exists to copy; say so rather than invent one.
            None => reply(
                code,
                &format!("sandbox: code {code} is not in seed 003's table; give the fault a msg"),
                &json!({}),
            ),
        }
    }

    /// Request ids from the beginning and no remembered deliveries. Callbacks already
    /// scheduled still go out.
    fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.courier.forget_all();
    }

    fn info(&self) -> Map<String, Value> {
        // App ids only: the secrets are demo values, but /info never lists secrets.
        let mut app_ids: Vec<&String> = self.config.apps.keys().collect();
        app_ids.sort();
        let mut m = Map::new();
        m.insert("apps".into(), json!(app_ids));
        m.insert("fixtures".into(), json!(self.fixture_plates()));
        m.insert("time_scale".into(), json!(self.config.time_scale));
        m
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

/// A code of seed 003's table in the table's words.
fn reply_code(code: i64) -> Response {
    reply_code_with(code, &json!({}))
}

fn reply_code_with(code: i64, extra: &Value) -> Response {
    reply(code, message(code).unwrap_or_default(), extra)
}

/// Separators a caller may leave in a plate; case is kept (see the module comment).
fn plate_key(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•'))
        .collect()
}

/// The platform is PHP: parameters as `$_REQUEST` has them, the query string (GET) or
/// the form body (POST), a later duplicate replacing an earlier one.
fn submitted(method: &Method, uri: &Uri, body: &[u8]) -> Vec<(String, String)> {
    if *method == Method::GET {
        uri.query().map(parse_urlencoded).unwrap_or_default()
    } else {
        parse_urlencoded(&String::from_utf8_lossy(body))
    }
}

async fn submit(
    State(platecb): State<Arc<Platecb>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let pairs = submitted(&method, &uri, &body);
    let params = Params::from(pairs.clone());
    let cfg = &platecb.config;
    let Some(appid) = params.get("appid").filter(|a| !a.is_empty()) else {
        return reply_code(10001);
    };
    let Some(sign) = params.get("sign").filter(|s| !s.is_empty()) else {
        return reply_code(10002);
    };
    let Some(secret) = cfg.apps.get(appid) else {
        return reply_code(10005);
    };
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !signing::sign_matches(sign, &signing::sorted_pairs_then_secret(&borrowed, secret)) {
        return reply_code(10003);
    }
    // 10004: 可以不传递这个参数 — `time` is optional.
    if let Some(t) = params.get("time") {
        let Ok(t) = t.parse::<u64>() else {
            return reply_code(10017);
        };
        if now_secs().abs_diff(t) > MAX_DRIFT_S {
            return reply_code(10004);
        }
    }
    let Some(car_no) = params.get("car_no").filter(|c| !c.trim().is_empty()) else {
        return reply_code(10015);
    };
    let plate = plate_key(car_no);
    let Some(response) = platecb.by_plate.get(&plate).cloned() else {
        return reply_code(10025);
    };
    let Some(callback) = params.get("callback").filter(|c| !c.is_empty()) else {
        return reply_code(10015);
    };
    let request_id = platecb.next_request_id(&plate);
    let order = Order {
        callback: callback.to_owned(),
        appid: appid.to_owned(),
        secret: secret.clone(),
        request_id: request_id.clone(),
        request: json!(pairs.iter().cloned().collect::<HashMap<_, _>>()).to_string(),
        response: response.to_string(),
    };
    let waits = schedule(cfg.first_delivery_ms, cfg.time_scale);
    tokio::spawn(delivery::deliver(platecb.courier.clone(), order, waits));
    let extra = if cfg.submit_answer_has_request_id {
        json!({ "request_id": request_id })
    } else {
        json!({})
    };
    reply_code_with(10023, &extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003's 状态码说明, lines 88-112, copied verbatim: every listed code answers in
    /// the table's words, 10019's placeholder `{@info}` included (line 104).
    #[test]
    fn the_code_table_is_the_seeds() {
        const SEED_003_LINES_88_TO_112: [&str; 25] = [
            "10000 返回成功",
            "10001 appid必须指定,可以我的应用里面查看",
            "10002 sign值必须指定,加密规则请前往帮助中心查看",
            "10003 sign值验证不通过,加密规则请前往帮助中心查看",
            "10004 时差不能超过10分钟,可以不传递这个参数,注意时间戳单位是秒",
            "10005 appid错误,请检查appid值,前往会员中心->我的应用查看或添加",
            "10006 当前IP地址未授权,请前往用户中心->我的应用添加ip{@info}",
            "10007 应用被禁用,请联系客服处理",
            "10008 应用内没有该接口,请到我的应用里面添加这个接口",
            "10009 api接口不存在",
            "10010 您没有添加该api接口",
            "10011 api已经到期",
            "10012 没有订购任何api,请前往购买后再操作",
            "10013 该接口已经暂停使用",
            "10014 未知的错误,可以联系客服处理",
            "10015 参数个数错误",
            "10019 {@info}",
            "10017 time必须是整型",
            "10018 次数不足",
            "10020 子接口不存在,可能已经被关闭",
            "10021 服务器发生错误",
            "10022 帐户余额不足,请充值!",
            "10023 订单提交成功,等待回调结果",
            "10024 调试模式数据",
            "10025 查无数据",
        ];
        for line in SEED_003_LINES_88_TO_112 {
            let (code, text) = line.split_once(' ').expect("code and text");
            let code: i64 = code.parse().expect("numeric code");
            assert_eq!(message(code), Some(text), "code {code}");
        }
        assert_eq!(message(10016), None, "not in the table");
    }

    /// Seed 003 line 104: `10019 {@info}`. Injected without a text, the sandbox sends the
    /// placeholder, not a meaning of its own; with one, that text verbatim.
    #[tokio::test]
    async fn code_10019_passes_the_text_through() {
        let p = Platecb::new(&SandboxConfig::default()).expect("defaults");
        let body = |res: Response| async move {
            let bytes = axum::body::to_bytes(res.into_body(), 4096)
                .await
                .expect("body");
            serde_json::from_slice::<Value>(&bytes).expect("json")
        };
        assert_eq!(
            body(p.error_response(10019, None)).await,
            json!({"codeid": 10019, "message": "{@info}"})
        );
        assert_eq!(
            body(p.error_response(10019, Some("车牌号格式不正确"))).await,
            json!({"codeid": 10019, "message": "车牌号格式不正确"})
        );
        let unknown = body(p.error_response(10016, None)).await;
        assert!(
            unknown["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("sandbox:")),
            "{unknown}"
        );
    }

    #[test]
    fn plates_keep_their_case() {
        assert_eq!(plate_key(" 粤B·12345 "), "粤B12345");
        assert_eq!(plate_key("粤b12345"), "粤b12345");
    }
}
