use super::*;
use crate::violation::rules::{Basis, PlateTypes, RuleTable, embedded};
use proptest::prelude::*;

fn table() -> &'static RuleTable {
    embedded().expect("the embedded table parses")
}

fn rule(prefix: &str) -> CityRule {
    table().for_prefix(prefix, None).expect(prefix).clone()
}

fn custom(engine: Requirement, vin: Requirement, combine: Combine) -> CityRule {
    CityRule {
        prefix: "粤B".to_owned(),
        city: "深圳市".to_owned(),
        division_code: "440300".to_owned(),
        plate_types: PlateTypes::All,
        engine_number: engine,
        vin,
        combine,
        basis: Basis::Override,
        sources: Vec::new(),
        note: None,
    }
}

// Seed 003's example vehicle.
const ENGINE: &str = "AD50EG081600062";
const VIN: &str = "LNBSCC3H8GF308384";

#[test]
fn complete_numbers_are_trimmed_to_what_the_city_asks_and_it_is_said() {
    let ok = check(&rule("粤B"), ENGINE, VIN).expect("complete");
    assert_eq!(ok.engine_number.as_deref(), Some("600062"));
    assert_eq!(ok.vin.as_deref(), Some("308384"));
    assert_eq!(
        ok.notes,
        [
            "engine_number: trimmed to the last 6 characters that 粤B (深圳市) asks for",
            "vin: trimmed to the last 6 characters that 粤B (深圳市) asks for",
        ]
    );
    // Beijing wants the whole engine number: sent whole.
    let ok = check(&rule("京A"), ENGINE, VIN).expect("Beijing");
    assert_eq!(ok.engine_number.as_deref(), Some(ENGINE));
    assert_eq!(ok.vin.as_deref(), Some("308384"));
    // Exactly the tail: nothing trimmed, nothing said.
    let ok = check(&rule("川A"), "600062", "308384").expect("tails");
    assert!(ok.notes.is_empty(), "{:?}", ok.notes);
    // The default sends both whole.
    let ok = check(&rule("晋A"), ENGINE, VIN).expect("default");
    assert_eq!(
        (ok.engine_number.as_deref(), ok.vin.as_deref()),
        (Some(ENGINE), Some(VIN))
    );
}

#[test]
fn missing_or_short_numbers_are_field_violations_naming_the_city() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "粤B",
            "",
            VIN,
            &[
                "engine_number: the last 6 characters of the engine number are required for 粤B (深圳市)",
            ],
        ),
        (
            "粤B",
            "0062",
            "8384",
            &[
                "engine_number: the last 6 characters of the engine number are required for 粤B (深圳市); 4 were given",
                "vin: the last 6 characters of the VIN are required for 粤B (深圳市); 4 were given",
            ],
        ),
        ("京A", "600062", VIN, &[]),
        (
            "京A",
            "0062",
            VIN,
            &[
                "engine_number: the whole engine number is required for 京A (北京市); 4 characters were given, too few for a whole engine number",
            ],
        ),
        (
            "晋A",
            ENGINE,
            "GF308384",
            &[
                "vin: the whole VIN is required for 晋A (太原市); 8 characters were given, a VIN has 17",
            ],
        ),
        (
            "藏A",
            "",
            "暂无",
            &["vin: the last 6 characters of the VIN are required for 藏A (拉萨市)"],
        ),
    ];
    for &(prefix, engine, vin, expected) in cases {
        let got = check(&rule(prefix), engine, vin);
        let messages: Vec<String> = match &got {
            Ok(_) => Vec::new(),
            Err(v) => v.iter().map(ToString::to_string).collect(),
        };
        assert_eq!(messages, expected, "{prefix} {engine:?} {vin:?}");
        if let Err(v) = got {
            for v in v {
                assert_eq!(v.required, rule(prefix).requirement(v.field));
            }
        }
    }
}

#[test]
fn numbers_a_city_does_not_ask_for_are_not_sent() {
    // Lhasa does not ask for the engine number.
    let ok = check(&rule("藏A"), ENGINE, VIN).expect("Lhasa");
    assert_eq!(ok.engine_number, None);
    assert_eq!(ok.vin.as_deref(), Some("308384"));
    assert!(
        ok.notes
            .iter()
            .any(|n| n == "engine_number: not needed for 藏A (拉萨市), not sent")
    );
    let ok = check(&rule("藏A"), "", "308384").expect("no engine number at all");
    assert!(ok.notes.is_empty());
}

#[test]
fn case_spaces_width_and_look_alikes_are_normalised() {
    let ok = check(
        &rule("粤B"),
        " ad50 eg08 1600062\u{200B}",
        "ｌｎｂｓｃｃ３ｈ８ｇｆ３０８３８４",
    )
    .expect("messy");
    assert_eq!(ok.engine_number.as_deref(), Some("600062"));
    assert_eq!(ok.vin.as_deref(), Some("308384"));
    // Cyrillic А and С in a whole engine number.
    let ok = check(&rule("京A"), "\u{410}D50E\u{421}081600062", VIN).expect("look-alikes");
    assert_eq!(ok.engine_number.as_deref(), Some("AD50EC081600062"));
    assert_eq!(normalize_number("  a-b\tc "), "A-BC");
}

#[test]
fn characters_that_cannot_be_in_the_number_are_named() {
    let err = check(&rule("京A"), "AD50-EG081", VIN).expect_err("hyphen");
    assert_eq!(
        err[0].to_string(),
        "engine_number: '-' cannot appear in an engine number: only letters and digits"
    );
    let err = check(&rule("粤B"), ENGINE, "LNBSCC3H8GF3O8384").expect_err("O in the VIN");
    assert!(
        err[0].description.starts_with("O cannot appear in a VIN"),
        "{err:?}"
    );
    let err = check(&rule("粤B"), ENGINE, "LNBSCC3H8GF3083845").expect_err("18 characters");
    assert_eq!(err[0].description, "a VIN has 17 characters, this one 18");
    // Only what is sent is checked: masked leading characters are trimmed away.
    let ok = check(&rule("粤B"), "*********600062", "***********308384").expect("masked");
    assert_eq!(ok.engine_number.as_deref(), Some("600062"));
}

#[test]
fn either_number_will_do_when_the_rule_says_so() {
    use Requirement::LastChars;
    let r = custom(LastChars(6), LastChars(6), Combine::Either);
    let ok = check(&r, "", VIN).expect("VIN alone");
    assert_eq!(
        (ok.engine_number, ok.vin.as_deref()),
        (None, Some("308384"))
    );
    assert!(
        ok.notes
            .iter()
            .any(|n| n.starts_with("engine_number: not sent (")
                && n.ends_with("粤B (深圳市) accepts either number")),
        "{:?}",
        ok.notes
    );
    let ok = check(&r, ENGINE, "").expect("engine number alone");
    assert_eq!(
        (ok.engine_number.as_deref(), ok.vin),
        (Some("600062"), None)
    );
    let ok = check(&r, ENGINE, VIN).expect("both");
    assert!(ok.engine_number.is_some() && ok.vin.is_some());
    let err = check(&r, "", "").expect_err("neither");
    assert_eq!(err.len(), 2);
    assert!(
        err.iter()
            .all(|v| v.description.ends_with("either will do)")),
        "{err:?}"
    );
    // Both: one missing is a violation even when the other is fine.
    let both = custom(LastChars(6), LastChars(6), Combine::Both);
    assert_eq!(check(&both, "", VIN).expect_err("both").len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever is typed, the checker answers without panicking; what it sends is upper-case
    /// letters and digits of exactly the length the city asks for (or whole), and checking
    /// what it sends again passes and sends the same.
    #[test]
    fn never_panics_and_sends_only_what_the_city_asks(
        engine in "\\PC{0,24}",
        vin in "(\\PC|[A-Za-z0-9 ]){0,24}",
        prefix in prop::sample::select(vec!["粤B", "京A", "沪A", "川A", "新A", "藏A", "晋A", "陕A"]),
        either in any::<bool>(),
    ) {
        let mut r = rule(prefix);
        if either && r.engine_number.is_required() && r.vin.is_required() {
            r.combine = Combine::Either;
        }
        match check(&r, &engine, &vin) {
            Ok(c) => {
                for (field, sent) in [(Field::EngineNumber, &c.engine_number), (Field::Vin, &c.vin)] {
                    let Some(sent) = sent else { continue };
                    prop_assert!(sent.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{sent:?}");
                    match r.requirement(field) {
                        Requirement::LastChars(n) => prop_assert_eq!(sent.len(), usize::from(n)),
                        Requirement::Full => prop_assert!(!sent.is_empty()),
                        Requirement::NotRequired => prop_assert!(false, "{field} sent though not asked"),
                    }
                }
                let again = check(
                    &r,
                    c.engine_number.as_deref().unwrap_or(""),
                    c.vin.as_deref().unwrap_or(""),
                );
                let again = again.map_err(|v| TestCaseError::fail(format!("{v:?}")))?;
                prop_assert_eq!(again.engine_number, c.engine_number);
                prop_assert_eq!(again.vin, c.vin);
            }
            Err(violations) => {
                prop_assert!(!violations.is_empty());
                for v in violations {
                    prop_assert!(v.required.is_required());
                    prop_assert!(v.to_string().starts_with(v.field.name()));
                }
            }
        }
    }
}
