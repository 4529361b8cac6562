use std::time::Duration;

use contracts::axle::common::v1::{
    Alternative, Disagreement, Money, MoneyFact, SourceState, SourceStatus,
};
use contracts::axle::plate::v1::{IssuingAuthority, VehicleDetails};

use super::*;

fn fact(value: &str, confidence: f32, source: &str) -> StringFact {
    StringFact {
        value: value.to_owned(),
        confidence,
        provenance: Some(Provenance {
            source: source.to_owned(),
            sandbox: true,
            ..Provenance::default()
        }),
        alternatives: Vec::new(),
    }
}

#[test]
fn lookup_summary_names_sources_disagreements_and_bad_vins() {
    let r = LookupVehicleResponse {
        vin: Some(fact("LSJ**********3456", 0.3, "xiaoshibao")),
        vin_valid: Some(false),
        brand: Some(fact("一汽-大众", 0.5, "xiaoshibao")),
        disagreements: vec![Disagreement {
            field: "brand".to_owned(),
            chosen_source: "xiaoshibao".to_owned(),
            chosen_value: "一汽-大众".to_owned(),
            values: vec![Alternative {
                value: "大众".to_owned(),
                provenance: fact("", 0.0, "platecb").provenance,
                confidence: 0.85,
                rejected_reason: String::new(),
            }],
        }],
        ..LookupVehicleResponse::default()
    };
    let out = describe_lookup(&r, SystemTime::UNIX_EPOCH);
    assert!(
        out.contains("LSJ**********3456  (0.30, xiaoshibao, sandbox)"),
        "{out}"
    );
    assert!(out.contains("fails the VIN rules"), "{out}");
    assert!(
        out.contains(
            "Disagreement brand: chose 一汽-大众 from xiaoshibao; platecb, sandbox says 大众 (0.85)"
        ),
        "{out}"
    );
    let r = LookupVehicleResponse {
        vin: Some(fact("LFV**********2345", 0.85, "platecb")),
        vin_valid: Some(true),
        ..LookupVehicleResponse::default()
    };
    assert!(!describe_lookup(&r, SystemTime::UNIX_EPOCH).contains("fails the VIN rules"));
}

fn authority(province: &str, city: &str, pinyin: &str, abbreviation: &str) -> IssuingAuthority {
    IssuingAuthority {
        province: province.to_owned(),
        province_abbreviation: abbreviation.to_owned(),
        city: city.to_owned(),
        city_pinyin: pinyin.to_owned(),
        division_code: "310000".to_owned(),
        letter: "A".to_owned(),
        note: String::new(),
    }
}

#[test]
fn a_municipality_is_named_once() {
    let r = ParsePlateResponse {
        valid: true,
        normalized_plate: "沪A12345".to_owned(),
        issuing_authority: Some(authority("上海市", "上海市", "Shanghai", "沪")),
        ..ParsePlateResponse::default()
    };
    let out = describe(&r);
    assert!(
        out.contains("Issued by    上海市 (Shanghai), 沪A [310000]"),
        "{out}"
    );
    assert!(!out.contains("上海市 上海市"), "{out}");
    let r = ParsePlateResponse {
        issuing_authority: Some(authority("广东省", "深圳市", "Shenzhen", "粤")),
        ..r
    };
    assert!(describe(&r).contains("Issued by    广东省 深圳市 (Shenzhen), 粤A"));
}

#[test]
fn the_guide_price_reads_as_money() {
    let price = |units| MoneyFact {
        value: Some(Money {
            currency_code: "CNY".to_owned(),
            units,
            nanos: 0,
        }),
        confidence: 0.85,
        provenance: fact("", 0.0, "platecb").provenance,
        alternatives: Vec::new(),
    };
    let r = LookupVehicleResponse {
        details: Some(VehicleDetails {
            guide_price_10k_cny: Some(fact("12.99", 0.85, "platecb")),
            guide_price: Some(price(129_900)),
            ..VehicleDetails::default()
        }),
        ..LookupVehicleResponse::default()
    };
    let out = describe_lookup(&r, SystemTime::UNIX_EPOCH);
    assert!(
        out.contains("Guide price  CNY 129,900.00 (12.99 万元)  (0.85, platecb, sandbox)"),
        "{out}"
    );
    assert!(!out.contains("10kCNY"), "{out}");
    // A quote that did not convert is still shown, with its unit.
    let r = LookupVehicleResponse {
        details: Some(VehicleDetails {
            guide_price_10k_cny: Some(fact("12.99-15.99", 0.85, "platecb")),
            ..VehicleDetails::default()
        }),
        ..LookupVehicleResponse::default()
    };
    assert!(
        describe_lookup(&r, SystemTime::UNIX_EPOCH)
            .contains("Guide price  12.99-15.99 万元  (0.85, platecb, sandbox)")
    );
}

#[test]
fn a_stored_answer_says_its_date_not_unix_seconds() {
    let received = 1_735_787_045;
    let mut vin = fact("LFV**********2345", 0.85, "platecb");
    if let Some(p) = vin.provenance.as_mut() {
        p.fetched_at = Some(prost_types::Timestamp {
            seconds: received,
            nanos: 0,
        });
    }
    let r = LookupVehicleResponse {
        vin: Some(vin),
        sources: vec![SourceStatus {
            source: "platecb".to_owned(),
            state: SourceState::Ok as i32,
            message: "answered from the callback store; no new charge".to_owned(),
            ..SourceStatus::default()
        }],
        ..LookupVehicleResponse::default()
    };
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(received).expect("positive") + 2 * 86_400);
    let out = describe_lookup(&r, now);
    assert!(
        out.contains("platecb     OK, answer of 2025-01-02 03:04:05 UTC (2 days old)"),
        "{out}"
    );
    assert!(!out.contains(&received.to_string()), "{out}");
    // A stored answer that won no field: its date comes from its alternatives.
    let r = LookupVehicleResponse {
        vin: Some(fact("LSV**********3456", 0.9, "xiaoshibao")),
        disagreements: vec![Disagreement {
            field: "vin".to_owned(),
            chosen_source: "xiaoshibao".to_owned(),
            chosen_value: "LSV**********3456".to_owned(),
            values: vec![Alternative {
                value: "LFV**********2345".to_owned(),
                provenance: r.vin.and_then(|f| f.provenance),
                confidence: 0.85,
                rejected_reason: String::new(),
            }],
        }],
        ..r
    };
    assert!(
        describe_lookup(&r, now).contains("answer of 2025-01-02 03:04:05 UTC"),
        "{}",
        describe_lookup(&r, now)
    );
}
