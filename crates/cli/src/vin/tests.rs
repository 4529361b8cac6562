use contracts::axle::common::v1::{BoolFact, Money, MoneyFact, SourceState, SourceStatus};
use contracts::axle::vin::v1::{Country, Make, MakeName, Manufacturer};

use super::*;

fn connapi() -> Provenance {
    Provenance {
        source: "connapi".to_owned(),
        sandbox: true,
        ..Provenance::default()
    }
}

#[test]
fn the_summary_spells_out_money_units_and_flags() {
    let r = DecodeVinResponse {
        summary: Some(VehicleSummary {
            msrp: Some(MoneyFact {
                value: Some(Money {
                    currency_code: "CNY".to_owned(),
                    units: 1_224_300,
                    nanos: 500_000_000,
                }),
                confidence: 0.9,
                provenance: Some(connapi()),
                alternatives: Vec::new(),
            }),
            displacement_ml: Some(Int32Fact {
                value: 3605,
                confidence: 0.9,
                provenance: Some(connapi()),
                alternatives: Vec::new(),
            }),
            is_import: Some(BoolFact {
                value: false,
                confidence: 0.9,
                provenance: Some(connapi()),
                alternatives: Vec::new(),
            }),
            ..VehicleSummary::default()
        }),
        sources: vec![SourceStatus {
            source: "connapi".to_owned(),
            state: SourceState::Ok as i32,
            sandbox: true,
            ..SourceStatus::default()
        }],
        ..DecodeVinResponse::default()
    };
    let out = describe_decode(&r, SystemTime::UNIX_EPOCH);
    for line in [
        "  MSRP           CNY 1,224,300.50  (0.90, connapi [sandbox])",
        "  displacement   3605 ml  (0.90, connapi [sandbox])",
        "  imported       no, built in China  (0.90, connapi [sandbox])",
        "  connapi     OK [sandbox]",
    ] {
        assert!(out.contains(line), "{line:?} missing from\n{out}");
    }
}

#[test]
fn a_country_without_names_leaves_no_empty_brackets() {
    let r = ValidateVinResponse {
        normalized_vin: "LSVAG2180E2100010".to_owned(),
        country: Some(Country {
            code: "CN".to_owned(),
            ..Country::default()
        }),
        ..ValidateVinResponse::default()
    };
    let out = describe_validation(&r);
    assert!(out.contains("Country      CN\n"), "{out}");
    let r = ValidateVinResponse {
        country: Some(Country {
            code: "CN".to_owned(),
            name: "China".to_owned(),
            name_zh: "中国".to_owned(),
        }),
        region: "Asia".to_owned(),
        ..r
    };
    assert!(describe_validation(&r).contains("Country      CN (China / 中国), Asia\n"));
}

#[test]
fn the_make_is_shown_in_both_languages_or_as_the_possible_makes() {
    let r = ValidateVinResponse {
        normalized_vin: "1G1ZD5ST0JF123456".to_owned(),
        manufacturer: Some(Manufacturer {
            wmi: "1G1".to_owned(),
            name: "General Motors".to_owned(),
            legal_name: "GENERAL MOTORS LLC".to_owned(),
            release: "vPIC 2026-10".to_owned(),
            ..Manufacturer::default()
        }),
        make: Some(Make {
            name: "Chevrolet".to_owned(),
            name_zh: "雪佛兰".to_owned(),
            basis: MakeBasis::Wmi as i32,
            ..Make::default()
        }),
        ..ValidateVinResponse::default()
    };
    let out = describe_validation(&r);
    assert!(
        out.contains("Manufacturer General Motors  [WMI 1G1]\n  legal name GENERAL MOTORS LLC  (vPIC 2026-10)\n"),
        "{out}"
    );
    assert!(
        out.contains("Make         Chevrolet / 雪佛兰  [by WMI]\n"),
        "{out}"
    );
    let name = |en: &str, zh: &str| MakeName {
        name: en.to_owned(),
        name_zh: zh.to_owned(),
        name_zh_latin: false,
    };
    let r = ValidateVinResponse {
        make: Some(Make {
            candidates: vec![
                name("Volkswagen", "大众"),
                name("Audi", "奥迪"),
                MakeName {
                    name_zh_latin: true,
                    ..name("Rizon", "Rizon")
                },
                name("MINI", "MINI"),
            ],
            basis: MakeBasis::Wmi as i32,
            ..Make::default()
        }),
        ..r
    };
    let out = describe_validation(&r);
    assert!(
        out.contains("Make         one of Volkswagen / 大众, Audi / 奥迪, Rizon (no Chinese name in use), MINI  [by WMI]\n"),
        "{out}"
    );
    let r = ValidateVinResponse {
        make: Some(Make {
            name: "Forest River".to_owned(),
            name_zh: "Forest River".to_owned(),
            name_zh_latin: true,
            basis: MakeBasis::Wmi as i32,
            ..Make::default()
        }),
        ..r
    };
    let out = describe_validation(&r);
    assert!(
        out.contains("Make         Forest River (no Chinese name in use)  [by WMI]\n"),
        "{out}"
    );
}

#[tokio::test]
async fn a_refused_connection_says_tcp_connect_error_once() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let e = super::channel(&format!("127.0.0.1:{port}"), "vin-service")
        .await
        .expect_err("refused");
    let text = crate::render::error_chain(&e);
    assert_eq!(text.matches("tcp connect error").count(), 1, "{text}");
    assert!(text.starts_with("cannot reach vin-service"), "{text}");
}
