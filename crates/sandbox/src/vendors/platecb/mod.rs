//! platecb, seed 004 (submit protocol of seed 003's platform): plate -> vehicle, answered
//! by callback.
//!
//! Submit: `POST` (or `GET`) `/platecb/api/query`, form `appid, car_no, callback, format,
//! time, sign`, `sign = md5(sorted non-empty k+v + secret)`, `time` within 10 minutes.
//! Answers `{"codeid":10023,"message":"订单提交成功,等待回调结果"}`: seed 003 lists no
//! `request_id` in submit answers (`submit_answer_has_request_id` adds one); receivers
//! correlate by the submitted parameters, all echoed in the callback's `request`, as
//! seed 004 describes. The platform's gate (10001, 10002, 10005, 10003, 10017, 10004),
//! code table, envelope and callbacks are `super::platform`'s; platecb's own codes are
//! 10015 (missing `car_no` or `callback`) and 10025 (no data).
//!
//! What the seed leaves open, the sandbox does not fill in:
//! - 10019's text is `{@info}` (seed 003 line 104), a placeholder the platform fills at
//!   run time: the seed gives the code no meaning. The sandbox never answers 10019 by
//!   itself; an injected 10019 carries the fault's `msg` verbatim, or the placeholder.
//! - `car_no` 必须大写 (line 38) documents no answer for lower case: the sandbox looks a
//!   lower-case plate up as sent, finds no fixture, and answers 10025 查无数据.
//!
//! A fixture's `result_status` is sent as is (`津A00003` is a query that failed: 3).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::platform::codes::{injected, reply_code};
use super::platform::delivery::{self, Courier, Order, check_time_scale, request_id, schedule};
use super::platform::submit::{
    self, Credentials, Submitted, authenticate, non_empty, now_secs, plate_key,
};
pub use crate::config::PlatecbConfig;
use crate::config::{SandboxConfig, SignMode};
use crate::error::SandboxError;
use crate::faults::CallbackFault;
use crate::faults::matching::{Matcher, ParamFact};
use crate::vendor::{RequestView, Vendor};

pub const VENDOR: &str = "platecb";
pub const PATH: &str = "/platecb/api/query";

const FIXTURES: &str = include_str!("../../../fixtures/platecb.json");

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
        check_time_scale(VENDOR, cfg.platecb.time_scale)?;
        let file: File = serde_json::from_str(FIXTURES).map_err(|e| SandboxError::Fixture {
            origin: "fixtures/platecb.json".into(),
            detail: e.to_string(),
        })?;
        // What a forged callback claims: a vehicle the platform never sent.
        let forged = json!({"c_vin": "LFORGED0000000000", "c_properties": "营运"});
        Ok(Self {
            config: cfg.platecb.clone(),
            seed: cfg.seed,
            by_plate: file
                .vehicles
                .into_iter()
                .map(|f| (f.plate, f.response))
                .collect(),
            requests: AtomicU64::new(0),
            courier: Arc::new(Courier::new(VENDOR, forged, 0)?),
        })
    }

    /// Fixture plates, sorted.
    fn fixture_plates(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_plate.keys().cloned().collect();
        v.sort();
        v
    }

    fn next_request_id(&self, plate: &str) -> String {
        request_id(
            self.seed,
            self.requests.fetch_add(1, Ordering::SeqCst) + 1,
            plate,
        )
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
            .route(PATH, post(submission).get(submission))
            .with_state(self)
    }

    fn admin_routes(self: Arc<Self>) -> Router {
        delivery::admin_routes(self.courier.clone())
    }

    /// The platform's envelope: `{"codeid", "message"}` on HTTP 200.
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        injected(code, msg, Map::new())
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

async fn submission(
    State(platecb): State<Arc<Platecb>>,
    fault: Option<Extension<CallbackFault>>,
    Submitted(params): Submitted,
) -> Response {
    let cfg = &platecb.config;
    let found = authenticate(
        &params,
        |appid| {
            cfg.apps.get_key_value(appid).map(|(id, secret)| {
                let creds = Credentials {
                    secret: secret.as_str(),
                    mode: SignMode::Md5,
                };
                ((id, secret), creds)
            })
        },
        now_secs(),
    );
    let (appid, secret) = match found {
        Ok(app) => app,
        Err(code) => return reply_code(code, Map::new()),
    };
    let Some(car_no) = params.get("car_no").filter(|c| !c.trim().is_empty()) else {
        return reply_code(10015, Map::new());
    };
    let plate = plate_key(car_no);
    let Some(response) = platecb.by_plate.get(&plate).cloned() else {
        return reply_code(10025, Map::new());
    };
    let Some(callback) = non_empty(&params, "callback") else {
        return reply_code(10015, Map::new());
    };
    let request_id = platecb.next_request_id(&plate);
    let order = Order {
        callback: callback.to_owned(),
        appid: appid.clone(),
        secret: secret.clone(),
        request_id: request_id.clone(),
        plate: car_no.trim().to_owned(),
        request: submit::request_echo(&params),
        response: response.to_string(),
    };
    let waits = schedule(cfg.first_delivery_ms, cfg.time_scale);
    let fault = fault.map(|Extension(f)| f);
    tokio::spawn(delivery::deliver(
        platecb.courier.clone(),
        order,
        waits,
        fault,
    ));
    let mut extra = Map::new();
    if cfg.submit_answer_has_request_id {
        extra.insert("request_id".into(), json!(request_id));
    }
    reply_code(10023, extra)
}
