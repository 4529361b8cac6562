//! How the platform reads a submission and lets it in: the parameters as PHP's
//! `$_REQUEST` has them, then, in this order, `appid` present (10001), `sign` present
//! (10002), `appid` known (10005), the signature in the app's mode (10003), and `time`
//! an integer (10017) within 10 minutes of the platform's clock (10004). What a vendor
//! checks after that is its own.
//!
//! `time` is optional (10004: 可以不传递这个参数), and an empty one is as good as none:
//! empty values take no part in the signature either (空值不参与加密).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

use crate::config::SignMode;
use crate::faults::matching::{Compare, Matcher, ParamFact};
use crate::params::{Params, form_params};
use crate::signing;
use crate::vendor::RequestView;

/// Seed 003's 10004: 时差不能超过10分钟.
pub(crate) const MAX_DRIFT_S: u64 = 600;

/// Fault rules may match the platform's vehicles by plate (`car_no`), compared trimmed
/// and case-insensitively.
pub(crate) const MATCHERS: &[Matcher] = &[Matcher {
    name: "plate",
    compare: Compare::Loose,
}];

/// The host's clock, Unix seconds.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The parameters of a submission, as a handler's extractor: the query string, then for
/// a POST the form body (later duplicates win, as in `$_REQUEST`). The platform is PHP:
/// a POST body without the form content type (seed 003: POST 请求需要设置Header头
/// Content-Type: application/x-www-form-urlencoded) is not read.
#[derive(Debug)]
pub(crate) struct Submitted(pub(crate) Params);

impl<S: Send + Sync> FromRequest<S> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (method, uri, headers) = (
            req.method().clone(),
            req.uri().clone(),
            req.headers().clone(),
        );
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(form_params(&method, uri.query(), &headers, &body)))
    }
}

/// The plate fault rules match on, read as the vendor reads it.
pub(crate) fn fault_params(req: &RequestView<'_>) -> Vec<ParamFact> {
    let params = form_params(req.method, req.query, req.headers, req.body);
    MATCHERS
        .iter()
        .map(|&matcher| ParamFact {
            matcher,
            value: params.get("car_no").map(str::to_owned),
        })
        .collect()
}

/// How an app signs: its secret and its 验证方式.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub(crate) secret: &'a str,
    pub(crate) mode: SignMode,
}

/// The platform's gate (see the module comment). `find` looks an appid up and returns
/// the vendor's app with its credentials; `now` is the platform's clock in Unix seconds.
/// The error is the platform's code.
pub(crate) fn authenticate<'a, A>(
    params: &Params,
    find: impl FnOnce(&str) -> Option<(A, Credentials<'a>)>,
    now: u64,
) -> Result<A, i64> {
    let appid = non_empty(params, "appid").ok_or(10001)?;
    let sign = non_empty(params, "sign").ok_or(10002)?;
    let (app, creds) = find(appid).ok_or(10005)?;
    let signed = match creds.mode {
        SignMode::Md5 => {
            let pairs: Vec<(&str, &str)> = params
                .pairs()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            signing::sign_matches(
                sign,
                &signing::sorted_pairs_then_secret(&pairs, creds.secret),
            )
        }
        SignMode::Hash => signing::secret_matches(sign, creds.secret),
    };
    if !signed {
        return Err(10003);
    }
    if let Some(t) = non_empty(params, "time") {
        let t: u64 = t.parse().map_err(|_| 10017)?;
        if now.abs_diff(t) > MAX_DRIFT_S {
            return Err(10004);
        }
    }
    Ok(app)
}

/// A parameter's last value, when it is not empty.
pub(crate) fn non_empty<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params.get(name).filter(|v| !v.is_empty())
}

/// A plate without the separators a caller may leave in it. Case is kept: `car_no`
/// 必须大写 (seed 003 line 38) documents no answer for lower case, so a vendor looks a
/// lower-case plate up as sent, finds nothing, and answers 10025 查无数据.
pub(crate) fn plate_key(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '-' | '•'))
        .collect()
}

/// Every submitted parameter as a JSON object (the last of duplicates), for a callback's
/// `request`: seed 004 says custom parameters come back there, so a receiver can
/// correlate by one of its own.
pub(crate) fn request_echo(params: &Params) -> String {
    let mut echo = serde_json::Map::new();
    for (k, v) in params.pairs() {
        echo.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    serde_json::Value::Object(echo).to_string()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};

    use super::*;

    const SECRET: &str = "s3cret";

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::of(pairs)
    }

    fn gate(p: &Params, mode: SignMode, now: u64) -> Result<(), i64> {
        authenticate(
            p,
            |appid| {
                (appid == "1").then_some((
                    (),
                    Credentials {
                        secret: SECRET,
                        mode,
                    },
                ))
            },
            now,
        )
    }

    /// `pairs` plus their MD5-mode signature.
    fn md5_signed(pairs: &[(&str, &str)]) -> Params {
        let sign = signing::sorted_pairs_then_secret(pairs, SECRET);
        let mut all = pairs.to_vec();
        all.push(("sign", &sign));
        params(&all)
    }

    #[test]
    fn the_gate_answers_in_the_platforms_order() {
        let now = 1_700_000_000;
        assert_eq!(
            gate(&params(&[("sign", "x")]), SignMode::Md5, now),
            Err(10001)
        );
        assert_eq!(
            gate(&params(&[("appid", "1")]), SignMode::Md5, now),
            Err(10002)
        );
        assert_eq!(
            gate(
                &params(&[("appid", "9"), ("sign", "x")]),
                SignMode::Md5,
                now
            ),
            Err(10005)
        );
        assert_eq!(
            gate(
                &params(&[("appid", "1"), ("sign", "x")]),
                SignMode::Md5,
                now
            ),
            Err(10003)
        );
        // A bad signature is found before a bad time.
        assert_eq!(
            gate(
                &params(&[("appid", "1"), ("time", "soon"), ("sign", "x")]),
                SignMode::Md5,
                now
            ),
            Err(10003)
        );
        let ok = md5_signed(&[("appid", "1"), ("car_no", "粤AJ44E6")]);
        assert_eq!(gate(&ok, SignMode::Md5, now), Ok(()));
        // The same parameters in Hash mode are not signed with the secret itself.
        assert_eq!(gate(&ok, SignMode::Hash, now), Err(10003));
    }

    #[test]
    fn time_is_optional_an_integer_and_within_ten_minutes() {
        let now = 1_700_000_000_u64;
        let at = |t: &str| {
            gate(
                &md5_signed(&[("appid", "1"), ("time", t)]),
                SignMode::Md5,
                now,
            )
        };
        assert_eq!(at(""), Ok(()), "empty is as good as absent");
        assert_eq!(at(&now.to_string()), Ok(()));
        assert_eq!(
            at(&(now - 600).to_string()),
            Ok(()),
            "10 minutes is allowed"
        );
        assert_eq!(at(&(now + 600).to_string()), Ok(()));
        assert_eq!(at(&(now - 601).to_string()), Err(10004));
        assert_eq!(at(&(now + 601).to_string()), Err(10004));
        for bad in ["soon", "1.7e9", "-5", "1700000000.5", "0x10"] {
            assert_eq!(at(bad), Err(10017), "{bad}");
        }
        // Milliseconds are an integer, but 1000 times too far in the future.
        assert_eq!(at(&(now * 1000).to_string()), Err(10004));
    }

    #[test]
    fn hash_mode_sends_the_secret_itself() {
        let now = 1;
        let with = |sign: &str| params(&[("appid", "1"), ("car_no", "粤AJ44E6"), ("sign", sign)]);
        assert_eq!(gate(&with(SECRET), SignMode::Hash, now), Ok(()));
        assert_eq!(gate(&with("S3CRET"), SignMode::Hash, now), Err(10003));
        assert_eq!(gate(&with(" s3cret"), SignMode::Hash, now), Err(10003));
        let md5 =
            signing::sorted_pairs_then_secret(&[("appid", "1"), ("car_no", "粤AJ44E6")], SECRET);
        assert_eq!(gate(&with(&md5), SignMode::Hash, now), Err(10003));
    }

    #[test]
    fn fault_rules_see_the_plate_where_the_platform_reads_it() {
        let form = {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(
                    "application/x-www-form-urlencoded;charset=utf-8",
                ),
            );
            h
        };
        let plate = |method: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]| {
            fault_params(&RequestView {
                method,
                query,
                headers,
                body,
            })[0]
                .value
                .clone()
        };
        let bare = HeaderMap::new();
        let q = Some("car_no=%E7%B2%A4AJ44E6");
        assert_eq!(plate(&Method::GET, q, &bare, b""), Some("粤AJ44E6".into()));
        assert_eq!(
            plate(&Method::POST, None, &form, "car_no=粤B12345".as_bytes()),
            Some("粤B12345".into())
        );
        // The body wins over the query, like `$_REQUEST`; without the form content
        // type a body is not read.
        assert_eq!(
            plate(&Method::POST, q, &form, b"car_no=X"),
            Some("X".into())
        );
        assert_eq!(plate(&Method::POST, None, &bare, b"car_no=X"), None);
    }

    #[test]
    fn plates_keep_their_case() {
        assert_eq!(plate_key(" 粤B·12345 "), "粤B12345");
        assert_eq!(plate_key("粤b12345"), "粤b12345");
    }

    #[test]
    fn the_echo_keeps_the_last_of_duplicates() {
        let echo: serde_json::Value = serde_json::from_str(&request_echo(&params(&[
            ("a", "1"),
            ("my_ref", "x y"),
            ("a", "2"),
        ])))
        .expect("JSON");
        assert_eq!(echo, serde_json::json!({"a": "2", "my_ref": "x y"}));
    }
}
