//! platecb (seed 004): plate -> vehicle information, answered asynchronously.
//!
//! The query is submitted with the signed-form protocol the same platform uses for seed
//! 003 (`sign = md5(sorted non-empty k+v + secret)`, `time` within 10 minutes) and is
//! accepted with `codeid` 10023 (订单提交成功,等待回调结果); the answer arrives later at our
//! webhook (`webhook.rs`), signed `md5(time + appid + secret)`, and the platform retries
//! after 5 min, 1 h and 12 h until we answer `success`. A `10000` (返回成功, billed) that
//! carries data is the answer itself; one without data is awaited like a 10023.
//!
//! The durable part (stored answers, one paid query per plate across replicas, waiting,
//! the webhook's checks and server) is the `callback` crate's; this connector supplies
//! the submission, platecb's signature check, and the reading of its answers
//! (`transformers.rs`). `source.rs` makes it a `sources::Source`.

mod config;
mod source;
pub mod transformers;
pub mod webhook;

use std::sync::Arc;
use std::time::Instant;

use callback::Callbacks;
use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::{ConnectorError, VendorError};

pub use config::{PlatecbConfig, WebhookLimits};
pub use source::{PlatecbSource, Receipt};

use crate::connectors::BuildEnv;
use crate::error::StartError;
use crate::report::PlateSource;

/// The source's name, and the vendor its rows are filed under in the callback store,
/// where the store's migration filed the earlier `platecb_*` tables' rows too.
pub const SOURCE: &str = "platecb";
/// Codes of the platform (seed 003's 状态码说明).
pub const CODE_OK: i64 = 10000;
pub const CODE_ACCEPTED: i64 = 10023;

/// platecb's callback stack on `store`: its settings, and which stored answers may be
/// served again (only readable, successful ones: a failed query is asked anew).
pub fn callbacks(
    cfg: &PlatecbConfig,
    store: Arc<dyn callback::Store>,
) -> Result<Callbacks, callback::SettingsError> {
    Ok(Callbacks::new(SOURCE, store, cfg.callback_settings())?
        .reuse_if(|stored| transformers::to_vehicle(&stored.payload).is_ok_and(|v| v.succeeded())))
}

/// platecb as a source: opens its callback store, starts its webhook and the store's
/// purge (both stop on `env.stop`), or a disabled source when switched off.
pub async fn source(cfg: &PlatecbConfig, env: &BuildEnv) -> Result<Arc<PlateSource>, StartError> {
    if !cfg.enabled {
        return Ok(Arc::new(sources::Disabled::new(SOURCE)));
    }
    // Answers arrive at our webhook: open the durable store and listen before the first
    // submission can name the callback URL.
    let store = callback::store::open(cfg.store_url.expose(), &cfg.store_path).await?;
    let callbacks = callbacks(cfg, store)?;
    let stop = env.stop.clone();
    let (bound, task) = callback::webhook::serve(
        cfg.webhook_listen,
        webhook::router(callbacks.clone(), cfg),
        cfg.webhook_limits.server_limits(),
        async move { stop.triggered().await },
    )
    .await
    .map_err(|error| StartError::Webhook {
        addr: cfg.webhook_listen,
        error,
    })?;
    tracing::info!(%bound, "platecb webhook listening at {}", webhook::PATH);
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
    let purge = callbacks.spawn_purge(cfg.purge_interval);
    let stop = env.stop.clone();
    tokio::spawn(async move {
        stop.triggered().await;
        purge.abort();
    });
    let mut cfg = cfg.clone();
    // An empty callback_url means "this listener as seen from here" (sandbox, tests).
    if cfg.callback_url.is_empty() {
        cfg.callback_url = format!("http://{bound}{}", webhook::PATH);
    }
    Ok(Arc::new(PlatecbSource {
        client: Arc::new(PlatecbClient::new(&cfg, env.ctx.client())?),
        callbacks,
        cfg,
    }))
}

#[derive(Debug)]
pub struct PlatecbClient {
    client: VendorClient,
    cfg: PlatecbConfig,
}

/// What a submission that platecb took says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitAnswer {
    /// The platform's own id for the query, when the answer carries one.
    pub vendor_request_id: Option<String>,
    /// The vehicle data of a `10000` answer, as a callback's `response` JSON
    /// (`transformers::sync_answer`); `None`: the answer comes by callback.
    pub data: Option<String>,
}

impl PlatecbClient {
    pub fn new(cfg: &PlatecbConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: VendorClient::new(SOURCE, &cfg.http, ctx)?,
            cfg: cfg.clone(),
        })
    }

    /// Submits a query under our reference `our_ref`. Submitting is paid and not
    /// idempotent, so it is retried only when the vendor certainly did not take it.
    ///
    /// Seed 003's submit answers list no `request_id`, so every submission carries our
    /// own reference as a custom parameter (`axle_ref`), which the platform echoes in the
    /// callback's `request` (seed 004: 如果有提交自定义参数,在这里面可以找到).
    pub async fn submit(
        &self,
        plate: &str,
        our_ref: &str,
        deadline: Option<Instant>,
    ) -> Result<Outcome<SubmitAnswer>, CallFailure> {
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

/// Whether a failed submission certainly did not become a (paid) query at the vendor:
/// it never left (connect failure, local limit, no time), or the vendor answered it
/// with a refusal. A timeout, a broken connection mid-request or an unreadable answer
/// are not certain: the vendor may have taken (and billed) it.
pub fn submission_certainly_failed(err: &CallFailure) -> bool {
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

/// Decides about the answer to a submission. Public for the fuzz targets (`fuzz/`),
/// which feed it arbitrary responses.
pub fn classify_submit(resp: &RawResponse) -> Classification<SubmitAnswer> {
    if let Some(err) = connector::client::classify_http_status(resp) {
        return connector::client::retry_or_fail(err);
    }
    let Ok(serde_json::Value::Object(answer)) = connector::json::parse_body(&resp.body) else {
        return Classification::Fail(VendorError::MalformedBody {
            detail: "submit answer is not a JSON object".to_owned(),
        });
    };
    let code = answer
        .get("codeid")
        .and_then(connector::json::value_int)
        .unwrap_or(-1);
    // The vendor's words, verbatim (bounded: they go into every caller's status).
    let message: String = answer
        .get("message")
        .and_then(connector::json::value_text)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    if code == CODE_ACCEPTED || code == CODE_OK {
        return Classification::Done(SubmitAnswer {
            vendor_request_id: answer
                .get("request_id")
                .and_then(connector::json::value_text)
                .filter(|id| !id.is_empty()),
            // 10023 says the answer comes by callback (等待回调结果), whatever else it holds.
            data: if code == CODE_OK {
                transformers::sync_answer(&answer)
            } else {
                None
            },
        });
    }
    // Seed 003's code table, shared by every API of the platform. 10019's entry is only
    // the placeholder `{@info}` (seed 003 line 104): no meaning is invented for it, the
    // vendor's text goes through verbatim.
    let kind = connector::platform::kind_of(code);
    Classification::Fail(VendorError::Vendor {
        code: code.to_string(),
        message,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connector::VendorErrorKind;

    use super::*;

    fn answer(body: &str) -> RawResponse {
        RawResponse {
            status: 200,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    fn failure(body: &str) -> Option<(VendorErrorKind, String)> {
        match classify_submit(&answer(body)) {
            Classification::Fail(VendorError::Vendor { kind, message, .. }) => {
                Some((kind, message))
            }
            _ => None,
        }
    }

    fn kind_of(code: i64) -> Option<VendorErrorKind> {
        failure(&format!(r#"{{"codeid":{code},"message":"m"}}"#)).map(|(k, _)| k)
    }

    #[test]
    fn rows_from_before_the_callback_crate_are_platecbs() {
        assert_eq!(SOURCE, callback::store::LEGACY_PLATECB_VENDOR);
    }

    #[test]
    fn every_platform_code_has_its_category() {
        use VendorErrorKind as K;
        for code in [10001, 10002, 10003, 10004, 10005, 10015, 10017] {
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
        assert_eq!(kind_of(10099), Some(K::Unknown), "not in the table");
        assert!(matches!(
            classify_submit(&answer(r#"{"codeid":10023,"request_id":"abc"}"#)),
            Classification::Done(SubmitAnswer { vendor_request_id: Some(id), data: None }) if id == "abc"
        ));
        // Accepted without an id (seed 003 lists none): our reference is used instead.
        assert!(matches!(
            classify_submit(&answer(
                r#"{"codeid":10023,"message":"订单提交成功,等待回调结果"}"#
            )),
            Classification::Done(SubmitAnswer {
                vendor_request_id: None,
                data: None
            })
        ));
        assert!(matches!(
            classify_submit(&answer("<html>busy</html>")),
            Classification::Fail(VendorError::MalformedBody { .. })
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

    /// Seed 003 line 104: `10019 {@info}`, a placeholder the platform fills at run time.
    /// No meaning is invented (it is not "our configuration"): the kind is Unknown and the
    /// vendor's text goes through as sent.
    #[test]
    fn code_10019_passes_the_vendors_text_through() {
        assert_eq!(
            failure(r#"{"codeid":10019,"message":"该车牌今日查询次数已达上限"}"#),
            Some((
                VendorErrorKind::Unknown,
                "该车牌今日查询次数已达上限".to_owned()
            ))
        );
        assert_eq!(
            failure(r#"{"codeid":"10019","message":"{@info}"}"#),
            Some((VendorErrorKind::Unknown, "{@info}".to_owned()))
        );
    }

    /// Seed 003 line 58: 返回10000状态都会进行计费. A 10000 with data is the answer; one
    /// without is awaited by callback like a 10023; a 10023 is never read for data.
    #[test]
    fn code_10000_carries_the_answer_when_it_has_data() {
        let with_data =
            r#"{"codeid":10000,"message":"返回成功","data":[{"c_vin":"LNBSCC3H5JT920714"}]}"#;
        let Classification::Done(SubmitAnswer {
            data: Some(payload),
            ..
        }) = classify_submit(&answer(with_data))
        else {
            panic!("10000 with data is an answer");
        };
        assert!(payload.contains("LNBSCC3H5JT920714"), "{payload}");
        assert!(matches!(
            classify_submit(&answer(r#"{"codeid":10000,"message":"返回成功"}"#)),
            Classification::Done(SubmitAnswer { data: None, .. })
        ));
        assert!(matches!(
            classify_submit(&answer(r#"{"codeid":10023,"data":[{"c_vin":"X"}]}"#)),
            Classification::Done(SubmitAnswer { data: None, .. })
        ));
        // A byte-order mark before the JSON (PHP files saved with one) is not the answer.
        let bom = format!("\u{feff}{with_data}");
        assert!(matches!(
            classify_submit(&answer(&bom)),
            Classification::Done(SubmitAnswer { data: Some(_), .. })
        ));
    }

    #[test]
    fn only_certain_submission_failures_free_the_plate() {
        use connector::VendorError as E;
        let f = |error, attempts| CallFailure {
            error,
            attempts,
            sandbox: false,
        };
        assert!(submission_certainly_failed(&f(
            E::Connect {
                detail: String::new()
            },
            1
        )));
        assert!(submission_certainly_failed(&f(E::DeadlineExceeded, 0)));
        assert!(submission_certainly_failed(&f(
            E::HttpStatus { status: 400 },
            1
        )));
        // Sent, and then no (usable) answer: the vendor may have taken (and billed) it.
        assert!(!submission_certainly_failed(&f(E::DeadlineExceeded, 1)));
        assert!(!submission_certainly_failed(&f(
            E::Timeout {
                after: Duration::from_secs(3)
            },
            1
        )));
        assert!(!submission_certainly_failed(&f(
            E::Io {
                detail: String::new()
            },
            1
        )));
        assert!(!submission_certainly_failed(&f(
            E::MalformedBody {
                detail: String::new()
            },
            1
        )));
    }
}
