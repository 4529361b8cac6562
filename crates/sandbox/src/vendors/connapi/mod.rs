//! connapi (seed 001): `GET|POST /api/vin/get` with `key` and `vin`, optional `sign`
//! header = md5(http_build_query(params) + SK) when 签名校验 is on for the key.
//!
//! The vendor answers HTTP 200 with its code in the body: `{code, msg, data}`; `data` is
//! `null` on errors and `{order_no, result}` on success. The sandbox never invents
//! vehicle data: a VIN without a fixture is 404 请求资源不存在.
//!
//! Order of checks, as a PHP gateway would do them: parameters present (403) -> key
//! known (400) -> signature (403 签名错误) -> account state (400/601/602/603/604) ->
//! VIN shape (403) -> balance (603) -> special VINs (500/501) -> fixture (200) or 404.
//!
//! Fault rules can match on its parameters `key` (exactly) and `vin` (trimmed, any
//! case), read from the query, a form body or a JSON body.

mod fixtures;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use self::fixtures::{Entry, Fixtures, normalize_vin};
use crate::config::{AccountState, ConnapiAccount, SandboxConfig};
use crate::error::SandboxError;
use crate::faults::matching::{Compare, Matcher, ParamFact};
use crate::params::{form_params, is_form, request_params};
use crate::signing;
use crate::sync::lock;
use crate::vendor::{RequestView, Vendor, VendorCode};

pub const VENDOR: &str = "connapi";
/// The documented endpoint.
pub const PATH: &str = "/api/vin/get";
/// The same endpoint under a vendor prefix, for callers that want unambiguous base URLs
/// once several vendors share this server.
pub const ALIAS_PREFIX: &str = "/connapi";

/// What fault rules can match on: the API key exactly, the VIN as leniently as the
/// vendor looks it up.
const MATCHERS: &[Matcher] = &[
    Matcher {
        name: "key",
        compare: Compare::Exact,
    },
    Matcher {
        name: "vin",
        compare: Compare::Loose,
    },
];

/// Documented codes and messages, verbatim (seed 001, 返回示例, lines 457-466).
pub fn message(code: i64) -> &'static str {
    match code {
        200 => "成功",
        // Not provisioned, OR no permission or balance: one code for all of these.
        400 => "没有开通此业务或权限余额不足",
        403 => "参数不足或输入格式错误",
        404 => "请求资源不存在",
        500 => "系统内部错误,请联系服务商",
        501 => "第三方服务异常",
        601 => "服务商未开通接口权限",
        602 => "账号停用",
        603 => "余额不足请充值",
        604 => "接口停用",
        // "...其它错误,以实际返回为准": the seed gives no wording for other codes.
        _ => "未知错误",
    }
}

#[derive(Debug)]
pub(crate) struct Connapi {
    fixtures: Fixtures,
    accounts: HashMap<String, ConnapiAccount>,
    /// Remaining balance per key (only keys with a configured balance).
    balances: Mutex<HashMap<String, u64>>,
    orders: AtomicU64,
    seed: u64,
}

/// The registry's constructor.
pub(crate) fn register(cfg: &SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError> {
    Ok(Arc::new(Connapi::new(cfg)?))
}

impl Connapi {
    fn new(cfg: &SandboxConfig) -> Result<Self, SandboxError> {
        let fixtures = Fixtures::load(cfg.connapi.extra_fixtures.as_deref())?;
        let mut accounts = HashMap::new();
        for acct in &cfg.connapi.accounts {
            if acct.key.is_empty() {
                return Err(SandboxError::Config(
                    "connapi account with an empty key".into(),
                ));
            }
            if accounts.insert(acct.key.clone(), acct.clone()).is_some() {
                return Err(SandboxError::Config(format!(
                    "connapi account key {} listed twice",
                    acct.key
                )));
            }
        }
        let this = Self {
            fixtures,
            accounts,
            balances: Mutex::new(HashMap::new()),
            orders: AtomicU64::new(0),
            seed: cfg.seed,
        };
        this.reset();
        Ok(this)
    }

    fn account_list(&self) -> Vec<Value> {
        let balances = lock(&self.balances);
        let mut keys: Vec<&String> = self.accounts.keys().collect();
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let a = &self.accounts[k];
                json!({
                    "key": a.key,
                    "signed": a.sign_secret.is_some(),
                    "state": a.state,
                    "balance": balances.get(k),
                })
            })
            .collect()
    }

    /// Deterministic 18-digit order number: the same seed and request sequence give the
    /// same numbers, and two lookups of one VIN still get different ones.
    fn next_order_no(&self, vin: &str) -> String {
        let n = self.orders.fetch_add(1, Ordering::SeqCst) + 1;
        let h = fnv1a(vin.as_bytes()) ^ self.seed.rotate_left(17);
        let x = splitmix64(h.wrapping_add(n));
        (100_000_000_000_000_000 + x % 900_000_000_000_000_000).to_string()
    }

    fn answer(&self, req: &Lookup<'_>) -> Result<Value, (i64, String)> {
        let err = |code: i64| (code, message(code).to_owned());
        let (Some(key), Some(vin)) = (req.key, req.vin) else {
            return Err(err(403));
        };
        let account = self.accounts.get(key).ok_or_else(|| err(400))?;
        if let Some(secret) = &account.sign_secret {
            match req.sign {
                None => return Err((403, "签名错误:缺少sign".to_owned())),
                Some(sign)
                    if !signing::sign_matches(
                        sign,
                        &signing::query_then_secret(req.signed_text, secret),
                    ) =>
                {
                    return Err((403, "签名错误".to_owned()));
                }
                Some(_) => {}
            }
        }
        match account.state {
            AccountState::Active => {}
            AccountState::Unprovisioned => return Err(err(400)),
            AccountState::NoPermission => return Err(err(601)),
            AccountState::Suspended => return Err(err(602)),
            AccountState::NoBalance => return Err(err(603)),
            AccountState::Discontinued => return Err(err(604)),
        }
        let vin = normalize_vin(vin).ok_or_else(|| err(403))?;
        // Reserve and charge under one lock, so concurrent lookups cannot overdraw.
        let mut balances = lock(&self.balances);
        if balances.get(key) == Some(&0) {
            return Err(err(603));
        }
        match self.fixtures.get(&vin) {
            None => Err(err(404)),
            Some(Entry::Special(s)) => Err((
                s.code,
                s.msg.clone().unwrap_or_else(|| message(s.code).to_owned()),
            )),
            Some(Entry::Vehicle(v)) => {
                // Only answers are billed, as usual for 次数包 plans: 404 costs nothing.
                if let Some(b) = balances.get_mut(key) {
                    *b -= 1;
                }
                drop(balances);
                Ok(json!({"order_no": self.next_order_no(&vin), "result": v.result}))
            }
        }
    }
}

impl Vendor for Connapi {
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
            .route(PATH, get(vin_get).post(vin_get))
            .route(&format!("{ALIAS_PREFIX}{PATH}"), get(vin_get).post(vin_get))
            .with_state(self)
    }

    /// The vendor's error envelope: HTTP 200, code in the body, `data: null`.
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response {
        envelope(code, msg.unwrap_or_else(|| message(code)), &Value::Null)
    }

    /// Configured balances, order numbers from the beginning.
    fn reset(&self) {
        *lock(&self.balances) = self
            .accounts
            .values()
            .filter_map(|a| a.balance.map(|b| (a.key.clone(), b)))
            .collect();
        self.orders.store(0, Ordering::SeqCst);
    }

    fn info(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("accounts".into(), Value::Array(self.account_list()));
        m.insert("fixtures".into(), json!(self.fixtures.list()));
        m
    }

    fn fault_matchers(&self) -> &'static [Matcher] {
        MATCHERS
    }

    fn fault_params(&self, req: &RequestView<'_>) -> Vec<ParamFact> {
        let params = request_params(req.method, req.query, req.headers, req.body);
        MATCHERS
            .iter()
            .map(|&matcher| ParamFact {
                matcher,
                value: params.get(matcher.name).map(str::to_owned),
            })
            .collect()
    }
}

/// What the vendor reads from one request.
#[derive(Debug)]
struct Lookup<'a> {
    key: Option<&'a str>,
    vin: Option<&'a str>,
    sign: Option<&'a str>,
    /// The exact text the client signed: the raw query for GET, the raw body for POST.
    signed_text: &'a str,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn envelope(code: i64, msg: &str, data: &Value) -> Response {
    let body = json!({"code": code, "msg": msg, "data": data}).to_string();
    let mut res = (
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

async fn vin_get(
    State(connapi): State<Arc<Connapi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri.query();
    // connapi is a PHP endpoint: query and form body only (README: another content type
    // has no body parameters), so a connector sending JSON fails here as it would there.
    let params = form_params(&method, query, &headers, &body);
    let raw_body = std::str::from_utf8(&body).unwrap_or("");
    // PHP's demo signs exactly the string it sends: the body for POST, the query for GET.
    let signed_text = if method == Method::POST && is_form(&headers) && !raw_body.is_empty() {
        raw_body
    } else {
        query.unwrap_or("")
    };
    let lookup = Lookup {
        key: params.get("key").filter(|k| !k.is_empty()),
        vin: params.get("vin").filter(|v| !v.trim().is_empty()),
        sign: headers
            .get("sign")
            .and_then(|v| v.to_str().ok())
            .map(str::trim),
        signed_text,
    };
    match connapi.answer(&lookup) {
        Ok(data) => envelope(200, message(200), &data),
        Err((code, msg)) => envelope(code, &msg, &Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 001, line 458: `400没有开通此业务或权限余额不足`, verbatim: not provisioned,
    /// or no permission or balance. Neither half alone.
    #[test]
    fn code_400_says_both_halves_verbatim() {
        assert_eq!(message(400), "没有开通此业务或权限余额不足");
        let connapi = Connapi::new(&SandboxConfig::default()).expect("defaults");
        let lookup = |key| Lookup {
            key: Some(key),
            vin: Some("WP0AA2978BL012976"),
            sign: None,
            signed_text: "",
        };
        for key in ["sandbox-unprovisioned", "no-such-key"] {
            assert_eq!(
                connapi.answer(&lookup(key)),
                Err((400, "没有开通此业务或权限余额不足".to_owned())),
                "{key}"
            );
        }
    }

    /// Every code of seed 001's table (返回示例, lines 457-466, copied verbatim) in the
    /// seed's own words.
    #[test]
    fn the_code_table_is_the_seeds() {
        const SEED_001_LINES_457_TO_466: [&str; 10] = [
            "200成功",
            "400没有开通此业务或权限余额不足",
            "403参数不足或输入格式错误",
            "404请求资源不存在",
            "500系统内部错误,请联系服务商",
            "501第三方服务异常",
            "601服务商未开通接口权限",
            "602账号停用",
            "603余额不足请充值",
            "604接口停用",
        ];
        for line in SEED_001_LINES_457_TO_466 {
            let (code, text) = line.split_at(3);
            let code: i64 = code.parse().expect("three-digit code");
            assert_eq!(message(code), text, "code {code}");
        }
    }

    #[test]
    fn fault_params_read_query_form_and_json() {
        let connapi = Connapi::new(&SandboxConfig::default()).expect("defaults");
        let headers = HeaderMap::new();
        let view = RequestView {
            method: &Method::GET,
            query: Some("key=K&vin=+lsv+"),
            headers: &headers,
            body: b"",
        };
        let facts = connapi.fault_params(&view);
        let values: Vec<Option<&str>> = facts.iter().map(|f| f.value.as_deref()).collect();
        assert_eq!(values, [Some("K"), Some(" lsv ")]);
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let view = RequestView {
            method: &Method::POST,
            query: None,
            headers: &json,
            body: br#"{"vin": "WP0"}"#,
        };
        let facts = connapi.fault_params(&view);
        assert_eq!(facts[1].value.as_deref(), Some("WP0"));
        assert_eq!(facts[0].value, None);
    }
}
