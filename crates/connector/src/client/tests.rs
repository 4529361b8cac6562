use super::*;
use crate::error::VendorErrorKind;
use reqwest::header::{HeaderValue, RETRY_AFTER};

#[test]
fn a_declared_gbk_body_is_read_as_utf8() {
    let mut h = HeaderMap::new();
    h.insert(
        reqwest::header::CONTENT_TYPE,
        "application/json; charset=GBK".parse().expect("header"),
    );
    // {"brand":"大众"} in GBK.
    let mut gbk = br#"{"brand":""#.to_vec();
    gbk.extend_from_slice(&[0xB4, 0xF3, 0xD6, 0xDA]);
    gbk.extend_from_slice(br#""}"#);
    let utf8 = declared_charset_to_utf8(&h, gbk.clone());
    assert_eq!(
        String::from_utf8(utf8).expect("utf8"),
        r#"{"brand":"大众"}"#
    );
    // Undeclared: unchanged.
    assert_eq!(
        declared_charset_to_utf8(&HeaderMap::new(), gbk.clone()),
        gbk
    );
}

#[test]
fn urls_in_errors_carry_no_credentials() {
    assert_eq!(
        redact_url("http://a.connapi.com/api/vin/get?key=SECRET"),
        "http://a.connapi.com/api/vin/get"
    );
    assert_eq!(
        redact_url("https://user:pw@vendor.example:8443/x"),
        "https://***@vendor.example:8443/x"
    );
    assert_eq!(
        redact_url("https://u:pa?ss/w@vendor.example/x?key=K"),
        "https://***@vendor.example/x"
    );
    let err = VendorClient::new(
        "test",
        &HttpClientConfig {
            base_url: "https://vendor.example/?key=SECRET".to_owned(),
            ..HttpClientConfig::default()
        },
        &ClientContext::noop(),
    )
    .expect_err("query string refused");
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err}");
    let err = VendorClient::new(
        "test",
        &HttpClientConfig {
            base_url: "https://user:hunter2@vendor.example".to_owned(),
            ..HttpClientConfig::default()
        },
        &ClientContext::noop(),
    )
    .expect_err("credentials in the URL refused");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    // A negative price would make the spend counter go down.
    let err = VendorClient::new(
        "test",
        &HttpClientConfig {
            base_url: "http://127.0.0.1:1".to_owned(),
            cost_per_call: Some(crate::config::CostConfig {
                currency: "CNY".to_owned(),
                amount: -0.5,
            }),
            ..HttpClientConfig::default()
        },
        &ClientContext::noop(),
    )
    .expect_err("negative cost refused");
    assert!(err.to_string().contains("cost_per_call"), "{err}");
}

#[test]
fn retry_after_forms() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
    assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("99999999999999999999"),
    );
    assert_eq!(
        parse_retry_after(&h),
        Some(Duration::from_secs(300)),
        "capped, not ignored"
    );
    h.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
    h.insert(RETRY_AFTER, HeaderValue::from_static("99999"));
    assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(300)));
    h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(parse_retry_after(&h), None);
}

/// A failure recorded by one replica reads back whole on another: variant, fields,
/// durations and the vendor's text.
#[test]
fn failures_round_trip_through_json() {
    let failures = [
        CallFailure {
            error: VendorError::Vendor {
                code: "10019".to_owned(),
                message: "{@info}".to_owned(),
                kind: VendorErrorKind::Unknown,
            },
            attempts: 1,
            sandbox: true,
        },
        CallFailure {
            error: VendorError::Timeout {
                after: Duration::from_millis(2500),
            },
            attempts: 1,
            sandbox: false,
        },
        CallFailure {
            error: VendorError::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
            },
            attempts: 3,
            sandbox: false,
        },
        CallFailure::before_sending(VendorError::DeadlineExceeded),
    ];
    for f in failures {
        let json = serde_json::to_string(&f).expect("serializes");
        let back: CallFailure = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(format!("{back:?}"), format!("{f:?}"), "{json}");
    }
    let json = serde_json::to_value(VendorError::Vendor {
        code: "10025".to_owned(),
        message: "查无数据".to_owned(),
        kind: VendorErrorKind::NotFound,
    })
    .expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({"error": "vendor", "code": "10025", "message": "查无数据", "kind": "not_found"})
    );
}
