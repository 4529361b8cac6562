//! apihz, seed 002: 行驶证 (vehicle licence) OCR. `GET`/`POST {address}{PATH}` with `id`,
//! `key`, `class` (1 front, 2 back), `type` (1 remote URL, 2 base64) and `img`.
//!
//! The vendor publishes several addresses (cluster IPs, a domain that spreads over them,
//! a paid "彩钻" endpoint) and tells clients to fail over between them. The sandbox serves
//! the same endpoint under one prefix per address, `/apihz/<address>` (by default `ip1`,
//! `ip2`, `ip3`, `domain`, `vip`); an address is made to fail with an ordinary fault rule
//! on its prefix (`path_prefix = "/apihz/ip1"`). The seed's limit of 20 simultaneous
//! requests per address (瞬时并发[单IP] 20) is enforced per prefix, and the peak seen is
//! shown at `GET /_sandbox/apihz/peaks`, so a client's concurrency cap can be tested.
//!
//! Every answer is HTTP 200 JSON. Success is `{"code":200, ...fields}` shaped like the
//! seed's examples; every error is `{"code":400,"msg":...}`. The seed quotes one message
//! verbatim (`通讯秘钥错误。`); the other messages are the sandbox's wording of the
//! failures the seed's parameter table describes (missing parameters, base64 over 1M,
//! base64 that does not decode, e.g. with its data-URI header or with `+` turned into a
//! space), plus quota and concurrency. Answers come from `fixtures/apihz.json`: the
//! seed's own front and back examples unless the image (md5 of its decoded bytes) has
//! a fixture of its own. The sandbox reads no text off the image: it is sandbox data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{ApihzConfig, SandboxConfig};
use crate::error::SandboxError;
use crate::faults::matching::{Compare, Matcher, ParamFact};
use crate::params::form_params;
use crate::vendor::{RequestView, Vendor, VendorCode};

pub const VENDOR: &str = "apihz";
/// The recognition endpoint under each address prefix.
pub const PATH: &str = "/api/kazheng/xingshizheng.php";
/// Prefix of every simulated address.
pub const PREFIX: &str = "/apihz";

/// The seed's own error message for a wrong key, verbatim.
pub const MSG_BAD_KEY: &str = "通讯秘钥错误。";
pub const MSG_MISSING_AUTH: &str = "用户ID和通讯秘钥不能为空。";
pub const MSG_BAD_CLASS: &str = "class参数错误,1=行驶证正页,2=行驶证副页。";
pub const MSG_BAD_TYPE: &str = "type参数错误,1=远程图片,2=BASE64编码。";
pub const MSG_NO_IMAGE: &str = "图片不能为空。";
pub const MSG_TOO_LARGE: &str = "BASE64编码大小不能超过1M。";
pub const MSG_UNDECODABLE: &str =
    "图片解析失败,请去除BASE64编码头部部分,只保留纯BASE64编码,再进行URL编码。";
pub const MSG_NOT_IMAGE: &str = "图片识别失败,请上传清晰的行驶证图片。";
pub const MSG_REMOTE: &str = "远程图片获取失败。";
pub const MSG_QUOTA: &str = "盟点余额不足,请充值。";
pub const MSG_BUSY: &str = "当前IP瞬时并发超过限制,请稍后再试。";

/// The seed's base64 limit: "BASE64编码大小不能超过1M".
pub const MAX_BASE64: usize = 1024 * 1024;

const FIXTURES: &str = include_str!("../../fixtures/apihz.json");

const MATCHERS: &[Matcher] = &[
    Matcher {
        name: "key",
        compare: Compare::Exact,
    },
    Matcher {
        name: "class",
        compare: Compare::Exact,
    },
    Matcher {
        name: "image_md5",
        compare: Compare::Loose,
    },
];

#[derive(Debug, Deserialize)]
struct File {
    default_front: Value,
    default_back: Value,
    by_md5: HashMap<String, Value>,
}

#[derive(Debug)]
pub(crate) struct Apihz {
    cfg: ApihzConfig,
    front: Value,
    back: Value,
    by_md5: HashMap<String, Value>,
    /// Per address: requests in flight now and the most seen at once.
    load: Mutex<HashMap<String, (usize, usize)>>,
    /// Successful recognitions per account id (for the quota).
    used: Mutex<HashMap<String, u64>>,
    calls: AtomicU64,
}

/// The registry's constructor.
pub(crate) fn register(cfg: &SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError> {
    Ok(Arc::new(Apihz::new(&cfg.apihz)?))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Apihz {
    fn new(cfg: &ApihzConfig) -> Result<Self, SandboxError> {
        let file: File = serde_json::from_str(FIXTURES).map_err(|e| SandboxError::Fixture {
            origin: "fixtures/apihz.json".into(),
            detail: e.to_string(),
        })?;
        if cfg.addresses.is_empty()
            || cfg
                .addresses
                .iter()
                .any(|a| a.is_empty() || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(SandboxError::Config(
                "apihz.addresses: give at least one name of letters, digits and '-'".into(),
            ));
        }
        let mut by_md5 = file.by_md5;
        by_md5.extend(
            cfg.answers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        Ok(Self {
            cfg: cfg.clone(),
            front: file.default_front,
            back: file.default_back,
            by_md5,
            load: Mutex::new(HashMap::new()),
            used: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    /// Takes a slot of `address`; `None` when its 20 are taken.
    fn enter(self: &Arc<Self>, address: &str) -> Option<Slot> {
        let mut load = lock(&self.load);
        let entry = load.entry(address.to_owned()).or_insert((0, 0));
        if entry.0 >= self.cfg.max_concurrent_per_address {
            return None;
        }
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
        Some(Slot {
            vendor: self.clone(),
            address: address.to_owned(),
        })
    }

    fn answer(&self, p: &Request<'_>) -> Result<Value, &'static str> {
        let (Some(id), Some(key)) = (p.id, p.key) else {
            return Err(MSG_MISSING_AUTH);
        };
        let Some(account) = self
            .cfg
            .accounts
            .iter()
            .find(|a| a.id == id && a.key == key)
        else {
            return Err(MSG_BAD_KEY);
        };
        let class = match p.class {
            Some("1") => 1,
            Some("2") => 2,
            _ => return Err(MSG_BAD_CLASS),
        };
        let img = p.img.filter(|i| !i.trim().is_empty()).ok_or(MSG_NO_IMAGE)?;
        let bytes = match p.kind {
            // The sandbox fetches nothing: a remote image cannot be had from here.
            Some("1") => return Err(MSG_REMOTE),
            Some("2") => {
                if img.len() > MAX_BASE64 {
                    return Err(MSG_TOO_LARGE);
                }
                decode_base64(img).ok_or(MSG_UNDECODABLE)?
            }
            _ => return Err(MSG_BAD_TYPE),
        };
        if !(bytes.starts_with(b"\xFF\xD8\xFF") || bytes.starts_with(b"\x89PNG\r\n\x1a\n")) {
            return Err(MSG_NOT_IMAGE);
        }
        {
            let mut used = lock(&self.used);
            let n = used.entry(account.id.clone()).or_insert(0);
            if account.balance.is_some_and(|b| *n >= b) {
                return Err(MSG_QUOTA);
            }
            *n += 1;
        }
        let digest = hex(&Md5::digest(&bytes));
        Ok(match self.by_md5.get(&digest) {
            Some(v) => v.clone(),
            None if class == 1 => self.front.clone(),
            None => self.back.clone(),
        })
    }
}

/// One request's hold on an address's concurrency, released when dropped (also when the
/// client goes away mid-request).
struct Slot {
    vendor: Arc<Apihz>,
    address: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.vendor.load).get_mut(&self.address) {
            e.0 = e.0.saturating_sub(1);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Strict standard base64 (PHP's `base64_decode($s, true)`): a data-URI header, a space
/// (a `+` lost to form decoding) or any other stray character fails.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let s = s.as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let body = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).ok()?);
        }
    }
    Some(out)
}

/// What the vendor reads from one request.
#[derive(Debug)]
struct Request<'a> {
    id: Option<&'a str>,
    key: Option<&'a str>,
    class: Option<&'a str>,
    kind: Option<&'a str>,
    img: Option<&'a str>,
}

fn reply(body: &Value) -> Response {
    let code = body.get("code").and_then(Value::as_i64).unwrap_or(200);
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response();
    res.extensions_mut().insert(VendorCode(code));
    res
}

fn error(msg: &str) -> Response {
    reply(&json!({"code": 400, "msg": msg}))
}

async fn recognise(
    State(apihz): State<Arc<Apihz>>,
    Path(address): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !apihz.cfg.addresses.contains(&address) {
        return (axum::http::StatusCode::NOT_FOUND, "no such address").into_response();
    }
    apihz.calls.fetch_add(1, Ordering::Relaxed);
    let Some(_slot) = apihz.enter(&address) else {
        return error(MSG_BUSY);
    };
    if apihz.cfg.processing_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(apihz.cfg.processing_ms)).await;
    }
    // A PHP endpoint: `$_REQUEST`, the query string and a form body.
    let params = form_params(&method, uri.query(), &headers, &body);
    let req = Request {
        id: params.get("id").filter(|s| !s.is_empty()),
        key: params.get("key").filter(|s| !s.is_empty()),
        class: params.get("class"),
        kind: params.get("type"),
        img: params.get("img"),
    };
    match apihz.answer(&req) {
        Ok(v) => reply(&v),
        Err(msg) => error(msg),
    }
}

async fn peaks(State(apihz): State<Arc<Apihz>>) -> Response {
    let load = lock(&apihz.load);
    let peaks: Map<String, Value> = load
        .iter()
        .map(|(k, (_, peak))| (k.clone(), json!(peak)))
        .collect();
    axum::Json(Value::Object(peaks)).into_response()
}

impl Vendor for Apihz {
    fn name(&self) -> &'static str {
        VENDOR
    }

    fn paths(&self) -> Vec<String> {
        self.cfg
            .addresses
            .iter()
            .map(|a| format!("{PREFIX}/{a}{PATH}"))
            .collect()
    }

    fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                &format!("{PREFIX}/{{address}}{PATH}"),
                get(recognise).post(recognise),
            )
            // The vendor answers an oversized image with its own message, not a 413:
            // room for 1M of base64, URL-encoded, and the other parameters.
            .layer(DefaultBodyLimit::max(4 * MAX_BASE64))
            .with_state(self)
    }

    fn admin_routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/_sandbox/apihz/peaks", get(peaks))
            .with_state(self)
    }

    /// The vendor's error envelope on HTTP 200 (its own errors all carry code 400; a
    /// fault rule's `code` is sent as given).
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        let mut res = reply(&json!({
            "code": code,
            "msg": msg.unwrap_or(match code {
                402 => MSG_QUOTA,
                429 => MSG_BUSY,
                _ => MSG_BAD_KEY,
            }),
        }));
        res.extensions_mut().insert(VendorCode(code));
        res
    }

    /// Quotas and peaks from the beginning.
    fn reset(&self) {
        lock(&self.used).clear();
        lock(&self.load).retain(|_, (now, _)| *now > 0);
        for (_, (now, peak)) in lock(&self.load).iter_mut() {
            *peak = *now;
        }
        self.calls.store(0, Ordering::Relaxed);
    }

    fn info(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "addresses".into(),
            json!(
                self.cfg
                    .addresses
                    .iter()
                    .map(|a| format!("{PREFIX}/{a}"))
                    .collect::<Vec<_>>()
            ),
        );
        m.insert(
            "accounts".into(),
            json!(
                self.cfg
                    .accounts
                    .iter()
                    .map(|a| json!({"id": a.id, "key": a.key, "balance": a.balance}))
                    .collect::<Vec<_>>()
            ),
        );
        m.insert(
            "max_concurrent_per_address".into(),
            json!(self.cfg.max_concurrent_per_address),
        );
        m
    }

    fn fault_matchers(&self) -> &'static [Matcher] {
        MATCHERS
    }

    fn fault_params(&self, req: &RequestView<'_>) -> Vec<ParamFact> {
        let params = form_params(req.method, req.query, req.headers, req.body);
        MATCHERS
            .iter()
            .map(|&matcher| ParamFact {
                matcher,
                value: match matcher.name {
                    "image_md5" => image_md5(params.get("type"), params.get("img")),
                    name => params.get(name).map(str::to_owned),
                },
            })
            .collect()
    }
}

/// What an `image_md5` fault rule compares: the md5 of the decoded base64 image
/// (`type` 2), or of the URL text (`type` 1); `None` when there is no readable image.
fn image_md5(kind: Option<&str>, img: Option<&str>) -> Option<String> {
    let img = img?;
    let bytes = match kind.map(str::trim) {
        Some("1") => img.as_bytes().to_vec(),
        _ => decode_base64(img)?,
    };
    Some(hex(&Md5::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_md5_is_of_the_decoded_image_or_the_url() {
        let md5 = |b: &[u8]| hex(&Md5::digest(b));
        assert_eq!(image_md5(Some("2"), Some(&b64(PNG))), Some(md5(PNG)));
        assert_eq!(
            image_md5(Some("1"), Some("http://x/a.jpg")),
            Some(md5(b"http://x/a.jpg"))
        );
        assert_eq!(image_md5(Some("2"), Some("%%%")), None);
        assert_eq!(image_md5(Some("2"), None), None);
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000";

    fn b64(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn vendor() -> Apihz {
        Apihz::new(&ApihzConfig::default()).expect("defaults")
    }

    fn req<'a>(key: &'a str, class: &'a str, kind: &'a str, img: &'a str) -> Request<'a> {
        Request {
            id: Some("10000000"),
            key: Some(key),
            class: Some(class),
            kind: Some(kind),
            img: Some(img),
        }
    }

    #[test]
    fn the_seed_examples_answer_each_side() {
        let v = vendor();
        let img = b64(PNG);
        let front = v
            .answer(&req(crate::config::APIHZ_KEY, "1", "2", &img))
            .expect("front");
        assert_eq!(
            front["Vin"], "123456789ABCDEFGH",
            "the seed's VIN, verbatim"
        );
        let back = v
            .answer(&req(crate::config::APIHZ_KEY, "2", "2", &img))
            .expect("back");
        assert_eq!(back["ExternalSize"], "4667×1839×1694mm");
    }

    #[test]
    fn every_documented_failure_has_its_message() {
        let v = vendor();
        let key = crate::config::APIHZ_KEY;
        let img = b64(PNG);
        assert_eq!(v.answer(&req("wrong", "1", "2", &img)), Err(MSG_BAD_KEY));
        assert_eq!(v.answer(&req(key, "3", "2", &img)), Err(MSG_BAD_CLASS));
        assert_eq!(v.answer(&req(key, "1", "9", &img)), Err(MSG_BAD_TYPE));
        assert_eq!(v.answer(&req(key, "1", "2", "")), Err(MSG_NO_IMAGE));
        assert_eq!(
            v.answer(&req(key, "1", "1", "http://x/y.png")),
            Err(MSG_REMOTE)
        );
        let header = format!("data:image/png;base64,{img}");
        assert_eq!(v.answer(&req(key, "1", "2", &header)), Err(MSG_UNDECODABLE));
        // What a `+` becomes when the client forgets to URL-encode it.
        let plus = b64(&[0xFB, 0xEF, 0xBE]);
        assert_eq!(plus, "++++");
        assert_eq!(v.answer(&req(key, "1", "2", "    ")), Err(MSG_NO_IMAGE));
        assert_eq!(v.answer(&req(key, "1", "2", "AA A")), Err(MSG_UNDECODABLE));
        assert_eq!(
            v.answer(&req(key, "1", "2", &b64(b"GIF89a"))),
            Err(MSG_NOT_IMAGE)
        );
        let big = "A".repeat(MAX_BASE64 + 4);
        assert_eq!(v.answer(&req(key, "1", "2", &big)), Err(MSG_TOO_LARGE));
        let none = Request {
            id: None,
            key: None,
            class: None,
            kind: None,
            img: None,
        };
        assert_eq!(v.answer(&none), Err(MSG_MISSING_AUTH));
    }

    #[test]
    fn a_limited_account_runs_out() {
        let v = vendor();
        let img = b64(PNG);
        let limited = crate::config::APIHZ_LIMITED_KEY;
        let r = || Request {
            id: Some("10000001"),
            ..req(limited, "1", "2", &img)
        };
        for _ in 0..2 {
            assert!(v.answer(&r()).is_ok());
        }
        assert_eq!(v.answer(&r()), Err(MSG_QUOTA));
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("aGk"), None);
        assert_eq!(decode_base64("a Gk="), None);
        assert_eq!(decode_base64(&b64(PNG)), Some(PNG.to_vec()));
    }
}
