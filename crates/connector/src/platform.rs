//! The signed-form protocol of the API platform behind seeds 003 (violations, apistore)
//! and 004 (platecb): one envelope, one code table, two signing modes and a clock that
//! must stay within 10 minutes of the platform's. Each connector says what its endpoint
//! takes and how to read its data; what the platform does the same for every API is here.
//!
//! - Signing (seed 003, 加密规则): MD5 mode signs the non-empty parameters sorted by key,
//!   each key followed by its value, then the secret; Hash mode (如何设置hash验证) sends
//!   the secret itself as `sign`. The app's mode is set in the platform's console.
//! - Envelope: `codeid` (10000 返回成功, billed), `message`, and `time` (请求时传递的当前服务器
//!   时间戳: the platform's clock, which is what lets a client correct its own after
//!   10004 时差不能超过10分钟).
//! - The code table ([`kind_of`]): seed 003's 状态码说明, each code with its meaning for
//!   an operator.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::VendorErrorKind;
use crate::json::{parse_body, value_int, value_text};

/// 返回成功: billed (返回10000状态都会进行计费).
pub const CODE_OK: i64 = 10000;
/// 时差不能超过10分钟: our clock is off by more than 10 minutes.
pub const CODE_CLOCK_DRIFT: i64 = 10004;
/// time必须是整型: `time` was not an integer.
pub const CODE_BAD_TIME: i64 = 10017;
/// 订单提交成功,等待回调结果: accepted, the answer comes by callback.
pub const CODE_ACCEPTED: i64 = 10023;
/// 调试模式数据: the app is in debug mode and the data is the platform's sample.
pub const CODE_DEBUG_DATA: i64 = 10024;
/// 查无数据: the platform has no data for the query.
pub const CODE_NO_DATA: i64 = 10025;

/// How the app proves who it is: the platform's 验证方式, chosen per app in its console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignMode {
    /// `sign = md5(sorted non-empty key+value pairs + secret)`.
    #[default]
    Md5,
    /// `sign = secret` (使用Hash验证方式,直接跟上密钥即可): only over TLS.
    Hash,
}

/// The `sign` of `params` (without `sign`) in `mode`.
pub fn sign(params: &[(&str, &str)], secret: &str, mode: SignMode) -> String {
    match mode {
        SignMode::Md5 => crate::signing::md5_sorted_pairs_then_secret(params, secret),
        SignMode::Hash => secret.to_owned(),
    }
}

/// The form body of a signed request: `params`, then `sign`, encoded as the platform's
/// PHP demo encodes them (`http_build_query`).
pub fn signed_form(params: &[(&str, &str)], secret: &str, mode: SignMode) -> String {
    let signature = sign(params, secret, mode);
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("sign", signature.as_str()));
    crate::signing::php_http_build_query(&all)
}

/// What a code means, for the caller and the operator. Codes the table does not list,
/// 10014 未知的错误 and 10019 (whose entry is only the placeholder `{@info}`, filled in at
/// run time) are `Unknown`: no meaning is invented, the vendor's text goes through.
pub fn kind_of(code: i64) -> VendorErrorKind {
    match code {
        // Missing/bad parameters, bad signature, clock drift, unknown appid: all our
        // configuration (or our clock), none worth retrying as is.
        10001..=10005 | 10015 | 10017 => VendorErrorKind::InvalidRequest,
        10007 => VendorErrorKind::AccountProblem,
        // 10006 IP not whitelisted, 10024 the app is in debug mode: the operator's app
        // settings.
        10006 | 10008 | 10010 | 10012 | 10020 | CODE_DEBUG_DATA => {
            VendorErrorKind::PermissionMissing
        }
        10009 | 10013 => VendorErrorKind::Discontinued,
        // 10011 api已经到期: the subscription ran out, like a used-up package.
        10011 | 10018 | 10022 => VendorErrorKind::QuotaExhausted,
        10021 => VendorErrorKind::VendorInternal,
        CODE_NO_DATA => VendorErrorKind::NotFound,
        _ => VendorErrorKind::Unknown,
    }
}

/// Codes that say the deployment is set up wrong (credentials, whitelist, subscription,
/// debug mode): an operator must act; asking again changes nothing.
pub fn is_configuration_problem(code: i64) -> bool {
    matches!(
        code,
        10001..=10003 | 10005..=10013 | 10015 | 10020 | CODE_DEBUG_DATA
    )
}

/// A platform answer's envelope; the members are kept for the connector to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `codeid`; -1 when absent or not a number.
    pub code: i64,
    /// The platform's `message` (or `description`), verbatim, at most 200 characters
    /// (it goes into every caller's status).
    pub message: String,
    /// The platform's clock (`time`), Unix seconds.
    pub time: Option<i64>,
    pub members: Map<String, Value>,
}

impl Envelope {
    /// Reads an answer body; `Err` says why it is not the platform's envelope.
    pub fn read(body: &[u8]) -> Result<Self, String> {
        match parse_body(body) {
            Ok(Value::Object(members)) => Ok(Self::from_members(members)),
            Ok(_) => Err("the answer is JSON but not an object".to_owned()),
            Err(e) => Err(format!("the answer is not JSON: {e}")),
        }
    }

    pub fn from_members(members: Map<String, Value>) -> Self {
        let code = members.get("codeid").and_then(value_int).unwrap_or(-1);
        let message = ["message", "description"]
            .iter()
            .find_map(|k| {
                members
                    .get(*k)
                    .and_then(value_text)
                    .filter(|m| !m.is_empty())
            })
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let time = members.get("time").and_then(value_int);
        Self {
            code,
            message,
            time,
            members,
        }
    }
}

/// Our clock as the platform sees it: the system clock plus an offset learnt from the
/// platform's `time` after a 10004, so that one refused request, not every request,
/// pays for a drifting host clock.
#[derive(Debug, Default)]
pub struct PlatformClock {
    offset_s: AtomicI64,
}

impl PlatformClock {
    /// Unix seconds to send as `time`.
    pub fn now(&self) -> i64 {
        unix_now().saturating_add(self.offset_s.load(Ordering::Relaxed))
    }

    /// Learns the offset from the platform's clock reading `platform_time` (taken about
    /// now). Returns the new offset, in seconds.
    pub fn correct(&self, platform_time: i64) -> i64 {
        let offset = platform_time.saturating_sub(unix_now());
        self.offset_s.store(offset, Ordering::Relaxed);
        offset
    }

    pub fn offset_s(&self) -> i64 {
        self.offset_s.load(Ordering::Relaxed)
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 003's worked example, with its documented parameter values and a secret of
    /// our own; the digest was computed outside this crate
    /// (`printf '%s' 'appid1car_no粤AJ44E6car_type02engine_numberAD50EG081600062formatjsonframe_numberLNBSCC3H8GF308384s3cret' | md5sum`).
    #[test]
    fn md5_mode_signs_the_seed_example() {
        let params = [
            ("appid", "1"),
            ("car_no", "粤AJ44E6"),
            ("car_type", "02"),
            ("engine_number", "AD50EG081600062"),
            ("format", "json"),
            ("frame_number", "LNBSCC3H8GF308384"),
        ];
        assert_eq!(
            sign(&params, "s3cret", SignMode::Md5),
            "57dc823d2e07be3e8a9b2768e855c893"
        );
    }

    #[test]
    fn empty_values_do_not_take_part_and_order_does_not_matter() {
        let a = sign(
            &[("format", "json"), ("appid", "1"), ("engine_number", "")],
            "k",
            SignMode::Md5,
        );
        let b = sign(&[("appid", "1"), ("format", "json")], "k", SignMode::Md5);
        assert_eq!(a, b);
        assert_eq!(a, crate::signing::md5_hex(b"appid1formatjsonk"));
    }

    #[test]
    fn hash_mode_sends_the_secret() {
        assert_eq!(sign(&[("appid", "1")], "s3cret", SignMode::Hash), "s3cret");
        let form = signed_form(&[("appid", "1"), ("car_no", "粤A")], "k", SignMode::Hash);
        assert_eq!(form, "appid=1&car_no=%E7%B2%A4A&sign=k");
    }

    #[test]
    fn every_code_of_the_table_has_its_kind() {
        use VendorErrorKind as K;
        for code in [10001, 10002, 10003, 10004, 10005, 10015, 10017] {
            assert_eq!(kind_of(code), K::InvalidRequest, "{code}");
        }
        for code in [10006, 10008, 10010, 10012, 10020, 10024] {
            assert_eq!(kind_of(code), K::PermissionMissing, "{code}");
        }
        for code in [10011, 10018, 10022] {
            assert_eq!(kind_of(code), K::QuotaExhausted, "{code}");
        }
        assert_eq!(kind_of(10007), K::AccountProblem);
        assert_eq!(kind_of(10009), K::Discontinued);
        assert_eq!(kind_of(10013), K::Discontinued);
        assert_eq!(kind_of(10021), K::VendorInternal);
        assert_eq!(kind_of(10025), K::NotFound);
        for code in [10014, 10019, 10099, -1] {
            assert_eq!(kind_of(code), K::Unknown, "{code}");
        }
        assert!(is_configuration_problem(10003));
        assert!(is_configuration_problem(10024));
        assert!(!is_configuration_problem(10004), "the clock, not the setup");
        assert!(!is_configuration_problem(10018), "quota, said as such");
        assert!(!is_configuration_problem(10021));
    }

    #[test]
    fn envelopes_are_read_whatever_the_number_types() {
        let e = Envelope::read(br#"{"codeid":"10004","message":"m","time":"1557294956"}"#)
            .expect("an envelope");
        assert_eq!(
            (e.code, e.message.as_str(), e.time),
            (10004, "m", Some(1_557_294_956))
        );
        let e = Envelope::read(br#"{"description":"d"}"#).expect("an envelope");
        assert_eq!((e.code, e.message.as_str(), e.time), (-1, "d", None));
        assert!(Envelope::read(b"[1]").is_err());
        assert!(Envelope::read(b"<html>").is_err());
        let long = format!(r#"{{"codeid":10019,"message":"{}"}}"#, "x".repeat(500));
        assert_eq!(
            Envelope::read(long.as_bytes()).expect("ok").message.len(),
            200
        );
    }

    #[test]
    fn the_clock_learns_the_platforms_offset() {
        let clock = PlatformClock::default();
        let before = clock.now();
        assert_eq!(clock.offset_s(), 0);
        let offset = clock.correct(before + 3600);
        assert!((3599..=3601).contains(&offset), "{offset}");
        assert!((clock.now() - before - 3600).abs() <= 1);
    }
}
