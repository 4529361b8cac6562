//! The registry as a whole: every vendor answers the trait's questions in its own way.

use axum::http::StatusCode;
use serde_json::Value;

use super::Registry;
use crate::config::SandboxConfig;
use crate::vendor::VendorCode;

fn registry() -> Registry {
    Registry::build(&SandboxConfig::default()).expect("defaults build")
}

#[test]
fn names_are_unique_and_paths_documented() {
    let r = registry();
    let names: Vec<&str> = r.iter().map(|v| v.name()).collect();
    assert_eq!(
        names,
        ["connapi", "xiaoshibao", "platecb", "apistore", "apihz"]
    );
    for v in r.iter() {
        let paths = v.paths();
        assert!(!paths.is_empty(), "{}", v.name());
        assert!(paths.iter().all(|p| p.starts_with('/')), "{paths:?}");
        if let Some(alias) = v.alias_prefix() {
            assert!(
                paths.iter().any(|p| p.starts_with(alias)),
                "{}: alias {alias} serves no path",
                v.name()
            );
        }
    }
}

#[tokio::test]
async fn an_injected_code_is_each_vendors_own_answer() {
    for v in registry().iter() {
        let res = v.error_response(503, Some("injected text"));
        assert_eq!(
            res.extensions().get::<VendorCode>(),
            Some(&VendorCode(503)),
            "{}: counted by its code",
            v.name()
        );
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
            .await
            .expect("body");
        let json: Value = serde_json::from_slice(&body).expect("JSON like the vendor");
        let (code, text) = match v.name() {
            // HTTP 200, code in the body (seed 001).
            "connapi" => {
                assert_eq!(status, StatusCode::OK);
                assert!(json["data"].is_null());
                (&json["code"], &json["msg"])
            }
            // The HTTP status is the code (seed 000).
            "xiaoshibao" => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert!(json["data"].is_null());
                (&json["code"], &json["message"])
            }
            // HTTP 200, `codeid` (seed 003).
            "platecb" => {
                assert_eq!(status, StatusCode::OK);
                (&json["codeid"], &json["message"])
            }
            // The same platform, with its clock in `time` as in all its answers.
            "apistore" => {
                assert_eq!(status, StatusCode::OK);
                assert!(
                    json["time"]
                        .as_str()
                        .is_some_and(|t| t.parse::<u64>().is_ok())
                );
                (&json["codeid"], &json["message"])
            }
            // HTTP 200, `code` and `msg` in the body (seed 002; the vendor's own are 400).
            "apihz" => {
                assert_eq!(status, StatusCode::OK);
                (&json["code"], &json["msg"])
            }
            other => panic!("{other}: say here what its error answer looks like"),
        };
        assert_eq!(
            (code.as_i64(), text.as_str()),
            (Some(503), Some("injected text"))
        );
    }
}

#[test]
fn rules_are_checked_against_the_registry() {
    let r = registry();
    let rule = |json: &str| serde_json::from_str(json).expect("rule JSON");
    assert!(r.check_rule(&rule(r#"{"vin": "X"}"#)).is_ok());
    assert!(
        r.check_rule(&rule(r#"{"vendor": "connapi", "key": "k"}"#))
            .is_ok()
    );
    assert!(r.check_rule(&rule(r#"{"vendor": "platecb"}"#)).is_ok());
    // The platform's vendors read `plate` from `car_no`; the others have none.
    for vendor in ["platecb", "apistore"] {
        let ok = format!(r#"{{"vendor": "{vendor}", "plate": "粤AJ44E6"}}"#);
        assert!(r.check_rule(&rule(&ok)).is_ok(), "{vendor}");
    }
    let err = r
        .check_rule(&rule(r#"{"vendor": "connapi", "plate": "粤AJ44E6"}"#))
        .expect_err("connapi has no plate");
    assert!(err.contains("platecb, apistore"), "{err}");
    let err = r
        .check_rules(&[rule("{}"), rule(r#"{"vendor": "xiaoshibao", "vin": "X"}"#)])
        .expect_err("xiaoshibao has no vin");
    assert!(
        err.starts_with("fault rule #1: vendor `xiaoshibao` has no `vin`"),
        "{err}"
    );
    let err = r
        .check_rule(&rule(r#"{"vendor": "connnapi"}"#))
        .expect_err("typo");
    assert!(
        err.contains("connapi, xiaoshibao, platecb, apistore"),
        "{err}"
    );
}

#[test]
fn callback_faults_need_a_vendor_that_answers_by_callback() {
    use crate::faults::{CallbackFault, FaultAction, FaultRule};
    let r = registry();
    let rule = |vendor: Option<&str>| FaultRule {
        vendor: vendor.map(str::to_owned),
        action: Some(FaultAction::Callback {
            mode: CallbackFault::Duplicate,
        }),
        ..FaultRule::default()
    };
    assert!(r.check_rule(&rule(Some("platecb"))).is_ok());
    assert!(r.check_rule(&rule(Some(" APIstore "))).is_ok());
    for bad in [None, Some("connapi"), Some("xiaoshibao")] {
        let err = r.check_rule(&rule(bad)).expect_err("never shows");
        assert!(err.contains("platecb, apistore"), "{err}");
    }
}
