//! What a fault rule says, as configured, posted to `/_sandbox/faults` or sent in the
//! `x-sandbox-fault` header, and the checks that need no knowledge of the vendors.

use serde::{Deserialize, Serialize};

/// One fault rule. Empty matchers match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Free text shown in logs and `GET /_sandbox/faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor name, e.g. `connapi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Request path prefix, e.g. `/api/vin/get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// The request parameter `key`, for vendors that have one (connapi: the API key,
    /// compared exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The request parameter `vin`, for vendors that have one (connapi: compared trimmed
    /// and case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// The request's plate, for vendors that take one (the vendors of seed 003's
    /// platform: `car_no`, compared trimmed and case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    /// The md5 (hex) of the image a request carries, for vendors that take one (apihz:
    /// of the decoded base64 `img`, or of the URL text for a remote image), so that a
    /// test can fault one photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_md5: Option<String>,
    /// Chance in 0..=1 that a matching request triggers the rule.
    #[serde(default = "always", skip_serializing_if = "is_always")]
    pub probability: f64,
    /// The rule triggers at most this many times (e.g. "fail twice, then recover").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<FaultAction>,
}

fn always() -> f64 {
    1.0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_always(p: &f64) -> bool {
    (*p - 1.0).abs() < f64::EPSILON
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            name: None,
            vendor: None,
            path_prefix: None,
            key: None,
            vin: None,
            plate: None,
            image_md5: None,
            probability: always(),
            times: None,
            latency: None,
            action: None,
        }
    }
}

/// Added delay before the request is handled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    Fixed {
        ms: u64,
    },
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
    /// Log-normal through the given median and 99th percentile: the long right tail of a
    /// real vendor. Draws are capped at `max_ms` (default 10 × p99) to keep tests bounded.
    LogNormal {
        p50_ms: u64,
        p99_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<u64>,
    },
}

/// What happens instead of (or to) the vendor's normal answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// The vendor's own error answer with this code, in the vendor's own shape.
    VendorCode {
        code: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg: Option<String>,
    },
    /// A gateway-level HTTP error such as 429 or 503, before the vendor logic runs.
    HttpStatus {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// The real answer, cut short: valid HTTP, invalid JSON. Default: half the body.
    Malformed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        truncate_at: Option<usize>,
    },
    /// The real answer, headers at once, then the body `chunk_bytes` at a time every
    /// `interval_ms` (first chunk after one interval).
    SlowBody {
        #[serde(default = "default_chunk")]
        chunk_bytes: usize,
        #[serde(default = "default_interval")]
        interval_ms: u64,
    },
    /// The connection is dropped (TCP RST) after the request is read; no response.
    Reset {},
    /// The real answer with its `Content-Type` replaced by `value` (e.g. `text/html`
    /// for a gateway's error page served with a 200, or no JSON type at all).
    ContentType { value: String },
    /// The real answer re-encoded in `encoding` (a WHATWG label such as `gbk`), its
    /// `Content-Type` declaring `declared` as the charset, or no charset when absent:
    /// the header says one charset, the bytes are in another (older Chinese vendors).
    Charset {
        encoding: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared: Option<String>,
    },
    /// The real (synchronous) answer; the callback the submission leads to misbehaves.
    /// Only for vendors that answer by callback (platecb, apistore).
    Callback { mode: CallbackFault },
}

/// How a callback misbehaves (seed 004's platform delivers up to 4 times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackFault {
    /// The first attempt carries a wrong signature (and other data); the documented
    /// retries carry the genuine delivery.
    BadSignature,
    /// The genuine delivery is sent twice.
    Duplicate,
    /// After the genuine delivery, an older one (earlier `time`, other data, correctly
    /// signed): an out-of-order retry that must not overwrite the answer.
    OutOfOrder,
}

impl CallbackFault {
    /// The name used in the header directive and the delivery log.
    pub fn label(self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::Duplicate => "duplicate",
            Self::OutOfOrder => "out_of_order",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::BadSignature, Self::Duplicate, Self::OutOfOrder]
            .into_iter()
            .find(|m| m.label() == text.trim().replace('-', "_"))
    }
}

pub(crate) fn default_chunk() -> usize {
    16
}

pub(crate) fn default_interval() -> u64 {
    200
}

impl FaultRule {
    /// Checks what the rule says on its own; whether its vendor and parameter matchers
    /// exist is the vendor registry's question.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(format!("probability {} not in 0..=1", self.probability));
        }
        match self.latency {
            Some(Latency::Uniform { min_ms, max_ms }) if min_ms > max_ms => {
                return Err(format!("uniform latency min_ms {min_ms} > max_ms {max_ms}"));
            }
            Some(Latency::LogNormal { p50_ms, p99_ms, .. }) if p50_ms == 0 || p50_ms > p99_ms => {
                return Err(format!(
                    "log_normal latency needs 0 < p50_ms <= p99_ms, got {p50_ms}, {p99_ms}"
                ));
            }
            _ => {}
        }
        match &self.action {
            // A vendor fault is an error answer: 1xx/2xx/3xx would not be read as one
            // (and 1xx is not even a final response).
            Some(FaultAction::HttpStatus { status, .. }) if !(400..=599).contains(status) => {
                Err(format!("invalid HTTP status {status} (want 400-599)"))
            }
            Some(FaultAction::SlowBody { chunk_bytes: 0, .. }) => {
                Err("slow_body chunk_bytes must be > 0".to_owned())
            }
            Some(FaultAction::ContentType { value })
                if axum::http::HeaderValue::from_str(value).is_err() =>
            {
                Err(format!(
                    "content_type `{value}` is not a valid header value"
                ))
            }
            Some(FaultAction::Charset { encoding, declared }) => {
                if encoding_rs::Encoding::for_label(encoding.trim().as_bytes()).is_none() {
                    return Err(format!(
                        "charset encoding `{encoding}` is not a known label"
                    ));
                }
                match declared {
                    Some(d)
                        if d.is_empty()
                            || !d.bytes().all(|b| b.is_ascii_graphic() && b != b';') =>
                    {
                        Err(format!("charset declared `{d}` is not a charset name"))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// The request-parameter matchers the rule sets, by parameter name. Which vendor
    /// has such a parameter, where it reads it from and how it compares it is the
    /// vendor's business.
    pub(crate) fn param_matchers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("key", self.key.as_deref()),
            ("vin", self.vin.as_deref()),
            ("plate", self.plate.as_deref()),
            ("image_md5", self.image_md5.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, want)| want.map(|w| (name, w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let bad = |rule: FaultRule| rule.validate().expect_err("invalid");
        assert!(
            bad(FaultRule {
                probability: 1.5,
                ..FaultRule::default()
            })
            .contains("probability")
        );
        for status in [100, 204, 302, 600, 999] {
            let err = bad(FaultRule {
                action: Some(FaultAction::HttpStatus {
                    status,
                    retry_after_s: None,
                    body: None,
                }),
                ..FaultRule::default()
            });
            assert!(err.contains(&status.to_string()), "{err}");
        }
        assert!(
            bad(FaultRule {
                action: Some(FaultAction::SlowBody {
                    chunk_bytes: 0,
                    interval_ms: 1
                }),
                ..FaultRule::default()
            })
            .contains("chunk_bytes")
        );
        let charset = |encoding: &str, declared: Option<&str>| FaultRule {
            action: Some(FaultAction::Charset {
                encoding: encoding.to_owned(),
                declared: declared.map(str::to_owned),
            }),
            ..FaultRule::default()
        };
        assert!(bad(charset("klingon", None)).contains("klingon"));
        assert!(bad(charset("gbk", Some("utf-8; x"))).contains("not a charset"));
        assert!(charset("GBK", Some("utf-8")).validate().is_ok());
        assert!(
            bad(FaultRule {
                action: Some(FaultAction::ContentType {
                    value: "text/html\n".into()
                }),
                ..FaultRule::default()
            })
            .contains("content_type")
        );
        assert!(FaultRule::default().validate().is_ok());
    }

    #[test]
    fn callback_modes_parse_by_label() {
        for m in [
            CallbackFault::BadSignature,
            CallbackFault::Duplicate,
            CallbackFault::OutOfOrder,
        ] {
            assert_eq!(CallbackFault::parse(m.label()), Some(m));
        }
        assert_eq!(
            CallbackFault::parse("out-of-order"),
            Some(CallbackFault::OutOfOrder)
        );
        assert_eq!(CallbackFault::parse("twice"), None);
        let rule: FaultRule =
            serde_json::from_str(r#"{"action":{"kind":"callback","mode":"duplicate"}}"#)
                .expect("parses");
        assert_eq!(
            rule.action,
            Some(FaultAction::Callback {
                mode: CallbackFault::Duplicate
            })
        );
    }

    #[test]
    fn param_matchers_lists_only_what_is_set() {
        let rule = FaultRule {
            vin: Some("LSV".into()),
            ..FaultRule::default()
        };
        assert_eq!(rule.param_matchers().collect::<Vec<_>>(), [("vin", "LSV")]);
        let rule = FaultRule {
            plate: Some("粤AJ44E6".into()),
            key: Some("k".into()),
            ..FaultRule::default()
        };
        assert_eq!(
            rule.param_matchers().collect::<Vec<_>>(),
            [("key", "k"), ("plate", "粤AJ44E6")]
        );
        assert_eq!(FaultRule::default().param_matchers().count(), 0);
    }
}
