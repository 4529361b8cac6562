//! apistore (seed 003): traffic violations by plate, 号牌种类, engine and frame number,
//! on the API platform's signed-form protocol (`connector::platform`).
//!
//! `POST {base_url}/pyi/65/173`, `application/x-www-form-urlencoded;charset=utf-8`:
//! `appid, car_no` (upper case), `car_type, engine_number, frame_number` (letters upper
//! case; each only when the city's rule asks for it: empty values are neither sent nor
//! signed), `format=json, time, sign`, plus `callback` and our reference `axle_ref` for
//! an answer that comes later (seed 004's platform echoes custom parameters in its
//! callback's `request`). Every codeid is mapped (`classify`):
//!
//! - 10000 返回成功: the answer (billed); one whose data cannot be read is a billed
//!   failure, never "no violations";
//! - 10023 订单提交成功,等待回调结果: accepted (billed), answered at our webhook;
//! - 10025 查无数据: the vendor does not know the vehicle (an answer, not billed);
//! - 10024 调试模式数据: the app is in debug mode: the data is the platform's sample and is
//!   never passed on; the operator is told;
//! - 10004 / 10017 (clock): the offset is learnt from the platform's `time` and the query
//!   is sent once more (it was refused, so nothing was billed);
//! - configuration codes (10001-10003, 10005-10013, 10015, 10020): operator-facing
//!   status, never retried; quota codes (10011, 10018, 10022): RESOURCE_EXHAUSTED and
//!   the source stops asking for `quota_cooldown`; 10021 服务器发生错误: UNAVAILABLE with
//!   when to ask again; 10014, 10019 and unlisted codes: the vendor's text.
//!
//! The durable part (stored answers, one paid query per vehicle and numbers across
//! replicas, waiting for callbacks) is the `callback` crate's; `source.rs` makes this a
//! `sources::Source`, `webhook.rs` checks deliveries, `transformers.rs` reads answers.

mod config;
mod source;
pub mod transformers;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use callback::Callbacks;
use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::platform::{self, Envelope, PlatformClock};
use connector::{ConnectorError, VendorError};

pub use config::ApistoreConfig;
pub use source::ApistoreSource;

use crate::connectors::BuildEnv;
use crate::error::StartError;
use crate::report::{Handles, ViolationQuery, ViolationSource};

/// The source's name, and the vendor its rows are filed under in the callback store.
pub const SOURCE: &str = "apistore";
/// Our correlation parameter, echoed back in the callback's `request`.
pub const REF_PARAM: &str = "axle_ref";

/// apistore's callback stack on `store`: only readable 10000 answers are served again.
pub fn callbacks(
    cfg: &ApistoreConfig,
    store: Arc<dyn callback::Store>,
) -> Result<Callbacks, callback::SettingsError> {
    Ok(
        Callbacks::new(SOURCE, store, cfg.callback.settings())?.reuse_if(|stored| {
            let Ok(envelope) = Envelope::read(stored.payload.as_bytes()) else {
                return false;
            };
            envelope.code == platform::CODE_OK && transformers::to_report(&envelope.members).is_ok()
        }),
    )
}

/// apistore as a source: opens its callback store, starts its webhook and the store's
/// purge (both stop on `env.stop`), or a disabled source when switched off.
pub async fn source(
    cfg: &ApistoreConfig,
    env: &BuildEnv,
) -> Result<(Arc<ViolationSource>, Option<Arc<dyn Handles>>), StartError> {
    if !cfg.enabled {
        return Ok((Arc::new(sources::Disabled::new(SOURCE)), None));
    }
    let cb = &cfg.callback;
    let store = callback::store::open(cb.store_url.expose(), &cb.store_path).await?;
    let callbacks = callbacks(cfg, store)?;
    let stop = env.stop.clone();
    let (bound, task) = callback::webhook::serve(
        cb.webhook_listen,
        webhook::router(callbacks.clone(), cfg),
        cb.webhook_limits.server_limits(),
        async move { stop.triggered().await },
    )
    .await
    .map_err(|error| StartError::Webhook {
        addr: cb.webhook_listen,
        error,
    })?;
    tracing::info!(%bound, "apistore webhook listening at {}", webhook::PATH);
    env.stop.listening(kit::server::SideListener {
        name: SOURCE,
        addr: bound,
        path: webhook::PATH,
    });
    // Its last callbacks are answered before the process exits.
    env.stop.close_with(async move {
        let _ = task.await;
    });
    // A paid submission can outlive the lookup that started it: the service lets it
    // settle before it stops, or the key stays claimed by a submission nobody settles.
    env.stop.defer(callbacks.submissions_settled());
    let purge = callbacks.spawn_purge(cb.purge_interval);
    let stop = env.stop.clone();
    tokio::spawn(async move {
        stop.triggered().await;
        purge.abort();
    });
    let mut cfg = cfg.clone();
    if cfg.callback.callback_url.is_empty() {
        cfg.callback.callback_url = format!("http://{bound}{}", webhook::PATH);
    }
    let source = Arc::new(ApistoreSource::new(
        Arc::new(ApistoreClient::new(&cfg, env.ctx.client())?),
        callbacks,
        cfg,
    ));
    Ok((source.clone(), Some(source)))
}

#[derive(Debug)]
pub struct ApistoreClient {
    client: VendorClient,
    cfg: ApistoreConfig,
    clock: PlatformClock,
}

/// What a query that the platform took says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 10000: the answer's JSON (the envelope, as a callback's `response` would carry it).
    Answered(String),
    /// 10023: the answer comes by callback; the platform's id when it gives one.
    Accepted(Option<String>),
}

impl ApistoreClient {
    pub fn new(cfg: &ApistoreConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &cfg.http, ctx)?,
            cfg: cfg.clone(),
            clock: PlatformClock::default(),
        })
    }

    /// The offset learnt from the platform's clock, in seconds.
    pub fn clock_offset_s(&self) -> i64 {
        self.clock.offset_s()
    }

    /// Sends `q` under our reference `our_ref`. A clock refusal (10004/10017) corrects
    /// the clock from the platform's `time` and sends once more; nothing else is repeated
    /// here beyond the HTTP policy (a query is paid and not idempotent).
    pub async fn query(
        &self,
        q: &ViolationQuery,
        our_ref: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<Reply>, CallFailure> {
        let first = self.send(q, our_ref, deadline).await;
        let Err((failure, Some(platform_time))) = first else {
            return first.map_err(|(f, _)| f);
        };
        let clock_refusal = matches!(
            &failure.error,
            VendorError::Vendor { code, .. }
                if code == &platform::CODE_CLOCK_DRIFT.to_string()
                    || code == &platform::CODE_BAD_TIME.to_string()
        );
        if !clock_refusal {
            return Err(failure);
        }
        let offset = self.clock.correct(platform_time);
        tracing::warn!(
            vendor = SOURCE,
            offset_s = offset,
            "the platform refused our clock; corrected by its time and sending once more \
             (check this host's NTP)"
        );
        match self.send(q, our_ref, deadline).await {
            Ok(mut o) => {
                o.attempts += failure.attempts;
                Ok(o)
            }
            Err((mut f, _)) => {
                f.attempts += failure.attempts;
                Err(f)
            }
        }
    }

    /// One signed request; on failure, the platform's clock reading when it sent one.
    async fn send(
        &self,
        q: &ViolationQuery,
        our_ref: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<Reply>, (CallFailure, Option<i64>)> {
        let time = self.clock.now().to_string();
        let car_no = q.plate.to_uppercase();
        let engine = q.engine_number.to_ascii_uppercase();
        let frame = q.vin.to_ascii_uppercase();
        let params: Vec<(&str, &str)> = vec![
            ("appid", self.cfg.appid.as_str()),
            (REF_PARAM, our_ref),
            ("callback", self.cfg.callback.callback_url.as_str()),
            ("car_no", car_no.as_str()),
            ("car_type", q.plate_type.as_str()),
            ("engine_number", engine.as_str()),
            ("format", "json"),
            ("frame_number", frame.as_str()),
            ("time", time.as_str()),
        ];
        // Empty values are neither signed nor sent (空值不参与加密).
        let params: Vec<(&str, &str)> = params.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let body = platform::signed_form(&params, self.cfg.secret.expose(), self.cfg.sign_mode);
        let url = format!(
            "{}{}",
            self.client.base_url().trim_end_matches('/'),
            self.cfg.path
        );
        let seen_time = AtomicI64::new(i64::MIN);
        self.client
            .execute(
                Operation {
                    name: "query",
                    idempotent: false,
                },
                deadline,
                |http| {
                    http.post(&url)
                        .header(
                            "content-type",
                            "application/x-www-form-urlencoded;charset=utf-8",
                        )
                        .body(body.clone())
                },
                |resp| classify(resp, &seen_time),
            )
            .await
            .map_err(|f| {
                let t = seen_time.load(Ordering::Relaxed);
                (f, (t != i64::MIN).then_some(t))
            })
    }
}

/// Decides about one HTTP answer; notes the platform's `time` in `seen_time`. Public for
/// the fuzz targets (`fuzz/`), which feed it arbitrary responses.
pub fn classify(resp: &RawResponse, seen_time: &AtomicI64) -> Classification<Reply> {
    if let Some(err) = connector::client::classify_http_status(resp) {
        return connector::client::retry_or_fail(err);
    }
    let envelope = match Envelope::read(&resp.body) {
        Ok(e) => e,
        Err(detail) => return Classification::Fail(VendorError::MalformedBody { detail }),
    };
    if let Some(t) = envelope.time {
        seen_time.store(t, Ordering::Relaxed);
    }
    match envelope.code {
        platform::CODE_OK => match transformers::to_report(&envelope.members) {
            Ok(_) => Classification::Done(Reply::Answered(
                serde_json::Value::Object(envelope.members).to_string(),
            )),
            // 返回10000状态都会进行计费: paid for, and unusable.
            Err(detail) => Classification::FailBilled(VendorError::MalformedBody { detail }),
        },
        platform::CODE_ACCEPTED => Classification::Done(Reply::Accepted(
            envelope
                .members
                .get("request_id")
                .and_then(connector::json::value_text)
                .filter(|id| !id.is_empty()),
        )),
        code => {
            let kind = platform::kind_of(code);
            let error = VendorError::Vendor {
                code: code.to_string(),
                message: envelope.message,
                kind,
            };
            // Nothing is repeated here: the caller is told when to ask again (a query is
            // paid, and the client's policy repeats only what certainly was not taken).
            Classification::Fail(error)
        }
    }
}

/// Whether a failed query certainly did not become a (paid) query at the vendor.
pub fn certainly_not_sent(err: &CallFailure) -> bool {
    use connector::VendorError as E;
    matches!(
        err.error,
        E::Connect { .. }
            | E::LocalRateLimited
            | E::Vendor { .. }
            | E::Auth { .. }
            | E::HttpStatus { .. }
            | E::RateLimited { .. }
            | E::Unavailable { .. }
            | E::Config { .. }
    ) || (matches!(err.error, E::DeadlineExceeded) && err.attempts == 0)
}

/// The ids a callback may be filed under: the vendor's `request_id`, and our reference
/// from the echoed `request`.
pub fn callback_ids(request_id: &str, request_json: Option<&str>) -> (String, Option<String>) {
    let our_ref = request_json
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|v| v.get(REF_PARAM).and_then(connector::json::value_text))
        .filter(|r| !r.is_empty());
    (request_id.to_owned(), our_ref)
}

#[cfg(test)]
mod tests {
    use connector::VendorErrorKind;

    use super::*;

    fn answer(body: &str) -> RawResponse {
        RawResponse {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn run(body: &str) -> (Classification<Reply>, Option<i64>) {
        let seen = AtomicI64::new(i64::MIN);
        let c = classify(&answer(body), &seen);
        let t = seen.load(Ordering::Relaxed);
        (c, (t != i64::MIN).then_some(t))
    }

    fn failure(code: i64) -> (VendorErrorKind, bool) {
        match run(&format!(r#"{{"codeid":{code},"message":"m","time":"1"}}"#)).0 {
            Classification::Fail(VendorError::Vendor { kind, .. }) => (kind, false),
            Classification::Retry { .. } => (VendorErrorKind::Unknown, true),
            other => panic!("{code}: {other:?}"),
        }
    }

    #[test]
    fn every_codeid_is_classified() {
        use VendorErrorKind as K;
        for code in [10001, 10002, 10003, 10004, 10005, 10015, 10017] {
            assert_eq!(failure(code), (K::InvalidRequest, false), "{code}");
        }
        for code in [10006, 10008, 10010, 10012, 10020, 10024] {
            assert_eq!(failure(code), (K::PermissionMissing, false), "{code}");
        }
        for code in [10011, 10018, 10022] {
            assert_eq!(failure(code), (K::QuotaExhausted, false), "{code}");
        }
        assert_eq!(failure(10007), (K::AccountProblem, false));
        assert_eq!(failure(10009), (K::Discontinued, false));
        assert_eq!(failure(10013), (K::Discontinued, false));
        assert_eq!(
            failure(10021),
            (K::VendorInternal, false),
            "said, not repeated"
        );
        assert_eq!(failure(10025), (K::NotFound, false));
        assert_eq!(failure(10014), (K::Unknown, false));
        assert_eq!(failure(10019), (K::Unknown, false));
        assert!(matches!(
            run(r#"{"codeid":10000,"vioNum":0,"data":[]}"#).0,
            Classification::Done(Reply::Answered(_))
        ));
        assert!(matches!(
            run(r#"{"codeid":10023,"message":"订单提交成功,等待回调结果"}"#).0,
            Classification::Done(Reply::Accepted(None))
        ));
        assert!(matches!(
            run(r#"{"codeid":10023,"request_id":"v9"}"#).0,
            Classification::Done(Reply::Accepted(Some(id))) if id == "v9"
        ));
    }

    #[test]
    fn a_success_without_data_is_billed_and_not_no_violations() {
        assert!(matches!(
            run(r#"{"codeid":10000,"message":"返回成功"}"#).0,
            Classification::FailBilled(VendorError::MalformedBody { .. })
        ));
        assert!(matches!(
            run("<html>502</html>").0,
            Classification::Fail(VendorError::MalformedBody { .. })
        ));
    }

    #[test]
    fn the_platforms_time_is_noted_and_its_words_kept() {
        let (c, t) = run(r#"{"codeid":10004,"message":"时差不能超过10分钟","time":"1557294956"}"#);
        assert_eq!(t, Some(1_557_294_956));
        assert!(matches!(
            c,
            Classification::Fail(VendorError::Vendor { ref message, .. }) if message == "时差不能超过10分钟"
        ));
        assert_eq!(run(r#"{"codeid":10004}"#).1, None);
    }

    #[test]
    fn our_reference_is_read_from_the_echoed_request() {
        assert_eq!(
            callback_ids("v1", Some(r#"{"car_no":"苏E9T8R7","axle_ref":"r1"}"#)),
            ("v1".to_owned(), Some("r1".to_owned()))
        );
        assert_eq!(callback_ids("v1", Some("nope")), ("v1".to_owned(), None));
        assert_eq!(callback_ids("v1", None), ("v1".to_owned(), None));
    }
}
