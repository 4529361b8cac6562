use super::*;
use crate::violation::rules::{Basis, embedded};

fn table() -> &'static RuleTable {
    embedded().expect("the embedded table parses")
}

#[test]
fn ordinary_and_special_civil_plates_take_their_authority_rule() {
    // plate as typed, plate type given, expected prefix, expected plate type used
    let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
        ("粤B12345", Some("02"), "粤B", Some("02")),
        ("粤b·12345", None, "粤B", None),
        ("京A12345", Some("01"), "京A", Some("01")),
        ("沪AD12345", None, "沪A", Some("52")),
        ("川A12345D", None, "川A", Some("51")),
        ("新A1234学", None, "新A", Some("16")),
        ("粤B1234警", None, "粤B", Some("23")),
        ("鲁B1234挂", None, "鲁B", Some("15")),
        ("沪A1234领", None, "沪A", Some("04")),
        ("粤Z1234港", None, "粤Z", Some("26")),
        ("粤Z1234澳", None, "粤Z", Some("27")),
    ];
    for &(plate, given, prefix, used) in cases {
        let found = table().for_plate(plate, given).expect(plate);
        assert_eq!(found.rule.prefix, prefix, "{plate}");
        assert_eq!(found.plate_type, used, "{plate}");
        assert!(found.reason.is_none(), "{plate}: {:?}", found.reason);
        assert!(matches!(found.rule, Cow::Borrowed(_)), "{plate}");
    }
    let found = table().for_plate(" 粤b 12345 ", None).expect("normalised");
    assert_eq!(found.plate, "粤B12345");
}

#[test]
fn embassy_plates_take_beijings_rule_and_say_so() {
    let found = table().for_plate("使014578", None).expect("embassy");
    assert_eq!(found.rule.prefix, "京A");
    assert_eq!(found.plate_type, Some("03"));
    assert!(
        found
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("Beijing"))
    );
}

#[test]
fn emergency_plates_get_the_provinces_default() {
    let found = table().for_plate("京X1234应急", None).expect("emergency");
    assert_eq!(found.rule.prefix, "京");
    assert_eq!(found.rule.basis, Basis::Default);
    assert_eq!(found.rule.division_code, "110000");
    assert!(found.reason.as_deref().is_some_and(|r| r.contains("应急")));
}

#[test]
fn armed_police_and_military_plates_are_not_covered() {
    for plate in ["WJ粤12345", "VA12345"] {
        match table().for_plate(plate, None) {
            Err(LookupError::NotCovered { reason, .. }) => {
                assert!(reason.contains("register"), "{plate}: {reason}");
            }
            other => panic!("{plate}: {other:?}"),
        }
    }
}

#[test]
fn bad_plates_and_plate_types_are_errors_that_say_why() {
    match table().for_plate("粤I12345", None) {
        Err(LookupError::InvalidPlate { plate, problems }) => {
            assert_eq!(plate, "粤I12345");
            assert!(problems.iter().any(|p| p.contains("粤I")), "{problems:?}");
        }
        other => panic!("{other:?}"),
    }
    for plate in ["", "12345", "粤", "🚗🚗🚗"] {
        let e = table().for_plate(plate, None).expect_err(plate);
        assert!(
            matches!(e, LookupError::InvalidPlate { .. }),
            "{plate}: {e:?}"
        );
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        table().for_plate("粤B12345", Some("00")),
        Err(LookupError::UnknownPlateType("00".to_owned()))
    );
    // An empty plate type is "not given", not an unknown code.
    assert!(table().for_plate("粤B12345", Some(" ")).is_ok());
}

#[test]
fn a_rule_per_plate_type_is_chosen_by_the_type_the_plate_decides() {
    let t = table()
        .with_overrides(&[crate::violation::OverrideRow {
            prefix: "粤B".to_owned(),
            plate_types: "01".to_owned(),
            engine_number: "full".to_owned(),
            vin: "full".to_owned(),
            ..Default::default()
        }])
        .expect("override");
    let large = t.for_plate("粤B12345", Some("01")).expect("large");
    assert_eq!(large.rule.basis, Basis::Override);
    let small = t.for_plate("粤B12345", Some("02")).expect("small");
    assert_eq!(small.rule.basis, Basis::Sourced);
    // Without a type (no colour), the rule for every type.
    let unknown = t.for_plate("粤B12345", None).expect("no type");
    assert_eq!(unknown.rule.basis, Basis::Sourced);
}
