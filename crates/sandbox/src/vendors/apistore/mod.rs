//! apistore, seed 003: traffic violations by plate, 号牌种类, engine and frame number.
//!
//! `GET` or `POST` (form, `application/x-www-form-urlencoded;charset=utf-8`)
//! `/pyi/65/173`, also mounted at `/apistore/pyi/65/173`: `appid, car_no, car_type,
//! engine_number, frame_number, format, time, sign` (and `callback`, where an answer
//! comes later). The platform's gate (10001, 10002, 10005, 10003 in the app's MD5 or
//! Hash mode, 10017, 10004) is `super::platform`'s; then, in order:
//!
//! 1. the app's standing: 10006, 10007, 10008, 10010, 10011, 10012, 10013, 10018,
//!    10022 for apps configured so;
//! 2. `car_no` and `car_type` present, else 10015 参数个数错误;
//! 3. an app in debug mode gets 10024 调试模式数据 with the seed's example record,
//!    whatever it asked, unbilled;
//! 4. an app with no credits left gets 10018 次数不足;
//! 5. the fixtures (`fixtures`): a vehicle the platform fails on answers its code; a
//!    known vehicle 10000 with its answer (billed: 返回10000状态都会进行计费), or, for
//!    a vehicle answered later, 10023 (billed) and the 10000 answer by callback to the
//!    request's `callback` when it has one (seed 004's form and retries,
//!    `platform::delivery`); anything else 10025 查无数据 (unbilled: the seed does not
//!    say it is billed).
//!
//! What the seed leaves open:
//! - `car_no` 必须大写 and engine/frame 字母必须大写 document no answer for lower
//!   case. Like platecb, the sandbox looks them up as sent, finds nothing, and answers
//!   10025 rather than invent a code.
//! - `time` in answers is 请求时传递的当前服务器时间戳: the sandbox sends its own clock
//!   (with `clock_offset_s`), in every answer, errors included, which is what lets a
//!   client correct its drift after a 10004.
//! - `format` is not checked: the sandbox answers JSON, the format clients use.
//! - 10009, 10014, 10019, 10020 and 10021 have no cause the sandbox could model: fault
//!   rules inject them (and two fixture vehicles always fail with 10021 and 10014).

mod fixtures;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Map, Value, json};

use self::fixtures::{File, Found, Query};
use super::platform::codes::{injected, message, reply_code};
use super::platform::delivery::{self, Courier, Order, check_time_scale, request_id, schedule};
use super::platform::submit::{
    self, Credentials, Submitted, authenticate, non_empty, now_secs, plate_key,
};
use crate::config::{ApistoreApp, ApistoreConfig, AppStatus, SandboxConfig};
use crate::error::SandboxError;
use crate::faults::CallbackFault;
use crate::faults::matching::{Matcher, ParamFact};
use crate::params::Params;
use crate::sync::lock;
use crate::vendor::{RequestView, Vendor};

pub const VENDOR: &str = "apistore";
/// The documented endpoint (接口地址: https://登录后显示/pyi/65/173).
pub const PATH: &str = "/pyi/65/173";
/// The same endpoint under a vendor prefix, for unambiguous base URLs.
pub const ALIAS_PREFIX: &str = "/apistore";

const FIXTURES: &str = include_str!("../../../fixtures/apistore.json");

#[derive(Debug)]
pub(crate) struct Apistore {
    config: ApistoreConfig,
    seed: u64,
    apps: HashMap<String, ApistoreApp>,
    fixtures: File,
    /// Credits left per appid, for apps with a configured number.
    credits: Mutex<HashMap<String, u64>>,
    requests: AtomicU64,
    courier: Arc<Courier>,
}

/// The registry's constructor.
pub(crate) fn register(cfg: &SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError> {
    Ok(Arc::new(Apistore::new(cfg)?))
}

impl Apistore {
    fn new(cfg: &SandboxConfig) -> Result<Self, SandboxError> {
        let config = cfg.apistore.clone();
        check_time_scale(VENDOR, config.time_scale)?;
        let mut apps = HashMap::new();
        for app in &config.apps {
            if app.appid.is_empty() || app.secret.is_empty() {
                return Err(SandboxError::Config(format!(
                    "apistore app `{}`: appid and secret must not be empty",
                    app.appid
                )));
            }
            if apps.insert(app.appid.clone(), app.clone()).is_some() {
                return Err(SandboxError::Config(format!(
                    "apistore appid {} listed twice",
                    app.appid
                )));
            }
        }
        // What a forged callback claims: a violation the platform never sent.
        let forged = json!({"carNo": "粤A00000", "vioNum": 1, "fineTotal": 2000,
            "integralTotal": 12, "data": [{"vioCode": "1701", "vioFine": "2000", "vioScore": "12"}]});
        let this = Self {
            courier: Arc::new(Courier::new(VENDOR, forged, config.clock_offset_s)?),
            fixtures: File::load(FIXTURES)?,
            config,
            seed: cfg.seed,
            apps,
            credits: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        };
        this.reset();
        Ok(this)
    }

    /// The platform's clock, Unix seconds.
    fn now(&self) -> u64 {
        now_secs().saturating_add_signed(self.config.clock_offset_s)
    }

    /// A code of seed 003's table, with the platform's `time` and `extra`'s members.
    fn answer(&self, code: i64, mut extra: Map<String, Value>) -> Response {
        extra.insert("time".into(), json!(self.now().to_string()));
        reply_code(code, extra)
    }

    /// The answer to an authenticated query from `app` (steps 1-5 of the module comment).
    fn query(&self, app: &ApistoreApp, params: &Params, fault: Option<CallbackFault>) -> Response {
        if let Some(code) = app.status.refusal() {
            return self.answer(code, Map::new());
        }
        let (Some(car_no), Some(car_type)) =
            (non_empty(params, "car_no"), non_empty(params, "car_type"))
        else {
            return self.answer(10015, Map::new());
        };
        let now = self.now();
        if app.status == AppStatus::Debug {
            return reply_code(10024, self.fixtures.debug.render(now));
        }
        let plate = plate_key(car_no);
        let query = Query {
            plate: &plate,
            car_type,
            engine_number: non_empty(params, "engine_number"),
            frame_number: non_empty(params, "frame_number"),
        };
        // Checked and charged under one lock, so concurrent queries cannot overdraw.
        let mut credits = lock(&self.credits);
        if credits.get(&app.appid) == Some(&0) {
            return self.answer(10018, Map::new());
        }
        let vehicle = match self.fixtures.find(&query) {
            Found::Nothing => return self.answer(10025, Map::new()),
            Found::Failure(code) => return self.answer(code, Map::new()),
            Found::Vehicle(v) => v,
        };
        if let Some(left) = credits.get_mut(&app.appid) {
            *left -= 1;
        }
        drop(credits);
        let answer = vehicle.answer.render(now);
        if !vehicle.answered_later {
            return reply_code(10000, answer);
        }
        let request_id = request_id(
            self.seed,
            self.requests.fetch_add(1, Ordering::SeqCst) + 1,
            &plate,
        );
        // Without a `callback` the platform takes the order all the same, and the
        // answer reaches nobody: a client that forgets it learns so the hard way.
        if let Some(callback) = non_empty(params, "callback") {
            let mut response = answer;
            response.insert("codeid".into(), json!(10000));
            response.insert("message".into(), json!(message(10000)));
            let order = Order {
                callback: callback.to_owned(),
                appid: app.appid.clone(),
                secret: app.secret.clone(),
                request_id: request_id.clone(),
                plate: car_no.trim().to_owned(),
                request: submit::request_echo(params),
                response: Value::Object(response).to_string(),
            };
            let waits = schedule(self.config.first_delivery_ms, self.config.time_scale);
            tokio::spawn(delivery::deliver(self.courier.clone(), order, waits, fault));
        }
        let mut extra = Map::new();
        if self.config.submit_answer_has_request_id {
            extra.insert("request_id".into(), json!(request_id));
        }
        self.answer(10023, extra)
    }
}

impl Vendor for Apistore {
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
            // 请求方式:POST,GET (seed 003).
            .route(PATH, get(handle).post(handle))
            .route(&format!("{ALIAS_PREFIX}{PATH}"), get(handle).post(handle))
            .with_state(self)
    }

    fn admin_routes(self: Arc<Self>) -> Router {
        delivery::admin_routes(self.courier.clone())
    }

    /// The platform's envelope, with the platform's `time` like every apistore answer.
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        let mut time = Map::new();
        time.insert("time".into(), json!(self.now().to_string()));
        injected(code, msg, time)
    }

    /// Configured credits, request ids from the beginning, no remembered deliveries.
    /// Callbacks already scheduled still go out.
    fn reset(&self) {
        *lock(&self.credits) = self
            .config
            .apps
            .iter()
            .filter_map(|a| a.credits.map(|c| (a.appid.clone(), c)))
            .collect();
        self.requests.store(0, Ordering::SeqCst);
        self.courier.forget_all();
    }

    fn info(&self) -> Map<String, Value> {
        let credits = lock(&self.credits);
        // Never the secrets, though they are demo values.
        let apps: Vec<Value> = self
            .config
            .apps
            .iter()
            .map(|a| {
                json!({"appid": a.appid, "sign_mode": a.sign_mode, "status": a.status,
                    "credits": credits.get(&a.appid)})
            })
            .collect();
        let vehicles: Vec<Value> = self
            .fixtures
            .vehicles
            .iter()
            .map(|v| {
                json!({"car_no": v.car_no, "car_type": v.car_type, "label": v.label,
                    "async": v.answered_later})
            })
            .collect();
        let special: Vec<Value> = self
            .fixtures
            .special
            .iter()
            .map(|s| json!({"car_no": s.car_no, "car_type": s.car_type, "code": s.code, "label": s.label}))
            .collect();
        let mut m = Map::new();
        m.insert("apps".into(), json!(apps));
        m.insert("fixtures".into(), json!(vehicles));
        m.insert("special".into(), json!(special));
        m.insert("time_scale".into(), json!(self.config.time_scale));
        m.insert("clock_offset_s".into(), json!(self.config.clock_offset_s));
        m
    }

    fn delivers_callbacks(&self) -> bool {
        true
    }

    fn fault_matchers(&self) -> &'static [Matcher] {
        submit::MATCHERS
    }

    fn fault_params(&self, req: &RequestView<'_>) -> Vec<ParamFact> {
        submit::fault_params(req)
    }
}

async fn handle(
    State(apistore): State<Arc<Apistore>>,
    fault: Option<Extension<CallbackFault>>,
    Submitted(params): Submitted,
) -> Response {
    let found = authenticate(
        &params,
        |appid| {
            apistore.apps.get(appid).map(|app| {
                let creds = Credentials {
                    secret: app.secret.as_str(),
                    mode: app.sign_mode,
                };
                (app, creds)
            })
        },
        apistore.now(),
    );
    match found {
        Ok(app) => apistore.query(app, &params, fault.map(|Extension(f)| f)),
        Err(code) => apistore.answer(code, Map::new()),
    }
}

#[cfg(test)]
mod tests;
