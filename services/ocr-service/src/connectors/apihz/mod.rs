//! apihz (seed 002): 行驶证 OCR, front (`class=1`) and back (`class=2`).
//!
//! `POST {address}{path}` as a form: `id` (user id), `key` (通讯秘钥), `class`, `type=2`
//! (base64) and `img`, the image's base64 without a data-URI header, URL-encoded: the
//! seed warns that a bare `+` turns into a space. The base64 must stay within 1M: the
//! service downscales or re-encodes larger photos before they get here
//! (`crate::image::fit_for_vendor`), and this connector refuses to send a body that
//! would still be larger.
//!
//! The vendor publishes several addresses (cluster IPs that "are not permanent and easily
//! attacked", a domain that spreads over them but can stay broken for a day through DNS
//! caches, a paid endpoint with its own failover) and tells clients to fail over. Each
//! configured address has its own health: an address that fails `eject_after` times in
//! a row (transport error, timeout, HTTP error, an unreadable answer, the "too many
//! concurrent requests" message) is tried last for `eject_for`; a success brings it back.
//! Errors that would be the same on every address (key, balance, the image) are not
//! failed over. At most `max_concurrent_per_address` requests (the seed's 20 per IP) are
//! in flight to one address; further requests queue for a slot until their deadline.
//!
//! Every vendor error is `{"code":400,"msg":...}`: the message is the only thing that
//! tells a bad key from a bad image or an empty balance, so it is classified by its
//! words and passed on verbatim.

pub mod transformers;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use connector::client::{
    CallFailure, Classification, ClientContext, Operation, Outcome, RawResponse, VendorClient,
};
use connector::config::HttpClientConfig;
use connector::{ConnectorError, VendorError, VendorErrorKind};
use serde::{Deserialize, Serialize};
use settings::{Secret, duration};
use sources::{Asked, BoxFuture, Source};
use tokio::sync::Semaphore;

use crate::read::{RawRead, Side};

/// Connector name: provenance, metrics.
pub const SOURCE: &str = "apihz";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApihzConfig {
    /// When false, the vendor is never asked.
    pub enabled: bool,
    /// The vendor's addresses, in order of preference: scheme, host and any path
    /// prefix, e.g. the paid endpoint, the domain, cluster IPs. Failed over in order.
    pub addresses: Vec<String>,
    /// The recognition endpoint's path under each address.
    pub path: String,
    /// 用户ID (numeric user id from the vendor's user centre).
    pub id: String,
    /// 用户KEY (通讯秘钥). Never printed.
    pub key: Secret<String>,
    /// Timeouts, retries per address, price. `base_url` stays empty: `addresses` says
    /// where.
    pub http: HttpClientConfig,
    /// Requests in flight to one address at most (seed 002: 瞬时并发[单IP] 20).
    pub max_concurrent_per_address: usize,
    /// Largest base64 image sent, in bytes (seed 002: "不能超过1M").
    pub max_base64_bytes: usize,
    /// Failures in a row after which an address is tried last.
    pub eject_after: u32,
    /// How long an ejected address is tried last.
    #[serde(with = "duration")]
    pub eject_for: Duration,
    /// How far its readings are trusted (it states no confidence).
    pub confidence: f32,
}

impl Default for ApihzConfig {
    fn default() -> Self {
        let sandbox = |a: &str| format!("http://127.0.0.1:50080/apihz/{a}");
        Self {
            enabled: true,
            addresses: vec![
                sandbox("vip"),
                sandbox("domain"),
                sandbox("ip1"),
                sandbox("ip2"),
            ],
            path: "/api/kazheng/xingshizheng.php".to_owned(),
            id: "10000000".to_owned(),
            key: Secret::new("sandbox-apihz-key".to_owned()),
            http: HttpClientConfig {
                request_timeout: Duration::from_secs(8),
                retry: connector::config::RetryPolicy {
                    // Failover to the next address is the retry.
                    max_attempts: 1,
                    ..connector::config::RetryPolicy::default()
                },
                // Seed 002: 单价/次 200盟点, 1¥ = 1000盟点.
                cost_per_call: Some(connector::config::CostConfig {
                    currency: "CNY".to_owned(),
                    amount: 0.2,
                }),
                ..HttpClientConfig::default()
            },
            max_concurrent_per_address: 20,
            max_base64_bytes: 1_000_000,
            eject_after: 2,
            eject_for: Duration::from_secs(30),
            confidence: 0.85,
        }
    }
}

impl ApihzConfig {
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |k: &str, m: &str| out.push((k.to_owned(), m.to_owned()));
        if !self.enabled {
            return out;
        }
        if self.addresses.is_empty() {
            bad("addresses", "give at least one address");
        }
        if !self.http.base_url.is_empty() {
            bad(
                "http.base_url",
                "leave empty: `addresses` says where the vendor is",
            );
        }
        if self.max_concurrent_per_address == 0 {
            bad("max_concurrent_per_address", "must be at least 1");
        }
        if self.max_base64_bytes < 64 * 1024 {
            bad("max_base64_bytes", "must be at least 65536");
        }
        if !self.path.starts_with('/') {
            bad("path", "must start with /");
        }
        out
    }
}

/// One address with its own client, slots and health.
#[derive(Debug)]
struct Address {
    client: VendorClient,
    url: String,
    slots: Semaphore,
    failures: AtomicU32,
    ejected_until: Mutex<Option<Instant>>,
}

impl Address {
    fn ejected(&self, now: Instant) -> Option<Instant> {
        let until = *self
            .ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until.filter(|u| *u > now)
    }

    fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        *self
            .ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn failed(&self, eject_after: u32, eject_for: Duration) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= eject_after.max(1) {
            *self
                .ejected_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + eject_for);
        }
    }
}

/// The apihz client.
#[derive(Debug)]
pub struct ApihzClient {
    cfg: ApihzConfig,
    addresses: Vec<Address>,
}

/// What the vendor is asked: one prepared photo (JPEG or PNG bytes whose base64 fits)
/// and the side.
#[derive(Debug, Clone)]
pub struct VendorQuery {
    pub image: Arc<[u8]>,
    pub side: Side,
}

impl ApihzClient {
    pub fn new(cfg: &ApihzConfig, ctx: &ClientContext) -> Result<Self, ConnectorError> {
        let addresses = cfg
            .addresses
            .iter()
            .map(|a| {
                let http = HttpClientConfig {
                    base_url: a.trim_end_matches('/').to_owned(),
                    ..cfg.http.clone()
                };
                Ok(Address {
                    client: VendorClient::new(SOURCE, &http, ctx)?,
                    url: format!("{}{}", a.trim_end_matches('/'), cfg.path),
                    slots: Semaphore::new(cfg.max_concurrent_per_address.max(1)),
                    failures: AtomicU32::new(0),
                    ejected_until: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            addresses,
        })
    }

    /// The addresses in the order to try now: healthy ones in configured order, then the
    /// ejected ones, soonest back first.
    fn order(&self) -> Vec<usize> {
        let now = Instant::now();
        let mut healthy = Vec::new();
        let mut ejected = Vec::new();
        for (i, a) in self.addresses.iter().enumerate() {
            match a.ejected(now) {
                None => healthy.push(i),
                Some(until) => ejected.push((until, i)),
            }
        }
        ejected.sort();
        healthy.extend(ejected.into_iter().map(|(_, i)| i));
        healthy
    }

    /// The form body: every parameter URL-encoded (`+`, `/` and `=` of the base64 too).
    fn body(&self, image: &[u8], side: Side) -> Result<String, VendorError> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(image);
        if b64.len() > self.cfg.max_base64_bytes {
            // Never send what the vendor refuses (and bills time for): the service fits
            // photos first, so this is a bug upstream.
            return Err(VendorError::Config {
                detail: format!(
                    "image is {} bytes as base64, over the vendor's {} limit",
                    b64.len(),
                    self.cfg.max_base64_bytes
                ),
            });
        }
        Ok(form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &self.cfg.id)
            .append_pair("key", self.cfg.key.expose())
            .append_pair(
                "class",
                match side {
                    Side::Front => "1",
                    Side::Back => "2",
                },
            )
            .append_pair("type", "2")
            .append_pair("img", &b64)
            .finish())
    }

    /// Recognises one side, failing over across the addresses.
    pub async fn recognise(
        &self,
        image: &[u8],
        side: Side,
        deadline: Option<Instant>,
    ) -> Result<Outcome<transformers::Envelope>, CallFailure> {
        let body = self
            .body(image, side)
            .map_err(CallFailure::before_sending)?;
        let mut attempts = 0;
        let mut last: Option<CallFailure> = None;
        for i in self.order() {
            let address = &self.addresses[i];
            // Queue for one of the address's slots, but not past the deadline.
            let permit = match deadline {
                Some(d) => match tokio::time::timeout_at(d.into(), address.slots.acquire()).await {
                    Ok(p) => p,
                    Err(_) => {
                        return Err(CallFailure {
                            attempts,
                            ..CallFailure::before_sending(VendorError::DeadlineExceeded)
                        });
                    }
                },
                None => address.slots.acquire().await,
            };
            let Ok(_permit) = permit else { break };
            let result = address
                .client
                .execute(
                    Operation {
                        name: "recognize_license",
                        idempotent: true,
                    },
                    deadline,
                    |http| {
                        http.post(&address.url)
                            .header(
                                reqwest::header::CONTENT_TYPE,
                                "application/x-www-form-urlencoded",
                            )
                            .body(body.clone())
                    },
                    classify,
                )
                .await;
            match result {
                Ok(mut outcome) => {
                    address.succeeded();
                    outcome.attempts += attempts;
                    return Ok(outcome);
                }
                Err(mut failure) => {
                    attempts += failure.attempts;
                    failure.attempts = attempts;
                    if !address_specific(&failure.error) {
                        return Err(failure);
                    }
                    address.failed(self.cfg.eject_after, self.cfg.eject_for);
                    tracing::warn!(vendor = SOURCE, address = i, error = %failure, "apihz address failed; trying the next");
                    let out_of_time = matches!(failure.error, VendorError::DeadlineExceeded)
                        || deadline.is_some_and(|d| Instant::now() >= d);
                    last = Some(failure);
                    if out_of_time {
                        break;
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            CallFailure::before_sending(VendorError::Config {
                detail: "no address configured".to_owned(),
            })
        }))
    }
}

/// Whether another address may do better: the address (or the way to it) failed, not
/// the request.
fn address_specific(e: &VendorError) -> bool {
    match e {
        VendorError::Timeout { .. }
        | VendorError::Connect { .. }
        | VendorError::Io { .. }
        | VendorError::RateLimited { .. }
        | VendorError::Unavailable { .. }
        | VendorError::HttpStatus { .. }
        | VendorError::MalformedBody { .. }
        | VendorError::BodyTooLarge => true,
        VendorError::Vendor { kind, .. } => matches!(kind, VendorErrorKind::VendorInternal),
        VendorError::DeadlineExceeded
        | VendorError::LocalRateLimited
        | VendorError::Auth { .. }
        | VendorError::Config { .. } => false,
    }
}

/// What a 400 `msg` means. The seed quotes one message (通讯秘钥错误。); the others are
/// recognised by the words the vendor's parameter table and limits use.
pub fn classify_message(msg: &str) -> VendorErrorKind {
    let has = |words: &[&str]| words.iter().any(|w| msg.contains(w));
    if has(&["并发", "频繁", "稍后", "繁忙", "超时"]) {
        VendorErrorKind::VendorInternal
    } else if has(&["余额", "盟点", "充值", "次数", "额度"]) {
        VendorErrorKind::QuotaExhausted
    } else if has(&[
        "秘钥", "密钥", "KEY", "key", "用户ID", "ID不", "封禁", "禁用",
    ]) {
        VendorErrorKind::AccountProblem
    } else if has(&["识别失败", "未识别", "无法识别", "不是行驶证", "未检测"]) {
        VendorErrorKind::NotFound
    } else if has(&[
        "BASE64", "base64", "解析", "编码", "1M", "大小", "过大", "图片", "class", "type", "参数",
    ]) {
        VendorErrorKind::InvalidRequest
    } else {
        VendorErrorKind::Unknown
    }
}

/// Turns one HTTP response into an envelope, a retry, or a final error. Public for the
/// fuzz targets (`fuzz/`), which feed it arbitrary responses.
pub fn classify(resp: &RawResponse) -> Classification<transformers::Envelope> {
    if resp.status != 200 {
        return match connector::client::classify_http_status(resp) {
            Some(err) => connector::client::retry_or_fail(err),
            None => Classification::Fail(VendorError::HttpStatus {
                status: resp.status,
            }),
        };
    }
    match transformers::parse_envelope(&resp.body) {
        Some(env) if env.code == 200 => Classification::Done(env),
        Some(env) => {
            // Verbatim, bounded: the operator compares it with the vendor's console.
            let message: String = env.msg.chars().take(200).collect();
            Classification::Fail(VendorError::Vendor {
                code: env.code.to_string(),
                kind: classify_message(&message),
                message,
            })
        }
        None => Classification::Fail(VendorError::MalformedBody {
            detail: "response is not the documented JSON envelope".to_owned(),
        }),
    }
}

/// apihz as a source of ocr-service.
impl Source<VendorQuery, RawRead> for ApihzClient {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<contracts::axle::common::v1::Money> {
        sources::price(&self.cfg.http)
    }

    fn repeatable(&self) -> bool {
        true
    }

    fn ask<'a>(
        &'a self,
        q: &'a VendorQuery,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Asked<RawRead>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.recognise(&q.image, q.side, deadline).await;
            let confidence = self.cfg.confidence;
            let asked = Asked::from_call(SOURCE, result, started, |env, provenance| {
                transformers::to_read(&env.fields, q.side, confidence, &provenance)
            });
            match asked.answer {
                Some(Some(read)) => Asked::answered(read, asked.status),
                Some(None) => Asked::nothing(sources::status::from_error(
                    SOURCE,
                    &VendorError::Vendor {
                        code: "200".to_owned(),
                        message: format!("success without any field of the {}", q.side.name()),
                        kind: VendorErrorKind::NotFound,
                    },
                    started.elapsed(),
                )),
                None => Asked::nothing(asked.status),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_by_their_words() {
        use VendorErrorKind as K;
        for (msg, kind) in [
            ("通讯秘钥错误。", K::AccountProblem),
            ("用户ID和通讯秘钥不能为空。", K::AccountProblem),
            ("盟点余额不足,请充值。", K::QuotaExhausted),
            ("当前IP瞬时并发超过限制,请稍后再试。", K::VendorInternal),
            ("BASE64编码大小不能超过1M。", K::InvalidRequest),
            ("图片解析失败,请去除BASE64编码头部部分", K::InvalidRequest),
            ("图片识别失败,请上传清晰的行驶证图片。", K::NotFound),
            (
                "class参数错误,1=行驶证正页,2=行驶证副页。",
                K::InvalidRequest,
            ),
            ("系统维护中", K::Unknown),
        ] {
            assert_eq!(classify_message(msg), kind, "{msg}");
        }
    }

    #[test]
    fn the_body_is_url_encoded_and_bounded() {
        let client =
            ApihzClient::new(&ApihzConfig::default(), &ClientContext::noop()).expect("client");
        // Bytes whose base64 is all '+' and '/': they must arrive as %2B and %2F.
        let body = client
            .body(&[0xFB, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF], Side::Back)
            .expect("fits");
        assert!(body.contains("img=%2B%2B%2B%2B%2F%2F%2F%2F"), "{body}");
        assert!(body.contains("class=2") && body.contains("type=2"));
        assert!(!body.contains("data%3Aimage"), "no data-URI header");
        let big = vec![0u8; 800_000];
        assert!(matches!(
            client.body(&big, Side::Front),
            Err(VendorError::Config { .. })
        ));
    }

    #[test]
    fn failed_addresses_go_last_and_come_back() {
        let cfg = ApihzConfig {
            eject_after: 1,
            ..ApihzConfig::default()
        };
        let client = ApihzClient::new(&cfg, &ClientContext::noop()).expect("client");
        assert_eq!(client.order(), [0, 1, 2, 3]);
        client.addresses[0].failed(1, Duration::from_secs(60));
        assert_eq!(client.order(), [1, 2, 3, 0]);
        client.addresses[0].succeeded();
        assert_eq!(client.order(), [0, 1, 2, 3]);
    }
}
