use super::*;
use contracts::axle::plate::v1::{UsageNature, VehicleDetails};
use contracts::axle::vin::v1::VehicleSummary;
use proptest::prelude::*;

const VIN: &str = "LNBSCC3H8GF308384";

fn prov(source: &str) -> Provenance {
    Provenance {
        source: source.to_owned(),
        ..Provenance::default()
    }
}

fn text(value: &str, source: &str, conf: f32, alts: &[(&str, &str, f32, &str)]) -> StringFact {
    StringFact {
        value: value.to_owned(),
        confidence: conf,
        provenance: Some(prov(source)),
        alternatives: alts
            .iter()
            .map(|(v, s, c, r)| Alternative {
                value: (*v).to_owned(),
                provenance: Some(prov(s)),
                confidence: *c,
                rejected_reason: (*r).to_owned(),
            })
            .collect(),
    }
}

fn policy() -> MergePolicy {
    crate::config::default_merge_policy()
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH
}

fn decode(brand: &str) -> DecodeVinResponse {
    DecodeVinResponse {
        summary: Some(VehicleSummary {
            brand: Some(text(brand, "connapi", 0.9, &[])),
            model_year: Some(Int32Fact {
                value: 2016,
                confidence: 0.95,
                provenance: Some(prov("local")),
                alternatives: Vec::new(),
            }),
            ..VehicleSummary::default()
        }),
        ..DecodeVinResponse::default()
    }
}

fn lookup(vin: &str, brand: &str) -> LookupVehicleResponse {
    LookupVehicleResponse {
        vin: Some(text(vin, "xiaoshibao", 0.8, &[])),
        brand: Some(text(
            brand,
            "xiaoshibao",
            0.8,
            &[("宝马", "platecb", 0.7, "")],
        )),
        usage: Some(UsageNature {
            original_text: "非营运".to_owned(),
            confidence: 0.8,
            provenance: Some(prov("xiaoshibao")),
            ..UsageNature::default()
        }),
        details: Some(VehicleDetails {
            fuel_type: Some(text("汽油", "platecb", 0.7, &[])),
            ..VehicleDetails::default()
        }),
        ..LookupVehicleResponse::default()
    }
}

fn reveal() -> Privacy {
    Privacy {
        reveal_full_vin: true,
        reveal_engine_number: true,
    }
}

#[test]
fn sources_agree_across_services_and_raise_confidence() {
    let known = Known {
        plate: Some("粤B12345".to_owned()),
        ..Known::default()
    };
    let answers = Answers {
        decode_vin: Some(decode("大众")),
        lookup: Some(lookup(VIN, "大众")),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &known,
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let brand = p.brand.expect("brand");
    assert_eq!(brand.value, "大众");
    assert_eq!(
        brand.provenance.expect("prov").source,
        "connapi",
        "VIN vendors first"
    );
    // platecb said 宝马: listed, with the disagreement, and the confidence is lowered.
    assert!(
        brand.confidence < 0.9,
        "disagreement lowers: {}",
        brand.confidence
    );
    assert_eq!(brand.alternatives.len(), 1);
    assert!(
        d.iter()
            .any(|x| x.field == "brand" && x.chosen_source == "connapi")
    );
    assert_eq!(p.vin.expect("vin").value, VIN);
    assert_eq!(p.vin_valid, Some(true));
    assert_eq!(p.usage.expect("usage").code, "A");
    assert_eq!(p.fuel_type.expect("fuel").value, "汽油");
    assert_eq!(p.model_year.expect("year").value, 2016);
    assert_eq!(p.plate.expect("plate").value, "粤B12345");

    // Without the dissenter, the two services' agreement raises the confidence.
    let mut l = lookup(VIN, "大众");
    l.brand = Some(text("大众", "xiaoshibao", 0.8, &[]));
    let answers = Answers {
        decode_vin: Some(decode("大众")),
        lookup: Some(l),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &known,
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let brand = p.brand.expect("brand");
    assert!(
        brand.confidence > 0.9,
        "agreement raises: {}",
        brand.confidence
    );
    assert!(!d.iter().any(|x| x.field == "brand"));
}

#[test]
fn a_vin_the_local_rules_prove_wrong_never_wins() {
    let bad = "LNBSCC3H9GF308384"; // check digit fails
    let mut l = lookup(bad, "大众");
    l.vin = Some(text(bad, "xiaoshibao", 0.9, &[(VIN, "platecb", 0.5, "")]));
    let answers = Answers {
        lookup: Some(l),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &Known::default(),
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let vin = p.vin.expect("vin");
    assert_eq!(vin.value, VIN, "the valid one wins despite lower priority");
    assert_eq!(vin.alternatives[0].rejected_reason, "VIN_INVALID");
    assert_eq!(p.vin_valid, Some(true));
    assert!(d.iter().any(|x| x.field == "vin"));
}

#[test]
fn a_lookup_about_another_vehicle_is_demoted() {
    let known = Known {
        vin: Some(VIN.to_owned()),
        ..Known::default()
    };
    let other = "WP0AA2978BL012976";
    let answers = Answers {
        decode_vin: Some(decode("大众")),
        lookup: Some(lookup(other, "保时捷")),
        ..Answers::default()
    };
    let (p, _) = build(
        &policy(),
        &known,
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    assert_eq!(p.vin.expect("vin").value, VIN);
    let brand = p.brand.expect("brand");
    assert_eq!(brand.value, "大众");
    assert!(
        brand
            .alternatives
            .iter()
            .all(|a| a.rejected_reason == "OTHER_VEHICLE"),
        "{brand:?}"
    );
    // Only the other vehicle states the usage: shown, but flagged by low confidence.
    let usage = p.usage.expect("usage");
    assert!(usage.confidence <= confidence::INADMISSIBLE, "{usage:?}");
}

#[test]
fn identifiers_are_masked_unless_revealed() {
    let known = Known {
        vin: Some(VIN.to_owned()),
        engine_number: Some("AD50EG081600062".to_owned()),
        ..Known::default()
    };
    let (p, _) = build(
        &policy(),
        &known,
        Fields::default_include(),
        &Answers::default(),
        &Privacy::default(),
        now(),
    );
    assert_eq!(p.vin.expect("vin").value, "LNB**********8384");
    assert_eq!(p.engine_number.expect("engine").value, "***********0062");
    assert_eq!(p.vin_valid, Some(true));
}

#[test]
fn a_masked_lookup_vin_agrees_with_the_one_asked_about() {
    let known = Known {
        vin: Some(VIN.to_owned()),
        ..Known::default()
    };
    let answers = Answers {
        lookup: Some(lookup(&domain::pii::mask_vin(VIN), "大众")),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &known,
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let vin = p.vin.expect("vin");
    assert_eq!(vin.value, VIN);
    assert!(vin.alternatives.is_empty(), "{vin:?}");
    assert!(!d.iter().any(|x| x.field == "vin"));
}

#[test]
fn only_wanted_fields_are_built() {
    let answers = Answers {
        decode_vin: Some(decode("大众")),
        lookup: Some(lookup(VIN, "大众")),
        ..Answers::default()
    };
    let (p, _) = build(
        &policy(),
        &Known::default(),
        Fields::of(&[Field::Brand]),
        &answers,
        &reveal(),
        now(),
    );
    assert!(p.brand.is_some());
    assert!(p.vin.is_none() && p.usage.is_none() && p.model_year.is_none());
}

#[test]
fn local_vin_facts_stand_in_when_the_decode_did_not_answer() {
    let validate = ValidateVinResponse {
        valid: true,
        model_year: Some(contracts::axle::vin::v1::ModelYear {
            year: 2016,
            basis: ModelYearBasis::MostRecent as i32,
            ..Default::default()
        }),
        country: Some(contracts::axle::vin::v1::Country {
            code: "CN".to_owned(),
            ..Default::default()
        }),
        ..ValidateVinResponse::default()
    };
    let answers = Answers {
        validate_vin: Some(validate),
        ..Answers::default()
    };
    let (p, _) = build(
        &policy(),
        &Known::default(),
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    assert_eq!(p.model_year.expect("year").value, 2016);
    assert_eq!(p.country.expect("country").value, "CN");
}

// Property tests: the merge is deterministic, independent of which service answered
// first (statements are gathered by step), and never invents a value.

fn brands() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["大众", "宝马", "丰田", "-", "暂无", ""]).prop_map(str::to_owned)
}

fn sources() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["connapi", "xiaoshibao", "platecb", "other"]).prop_map(str::to_owned)
}

fn fact() -> impl Strategy<Value = Option<StringFact>> {
    prop::option::of(
        (
            brands(),
            sources(),
            0.0f32..=1.0,
            prop::collection::vec(
                (
                    brands(),
                    sources(),
                    0.0f32..=1.0,
                    prop::sample::select(vec!["", "OTHER_VEHICLE", "VIN_INVALID"]),
                ),
                0..3,
            ),
        )
            .prop_map(|(v, s, c, alts)| StringFact {
                value: v,
                confidence: c,
                provenance: Some(prov(&s)),
                alternatives: alts
                    .into_iter()
                    .map(|(v, s, c, r)| Alternative {
                        value: v,
                        provenance: Some(prov(&s)),
                        confidence: c,
                        rejected_reason: r.to_owned(),
                    })
                    .collect(),
            }),
    )
}

fn answers_with(by_vin: Option<StringFact>, by_plate: Option<StringFact>) -> Answers {
    Answers {
        decode_vin: by_vin.map(|b| DecodeVinResponse {
            summary: Some(VehicleSummary {
                brand: Some(b),
                ..VehicleSummary::default()
            }),
            ..DecodeVinResponse::default()
        }),
        lookup: by_plate.map(|b| LookupVehicleResponse {
            brand: Some(b),
            ..LookupVehicleResponse::default()
        }),
        ..Answers::default()
    }
}

proptest! {
    #[test]
    fn merge_is_deterministic_and_never_invents(by_vin in fact(), by_plate in fact()) {
        let answers = answers_with(by_vin.clone(), by_plate.clone());
        let wanted = Fields::of(&[Field::Brand]);
        let a = build(&policy(), &Known::default(), wanted, &answers, &reveal(), now());
        let b = build(&policy(), &Known::default(), wanted, &answers, &reveal(), now());
        prop_assert_eq!(&a, &b);
        if let Some(brand) = &a.0.brand {
            let stated: Vec<String> = [by_vin, by_plate]
                .into_iter()
                .flatten()
                .flat_map(|f| {
                    let mut v = vec![f.value.clone()];
                    v.extend(f.alternatives.iter().map(|x| x.value.clone()));
                    v
                })
                .collect();
            prop_assert!(stated.contains(&brand.value), "{} not stated in {:?}", brand.value, stated);
            prop_assert!(!agreement::is_placeholder(&brand.value));
            prop_assert!((0.0..=1.0).contains(&brand.confidence));
        }
    }
}

#[expect(clippy::unnecessary_wraps, reason = "the message's fields are Options")]
fn reading(source: &str, conf: f32, check: CrossCheckResult) -> Option<Reading> {
    Some(Reading {
        text: String::new(),
        confidence: conf,
        provenance: Some(prov(source)),
        quad: None,
        cross_check: Some(contracts::axle::ocr::v1::CrossCheck {
            result: check as i32,
            ..Default::default()
        }),
    })
}

#[expect(clippy::unnecessary_wraps, reason = "the message's fields are Options")]
fn field(value: &str, check: CrossCheckResult) -> Option<contracts::axle::ocr::v1::TextField> {
    Some(contracts::axle::ocr::v1::TextField {
        value: value.to_owned(),
        reading: reading("ocr-engine", 0.93, check),
    })
}

fn licence(vin: &str, vin_check: CrossCheckResult) -> RecognizeVehicleLicenseResponse {
    use contracts::axle::ocr::v1::{CountField, DateField, LicenseBack, LicenseFront, UsageField};
    let passed = CrossCheckResult::CheckedPassed;
    RecognizeVehicleLicenseResponse {
        front: Some(LicenseFront {
            plate: field("粤B12345", passed),
            vin: field(vin, vin_check),
            model: field("本田牌HG7154BAC5", CrossCheckResult::NotChecked),
            owner: field("崔*", CrossCheckResult::NotChecked),
            engine_number: field("KB6CP64", CrossCheckResult::NotChecked),
            use_character: Some(UsageField {
                usage: Some(UsageNature {
                    code: "L".to_owned(),
                    name_zh: "营转非".to_owned(),
                    original_text: "营转非".to_owned(),
                    ..UsageNature::default()
                }),
                reading: reading("ocr-engine", 0.9, passed),
            }),
            register_date: Some(DateField {
                date: Some(DateFact {
                    value: "2020-11-02".to_owned(),
                    ..DateFact::default()
                }),
                reading: reading("ocr-engine", 0.9, passed),
            }),
            ..LicenseFront::default()
        }),
        back: Some(LicenseBack {
            approved_passengers: Some(CountField {
                value: 5,
                reading: reading("ocr-engine", 0.9, CrossCheckResult::NotChecked),
            }),
            ..LicenseBack::default()
        }),
        ..RecognizeVehicleLicenseResponse::default()
    }
}

#[test]
fn a_licence_photo_states_what_it_prints_under_its_readers_name() {
    let answers = Answers {
        license: Some(licence(VIN, CrossCheckResult::CheckedPassed)),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &Known::default(),
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let src = |f: &Option<StringFact>| {
        f.as_ref()
            .and_then(|f| f.provenance.as_ref())
            .map(|p| p.source.clone())
    };
    assert_eq!(p.vin.as_ref().map(|v| v.value.as_str()), Some(VIN));
    assert_eq!(src(&p.vin).as_deref(), Some("ocr-engine"));
    assert_eq!(p.vin_valid, Some(true));
    assert_eq!(p.plate.as_ref().map(|v| v.value.as_str()), Some("粤B12345"));
    assert_eq!(p.brand.as_ref().map(|v| v.value.as_str()), Some("本田"));
    assert_eq!(
        p.model.as_ref().map(|v| v.value.as_str()),
        Some("本田牌HG7154BAC5")
    );
    assert_eq!(p.owner_name.as_ref().map(|v| v.value.as_str()), Some("崔*"));
    assert_eq!(p.usage.as_ref().map(|u| u.code.as_str()), Some("L"));
    assert_eq!(
        p.first_registration_date.as_ref().map(|d| d.value.as_str()),
        Some("2020-11-02")
    );
    assert_eq!(p.seats.as_ref().map(|s| s.value), Some(5));
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn the_licence_outranks_the_plate_vendors_on_what_it_prints_and_disagreement_shows() {
    // The vendor's record still says 非营运; the licence was reissued 营转非.
    let answers = Answers {
        license: Some(licence(VIN, CrossCheckResult::CheckedPassed)),
        lookup: Some(lookup(VIN, "本田")),
        ..Answers::default()
    };
    let (p, d) = build(
        &policy(),
        &Known::default(),
        Fields::default_include(),
        &answers,
        &reveal(),
        now(),
    );
    let usage = p.usage.expect("usage");
    assert_eq!(usage.code, "L");
    assert_eq!(
        usage.provenance.map(|p| p.source).as_deref(),
        Some("ocr-engine")
    );
    assert!(d.iter().any(|d| d.field == "usage"), "{d:?}");
}

#[test]
fn a_photo_vin_that_fails_its_check_never_wins() {
    let bad = "LNBSCC3H8GF308385";
    let answers = Answers {
        license: Some(licence(bad, CrossCheckResult::CheckedFailed)),
        lookup: Some(lookup(VIN, "本田")),
        ..Answers::default()
    };
    let (p, _) = build(
        &policy(),
        &Known::default(),
        Fields::of(&[Field::Vin]),
        &answers,
        &reveal(),
        now(),
    );
    let vin = p.vin.expect("vin");
    assert_eq!(vin.value, VIN, "the plate vendors' valid VIN wins");
    assert!(
        vin.alternatives
            .iter()
            .any(|a| a.value == bad && a.rejected_reason == "VIN_INVALID"),
        "{vin:?}"
    );
}
