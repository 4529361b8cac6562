//! ValidateVin through the generated client: local only, malformed VINs are answers.

mod common;

use contracts::axle::vin::v1::{
    CheckDigitState, ModelYearBasis, ValidateVinRequest, VinProblemKind,
};
use tonic::Code;
use tonic_types::StatusExt;

async fn validate(
    s: &mut common::Suite,
    vin: &str,
) -> Result<contracts::axle::vin::v1::ValidateVinResponse, tonic::Status> {
    s.client
        .validate_vin(ValidateVinRequest {
            vin: vin.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn real_vins_of_every_region_not_in_the_fixtures() {
    let mut s = common::suite(|_| {}).await;
    // (VIN, valid, country, check digit state, model year)
    let cases = [
        (
            "WP0AA2978BL012976",
            true,
            "DE",
            CheckDigitState::Valid,
            2011,
        ),
        (
            "1HGCM82633A004352",
            true,
            "US",
            CheckDigitState::Valid,
            2003,
        ),
        (
            "1M8GDM9AXKP042788",
            true,
            "US",
            CheckDigitState::Valid,
            1989,
        ),
        (
            "WDB1240821F123456",
            true,
            "DE",
            CheckDigitState::NotUsed,
            2001,
        ),
        (
            "LSVNV2180E2100001",
            false,
            "CN",
            CheckDigitState::Invalid,
            2014,
        ),
    ];
    for (vin, valid, country, cd, year) in cases {
        let r = validate(&mut s, vin).await.expect("answer, not error");
        assert_eq!(r.valid, valid, "{vin}: {:?}", r.problems);
        assert_eq!(
            r.country.as_ref().map(|c| c.code.as_str()),
            Some(country),
            "{vin}"
        );
        assert_eq!(
            r.check_digit.as_ref().map(|c| c.state),
            Some(cd as i32),
            "{vin}"
        );
        assert_eq!(r.model_year.as_ref().map(|y| y.year), Some(year), "{vin}");
    }
    // A Chinese VIN with its computed check digit is valid and names its maker.
    let vin = with_check_digit("LSVNV2180E2100001");
    let r = validate(&mut s, &vin).await.expect("answer");
    assert!(r.valid, "{:?}", r.problems);
    let m = r.manufacturer.expect("manufacturer");
    assert_eq!(m.name_zh, "上汽大众");
    assert!(
        m.provenance
            .is_some_and(|p| p.local && p.rule == "china-wmi-overlay")
    );
    let y = r.model_year.expect("year");
    assert_eq!(y.basis, ModelYearBasis::MostRecent as i32);
    // SAIC Volkswagen builds two makes and no public source says how its VDS tells them
    // apart: both are listed, none guessed.
    let make = r.make.expect("make");
    assert!(make.name.is_empty());
    let zh: Vec<&str> = make.candidates.iter().map(|c| c.name_zh.as_str()).collect();
    assert_eq!(zh, ["大众", "斯柯达"]);
}

#[tokio::test]
async fn the_make_is_the_brand_not_the_group() {
    let mut s = common::suite(|_| {}).await;
    // A Jeep Cherokee and a Dodge Charger, both FCA US WMIs shared by several makes: the
    // VDS decides. A Chevrolet from GM's 1G1. A Lincoln.
    for (vin, en, zh, manufacturer) in [
        ("1C4PJMCB5GW123456", "Jeep", "吉普", "FCA US"),
        ("2C3CDXCT5HH123456", "Dodge", "道奇", "FCA Canada"),
        ("1G1ZD5ST0JF123456", "Chevrolet", "雪佛兰", "General Motors"),
        ("5LMCJ3D95HU123456", "Lincoln", "林肯", "Ford Motor"),
    ] {
        let r = validate(&mut s, vin).await.expect("answer");
        let m = r.make.expect("make");
        assert_eq!((m.name.as_str(), m.name_zh.as_str()), (en, zh), "{vin}");
        let p = m.provenance.expect("provenance");
        assert!(p.local && p.rule.starts_with("vpic-"), "{vin}: {p:?}");
        let maker = r.manufacturer.expect("manufacturer");
        assert_eq!(maker.name, manufacturer, "{vin}");
        assert_eq!(maker.release, "vPIC 2026-10");
        assert!(!maker.legal_name.is_empty());
    }
}

#[tokio::test]
async fn typos_are_answers_with_positions_and_suggestions() {
    let mut s = common::suite(|_| {}).await;
    let r = validate(&mut s, "wpoaa2978bl012976").await.expect("answer");
    assert!(!r.valid);
    assert_eq!(r.normalized_vin, "WPOAA2978BL012976");
    let p = &r.problems[0];
    assert_eq!(
        (p.position, p.kind),
        (3, VinProblemKind::ForbiddenLetter as i32)
    );
    assert_eq!(p.suggestion, "replace O with 0");
    assert_eq!(r.suggested_vin, "WP0AA2978BL012976");

    let r = validate(&mut s, "1HGCM82643A004352").await.expect("answer");
    assert!(!r.valid);
    let cd = r.check_digit.expect("check digit");
    assert_eq!(
        (cd.expected.as_str(), cd.actual.as_str(), cd.mandatory),
        ("3", "4", true)
    );

    let r = validate(&mut s, "1HGCM8263")
        .await
        .expect("short VIN is an answer");
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == VinProblemKind::WrongLength as i32)
    );
}

#[tokio::test]
async fn empty_or_absurd_input_is_invalid_argument_with_a_field_violation() {
    let mut s = common::suite(|_| {}).await;
    for input in ["", "   ", "---", "\u{FEFF}", &"A".repeat(65)] {
        let err = validate(&mut s, input).await.expect_err("invalid argument");
        assert_eq!(err.code(), Code::InvalidArgument, "{input:?}");
        let details = err.get_error_details();
        let bad = details.bad_request().expect("BadRequest detail");
        assert_eq!(bad.field_violations[0].field, "vin");
        assert!(!bad.field_violations[0].description.is_empty());
    }
}

#[tokio::test]
async fn validate_never_calls_a_vendor() {
    let mut s = common::suite(|_| {}).await;
    validate(&mut s, "WP0AA2978BL012976").await.expect("answer");
    assert_eq!(
        common::total_calls(&s.sandbox_url).await,
        0,
        "ValidateVin must not call vendors"
    );
}

fn with_check_digit(vin: &str) -> String {
    let mut b = vin.as_bytes().to_vec();
    b[8] = domain::vin::compute_check_digit(vin).expect("valid") as u8;
    String::from_utf8(b).expect("ascii")
}
