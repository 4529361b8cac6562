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

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::VendorCode;
use crate::SandboxError;
use crate::config::{AccountState, ConnapiAccount, ConnapiConfig};
use crate::faults::{self, VendorScope};
use crate::params::{form_params, is_form};
use crate::signing;
use crate::state::{AppState, lock};

pub const VENDOR: &str = "connapi";
/// The documented endpoint.
pub const PATH: &str = "/api/vin/get";
/// The same endpoint under a vendor prefix, for callers that want unambiguous base URLs
/// once several vendors share this server.
pub const ALIAS_PREFIX: &str = "/connapi";

const EMBEDDED: &str = include_str!("../../fixtures/connapi.json");

/// Documented codes and messages (seed 001, 返回示例).
pub fn message(code: i64) -> &'static str {
    match code {
        200 => "成功",
        400 => "没有开通此业务或权限余额不足",
        403 => "参数不足或输入格式错误",
        404 => "请求资源不存在",
        500 => "系统内部错误,请联系服务商",
        501 => "第三方服务异常",
        601 => "服务商未开通接口权限",
        602 => "账号停用",
        603 => "余额不足请充值",
        604 => "接口停用",
        _ => "未知错误",
    }
}

/// The fixture file format (`fixtures/connapi.json`, and `extra_fixtures`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(rename = "_notice", default)]
    _notice: Option<String>,
    #[serde(default)]
    vehicles: Vec<VehicleFixture>,
    #[serde(default)]
    special: Vec<SpecialVin>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VehicleFixture {
    vin: String,
    /// What this fixture exercises (documentation only).
    #[serde(default)]
    note: String,
    /// Exactly what the vendor puts under `data.result`.
    result: Value,
}

/// A VIN for which the vendor always fails with `code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecialVin {
    vin: String,
    #[serde(default)]
    note: String,
    code: i64,
    #[serde(default)]
    msg: Option<String>,
}

#[derive(Debug, Clone)]
enum Entry {
    Vehicle(VehicleFixture),
    Special(SpecialVin),
}

/// One fixture as listed by `GET /_sandbox/info`.
#[derive(Debug, Serialize)]
pub(crate) struct FixtureInfo {
    vin: String,
    note: String,
    code: i64,
}

#[derive(Debug)]
pub(crate) struct Connapi {
    fixtures: HashMap<String, Entry>,
    accounts: HashMap<String, ConnapiAccount>,
    /// Remaining balance per key (only keys with a configured balance).
    balances: Mutex<HashMap<String, u64>>,
    orders: AtomicU64,
    seed: u64,
}

impl Connapi {
    pub(crate) fn new(cfg: &ConnapiConfig, seed: u64) -> Result<Self, SandboxError> {
        let mut fixtures = HashMap::new();
        load_fixture_text(EMBEDDED, "embedded fixtures/connapi.json", &mut fixtures)?;
        if let Some(extra) = &cfg.extra_fixtures {
            load_extra(extra, &mut fixtures)?;
        }
        let mut accounts = HashMap::new();
        for acct in &cfg.accounts {
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
            seed,
        };
        this.reset();
        Ok(this)
    }

    pub(crate) fn reset(&self) {
        *lock(&self.balances) = self
            .accounts
            .values()
            .filter_map(|a| a.balance.map(|b| (a.key.clone(), b)))
            .collect();
        self.orders.store(0, Ordering::SeqCst);
    }

    pub(crate) fn fixture_list(&self) -> Vec<FixtureInfo> {
        let mut list: Vec<FixtureInfo> = self
            .fixtures
            .values()
            .map(|e| match e {
                Entry::Vehicle(v) => FixtureInfo {
                    vin: v.vin.clone(),
                    note: v.note.clone(),
                    code: 200,
                },
                Entry::Special(s) => FixtureInfo {
                    vin: s.vin.clone(),
                    note: s.note.clone(),
                    code: s.code,
                },
            })
            .collect();
        list.sort_by(|a, b| a.vin.cmp(&b.vin));
        list
    }

    pub(crate) fn account_list(&self) -> Vec<Value> {
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

/// What the vendor reads from one request.
#[derive(Debug)]
struct Lookup<'a> {
    key: Option<&'a str>,
    vin: Option<&'a str>,
    sign: Option<&'a str>,
    /// The exact text the client signed: the raw query for GET, the raw body for POST.
    signed_text: &'a str,
}

/// Trimmed and upper-cased like the vendor's lenient matching; `None` for input that
/// cannot be a VIN at all (the vendor's 403). Odd but plausible input is still looked up,
/// and simply is not found.
fn normalize_vin(vin: &str) -> Option<String> {
    let v = vin.trim().to_ascii_uppercase();
    let plausible = !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then_some(v)
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

fn load_fixture_text(
    text: &str,
    origin: &str,
    into: &mut HashMap<String, Entry>,
) -> Result<(), SandboxError> {
    let fail = |detail: String| SandboxError::Fixture {
        origin: origin.to_owned(),
        detail,
    };
    let file: FixtureFile = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    let entries = file
        .vehicles
        .into_iter()
        .map(Entry::Vehicle)
        .chain(file.special.into_iter().map(Entry::Special));
    for entry in entries {
        let vin = match &entry {
            Entry::Vehicle(v) => {
                if !v.result.is_object() {
                    return Err(fail(format!("{}: result must be a JSON object", v.vin)));
                }
                &v.vin
            }
            Entry::Special(s) => &s.vin,
        };
        let norm = normalize_vin(vin).ok_or_else(|| fail(format!("unusable VIN {vin:?}")))?;
        if norm != *vin {
            return Err(fail(format!("VIN {vin:?} must be written as {norm:?}")));
        }
        if !seen.insert(norm.clone()) {
            return Err(fail(format!("VIN {vin} listed twice")));
        }
        into.insert(norm, entry);
    }
    Ok(())
}

fn load_extra(path: &Path, into: &mut HashMap<String, Entry>) -> Result<(), SandboxError> {
    let io_fail = |p: &Path, e: std::io::Error| SandboxError::Fixture {
        origin: p.display().to_string(),
        detail: e.to_string(),
    };
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| io_fail(path, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        // Sorted, so overrides between extra files are deterministic.
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| io_fail(&file, e))?;
        load_fixture_text(&text, &file.display().to_string(), into)?;
    }
    Ok(())
}

/// The vendor's error envelope: HTTP 200, code in the body, `data: null`.
pub(crate) fn error_response(code: i64, msg: Option<&str>) -> Response {
    envelope(code, msg.unwrap_or_else(|| message(code)), &Value::Null)
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

/// connapi's routes, at the documented path and under [`ALIAS_PREFIX`], behind the fault
/// layer.
pub(crate) fn routes(state: AppState) -> Router {
    let scope = VendorScope {
        state: state.clone(),
        vendor: VENDOR,
        alias: ALIAS_PREFIX,
    };
    Router::new()
        .route(PATH, get(vin_get).post(vin_get))
        .route(&format!("{ALIAS_PREFIX}{PATH}"), get(vin_get).post(vin_get))
        .layer(axum::middleware::from_fn_with_state(scope, faults::layer))
        .with_state(state)
}

async fn vin_get(
    State(state): State<AppState>,
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
    match state.0.connapi.answer(&lookup) {
        Ok(data) => envelope(200, message(200), &data),
        Err((code, msg)) => envelope(code, &msg, &Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fixtures_load() {
        let mut m = HashMap::new();
        load_fixture_text(EMBEDDED, "embedded", &mut m).expect("embedded fixtures are valid");
        assert!(m.len() >= 30, "{} fixtures", m.len());
        assert!(matches!(
            m.get("WP0AA2978BL012976"),
            Some(Entry::Vehicle(_))
        ));
    }

    #[test]
    fn vin_shape() {
        assert_eq!(normalize_vin(" lsv123 ").as_deref(), Some("LSV123"));
        assert_eq!(normalize_vin(""), None);
        assert_eq!(normalize_vin("WP0AA2978BL012976;DROP"), None);
        assert_eq!(normalize_vin(&"A".repeat(40)), None);
    }
}
