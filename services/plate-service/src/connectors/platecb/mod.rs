//! platecb (seed 004): plate -> vehicle information, answered asynchronously.
//!
//! The query is submitted with the signed-form protocol the same platform uses for seed
//! 003 (`sign = md5(sorted non-empty k+v + secret)`, `time` within 10 minutes) and is
//! accepted with `codeid` 10023 (订单提交成功,等待回调结果). The answer arrives later at
//! our webhook (`webhook.rs`), signed `md5(time + appid + secret)`; the platform retries
//! after 5 min, 1 h and 12 h until we answer `success`.

mod source;
pub mod transformers;
pub mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::config::HttpClientConfig;
use connector::{ConnectorError, VendorError, VendorErrorKind};
use serde::{Deserialize, Serialize};
use settings::Secret;
use tokio::sync::Notify;

pub use source::PlatecbSource;

use crate::connectors::BuildEnv;
use crate::error::StartError;
use crate::report::PlateSource;
use crate::store::CallbackStore;

pub const SOURCE: &str = "platecb";
/// Codes of the platform (seed 003's 状态码说明).
pub const CODE_OK: i64 = 10000;
pub const CODE_ACCEPTED: i64 = 10023;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatecbConfig {
    pub enabled: bool,
    pub http: HttpClientConfig,
    /// Path of the submit endpoint under `http.base_url` (the platform shows it after login).
    pub submit_path: String,
    pub appid: String,
    /// The app secret: signs submissions and verifies callbacks. Never printed.
    pub secret: Secret<String>,
    /// Where the platform should deliver answers: this service's webhook as reachable
    /// from the vendor (`webhook_listen` behind the ingress). Empty: derived from
    /// `webhook_listen`.
    pub callback_url: String,
    /// HTTP listener for the webhook (`POST /webhooks/platecb`).
    pub webhook_listen: std::net::SocketAddr,
    /// Callbacks whose `time` is further than this from our clock are rejected (replays).
    #[serde(with = "settings::duration")]
    pub max_clock_skew: Duration,
    /// SQLite file holding delivered answers and pending submissions (when `store_url`
    /// is empty).
    pub store_path: PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host/db`) for a store shared by every
    /// replica; empty uses the SQLite file. Never printed.
    pub store_url: Secret<String>,
    /// A stored answer younger than this is returned instead of asking (and paying) again.
    #[serde(with = "settings::duration")]
    pub result_ttl: Duration,
    /// A submission younger than this is awaited instead of submitted again.
    #[serde(with = "settings::duration")]
    pub pending_ttl: Duration,
    /// Longest a lookup waits for the callback, even when the caller's deadline is later:
    /// past it the source is reported PENDING and the other sources' answers go out.
    #[serde(with = "settings::duration")]
    pub max_wait: Duration,
    /// How far its answers are trusted (it states no confidence of its own).
    pub confidence: f32,
}

impl Default for PlatecbConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            http: HttpClientConfig {
                base_url: "http://127.0.0.1:50080".to_owned(),
                request_timeout: Duration::from_secs(3),
                ..HttpClientConfig::default()
            },
            submit_path: "/platecb/api/query".to_owned(),
            appid: "1365".to_owned(),
            secret: Secret::new("sandbox-platecb-secret".to_owned()),
            // Empty: derived from `webhook_listen` (right for the sandbox and local runs;
            // set the public URL in production).
            callback_url: String::new(),
            webhook_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 50062)),
            max_clock_skew: Duration::from_secs(600),
            store_path: PathBuf::from("var/plate-service/callbacks.sqlite"),
            store_url: Secret::new(String::new()),
            result_ttl: Duration::from_secs(30 * 24 * 3600),
            // The platform's last retry comes 5 (or 10) min + 1 h + 12 h after the first
            // delivery: wait a little longer than that before paying for a new query.
            pending_ttl: Duration::from_secs(14 * 3600),
            max_wait: Duration::from_secs(10),
            confidence: 0.85,
        }
    }
}

/// Lookups waiting for a callback, by plate. The webhook wakes a plate's waiters when it
/// stores an answer for it; an entry lives exactly as long as someone waits on it.
#[derive(Debug, Clone, Default)]
pub struct Waiters(Arc<Mutex<HashMap<String, Arc<Notify>>>>);

/// A registration; dropping it (answer, deadline, cancelled call) removes the entry once
/// no one else waits on the plate.
#[derive(Debug)]
pub struct WaitGuard {
    waiters: Waiters,
    plate: String,
    notify: Arc<Notify>,
}

impl WaitGuard {
    /// Completes at the next wake-up for the plate. Create it before looking in the store,
    /// so an answer stored in between is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        // The map's reference and ours: we are the last waiter.
        if Arc::strong_count(&self.notify) <= 2 {
            map.remove(&self.plate);
        }
    }
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn register(&self, plate: &str) -> WaitGuard {
        let notify = self.lock().entry(plate.to_owned()).or_default().clone();
        WaitGuard {
            waiters: self.clone(),
            plate: plate.to_owned(),
            notify,
        }
    }

    pub fn wake(&self, plate: &str) {
        if let Some(n) = self.lock().get(plate) {
            n.notify_waiters();
        }
    }

    /// Plates with someone waiting (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// platecb as a source: opens its callback store and starts its webhook (which stops on
/// `env.stop`), or a disabled source when switched off.
pub async fn source(cfg: &PlatecbConfig, env: &BuildEnv) -> Result<Arc<PlateSource>, StartError> {
    if !cfg.enabled {
        return Ok(Arc::new(sources::Disabled::new(SOURCE)));
    }
    // Answers arrive at our webhook: open the durable store and listen before the first
    // submission can name the callback URL.
    let store = if cfg.store_url.is_empty() {
        CallbackStore::open(&cfg.store_path)?
    } else {
        CallbackStore::connect_postgres(cfg.store_url.expose()).await?
    };
    let waiters = Waiters::default();
    let hook = webhook::Webhook {
        appid: cfg.appid.clone(),
        secret: cfg.secret.clone(),
        max_clock_skew: cfg.max_clock_skew,
        store: store.clone(),
        waiters: waiters.clone(),
    };
    let stop = env.stop.clone();
    let (bound, _task) = webhook::serve(cfg.webhook_listen, hook, async move {
        stop.triggered().await;
    })
    .await
    .map_err(|error| StartError::Webhook {
        addr: cfg.webhook_listen,
        error,
    })?;
    tracing::info!(%bound, "platecb webhook listening at {}", webhook::PATH);
    let mut cfg = cfg.clone();
    // An empty callback_url means "this listener as seen from here" (sandbox, tests).
    if cfg.callback_url.is_empty() {
        cfg.callback_url = format!("http://{bound}{}", webhook::PATH);
    }
    Ok(Arc::new(PlatecbSource {
        client: PlatecbClient::new(&cfg, env.ctx.client())?,
        store,
        waiters,
        cfg,
    }))
}

#[derive(Debug)]
pub struct PlatecbClient {
    client: VendorClient,
    cfg: PlatecbConfig,
}

impl PlatecbClient {
    pub fn new(cfg: &PlatecbConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &cfg.http, ctx)?,
            cfg: cfg.clone(),
        })
    }

    /// Submits a query under our reference `our_ref`; the outcome carries the vendor's
    /// `request_id` when the acceptance has one. Submitting is paid and not idempotent, so
    /// it is retried only when the vendor certainly did not take it.
    ///
    /// Seed 003's submit answers list no `request_id`, so every submission carries our
    /// own reference as a custom parameter (`axle_ref`), which the platform echoes in the
    /// callback's `request` (seed 004: 如果有提交自定义参数,在这里面可以找到).
    pub async fn submit(
        &self,
        plate: &str,
        our_ref: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<Option<String>>, CallFailure> {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let mut params: Vec<(&str, &str)> = vec![
            ("appid", self.cfg.appid.as_str()),
            (REF_PARAM, our_ref),
            ("car_no", plate),
            ("callback", self.cfg.callback_url.as_str()),
            ("format", "json"),
            ("time", time.as_str()),
        ];
        let sign =
            connector::signing::md5_sorted_pairs_then_secret(&params, self.cfg.secret.expose());
        params.push(("sign", sign.as_str()));
        let body = connector::signing::php_http_build_query(&params);
        let url = format!(
            "{}{}",
            self.client.base_url().trim_end_matches('/'),
            self.cfg.submit_path
        );
        self.client
            .execute(
                Operation {
                    name: "submit",
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
                classify_submit,
            )
            .await
    }

    /// A fresh reference for a submission (32 hex digits, like the platform's ids).
    pub fn new_ref() -> String {
        format!("{:032x}", rand::random::<u128>())
    }
}

/// Our own correlation parameter, echoed back in the callback's `request`.
pub const REF_PARAM: &str = "axle_ref";

/// The ids a callback may be filed under: the vendor's `request_id`, and our reference
/// from the echoed `request` when there is one.
pub fn callback_ids(request_id: &str, request_json: Option<&str>) -> (String, Option<String>) {
    let our_ref = request_json
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .and_then(|v| v.get(REF_PARAM).and_then(connector::json::value_text))
        .filter(|r| !r.is_empty());
    (request_id.to_owned(), our_ref)
}

fn classify_submit(resp: &RawResponse) -> Classification<Option<String>> {
    if let Some(err) = connector::client::classify_http_status(resp) {
        return connector::client::retry_or_fail(err);
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body) else {
        return Classification::Fail(VendorError::MalformedBody {
            detail: "submit answer is not JSON".to_owned(),
        });
    };
    let code = v
        .get("codeid")
        .and_then(connector::json::value_int)
        .unwrap_or(-1);
    let message: String = v
        .get("message")
        .and_then(connector::json::value_text)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    if code == CODE_ACCEPTED || code == CODE_OK {
        return Classification::Done(
            v.get("request_id")
                .and_then(connector::json::value_text)
                .filter(|id| !id.is_empty()),
        );
    }
    let kind = match code {
        // Missing/bad parameters, bad signature, clock drift, unknown appid, IP not
        // allowed: all our configuration, none retryable.
        10001..=10005 | 10015 | 10017 | 10019 => VendorErrorKind::InvalidRequest,
        10007 => VendorErrorKind::AccountProblem,
        // 10006 IP not whitelisted, 10024 the app is in debug mode (调试模式数据: test data,
        // not the register): the operator's app settings.
        10006 | 10008 | 10010 | 10012 | 10020 | 10024 => VendorErrorKind::PermissionMissing,
        10009 | 10013 => VendorErrorKind::Discontinued,
        // 10011 api已经到期: the subscription ran out, like a used-up package.
        10011 | 10018 | 10022 => VendorErrorKind::QuotaExhausted,
        10021 => VendorErrorKind::VendorInternal,
        10025 => VendorErrorKind::NotFound,
        _ => VendorErrorKind::Unknown,
    };
    Classification::Fail(VendorError::Vendor {
        code: code.to_string(),
        message,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_leave_no_entry_behind() {
        let w = Waiters::default();
        let a = w.register("粤B12345");
        let b = w.register("粤B12345");
        assert_eq!(w.len(), 1);
        let woken = {
            let n = b.notified();
            w.wake("粤B12345");
            tokio::time::timeout(std::time::Duration::from_secs(1), n).await
        };
        assert!(woken.is_ok(), "a registered waiter is woken");
        drop(a);
        assert_eq!(w.len(), 1, "b still waits");
        drop(b);
        assert!(w.is_empty(), "timed-out or answered lookups leave nothing");
        // Waking a plate nobody waits on is harmless.
        w.wake("粤B99999");
        assert!(w.is_empty());
    }

    fn answer(body: &str) -> RawResponse {
        RawResponse {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn kind_of(code: i64) -> Option<VendorErrorKind> {
        match classify_submit(&answer(&format!(r#"{{"codeid":{code},"message":"m"}}"#))) {
            Classification::Fail(VendorError::Vendor { kind, .. }) => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn every_platform_code_has_its_category() {
        use VendorErrorKind as K;
        for code in [10001, 10002, 10003, 10004, 10005, 10015, 10017, 10019] {
            assert_eq!(kind_of(code), Some(K::InvalidRequest), "{code}");
        }
        for code in [10006, 10008, 10010, 10012, 10020, 10024] {
            assert_eq!(kind_of(code), Some(K::PermissionMissing), "{code}");
        }
        for code in [10011, 10018, 10022] {
            assert_eq!(kind_of(code), Some(K::QuotaExhausted), "{code}");
        }
        assert_eq!(kind_of(10007), Some(K::AccountProblem));
        assert_eq!(kind_of(10009), Some(K::Discontinued));
        assert_eq!(kind_of(10013), Some(K::Discontinued));
        assert_eq!(kind_of(10021), Some(K::VendorInternal));
        assert_eq!(kind_of(10025), Some(K::NotFound));
        assert_eq!(kind_of(10014), Some(K::Unknown));
        assert!(matches!(
            classify_submit(&answer(r#"{"codeid":10023,"request_id":"abc"}"#)),
            Classification::Done(Some(id)) if id == "abc"
        ));
        // Accepted without an id (seed 003 lists none): our reference is used instead.
        assert!(matches!(
            classify_submit(&answer(
                r#"{"codeid":10023,"message":"订单提交成功,等待回调结果"}"#
            )),
            Classification::Done(None)
        ));
        assert_eq!(
            callback_ids("v1", Some(r#"{"car_no":"闽DD22222","axle_ref":"r1"}"#)),
            ("v1".to_owned(), Some("r1".to_owned()))
        );
        assert_eq!(
            callback_ids("v1", Some("not json")),
            ("v1".to_owned(), None)
        );
    }
}
