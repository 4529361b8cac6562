//! Reading a vendor's HTTP answer the same way for every vendor: transport-level
//! statuses, Retry-After, and the charset the body declares.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{Classification, RawResponse};
use crate::error::VendorError;

/// Transport-level statuses, the same for every vendor: 408/429/5xx are retryable and
/// honour Retry-After; 401/403 are credential problems; other 4xx are final. `None` for
/// 2xx (the connector reads the body).
pub fn classify_http_status(resp: &RawResponse) -> Option<VendorError> {
    let retry_after = parse_retry_after(&resp.headers);
    match resp.status {
        200..=299 => None,
        429 => Some(VendorError::RateLimited { retry_after }),
        408 | 500..=599 => Some(VendorError::Unavailable {
            status: resp.status,
            retry_after,
        }),
        401 | 403 => Some(VendorError::Auth {
            detail: format!("HTTP {}", resp.status),
        }),
        status => Some(VendorError::HttpStatus { status }),
    }
}

/// Converts a transport-level error into the retry decision `execute` expects.
pub fn retry_or_fail<T>(err: VendorError) -> Classification<T> {
    if err.is_retryable() {
        Classification::Retry {
            after: err.retry_after(),
            error: err,
        }
    } else {
        Classification::Fail(err)
    }
}

/// `Retry-After` as delay-seconds or HTTP-date (RFC 9110 §10.2.3), capped at 5 minutes
/// so a vendor cannot park our request forever.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Any run of digits is seconds; one too long for u64 is simply "long".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX).min(300))
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    Some(delay.min(Duration::from_secs(300)))
}

/// A body in the charset its Content-Type declares (older Chinese vendors answer in
/// GBK / GB18030 and say so), as UTF-8, which every transformer reads. Undeclared or
/// UTF-8 bodies are returned unchanged; undecodable bytes become U+FFFD. Public so that
/// the fuzz targets (`fuzz/`) read a body exactly as a connector receives it.
pub fn declared_charset_to_utf8(headers: &HeaderMap, body: Vec<u8>) -> Vec<u8> {
    let label = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
        });
    match label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
        Some(enc) if enc != encoding_rs::UTF_8 => enc.decode(&body).0.into_owned().into_bytes(),
        _ => body,
    }
}
