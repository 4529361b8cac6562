use super::*;

fn p(source: &str) -> Provenance {
    Provenance {
        source: source.to_owned(),
        ..Provenance::default()
    }
}

fn s(source: &str, value: &str, confidence: f32) -> Stated<String> {
    Stated::new(value.to_owned(), p(source), confidence)
}

#[test]
fn priority_decides_and_disagreement_is_recorded_once_with_every_value() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let brand = f
        .text("brand", vec![s("b", "大众", 0.9), s("a", "奥迪", 0.8)])
        .expect("fact");
    assert_eq!(brand.value, "奥迪");
    assert_eq!(
        brand.provenance.as_ref().map(|p| p.source.as_str()),
        Some("a")
    );
    assert_eq!(brand.alternatives.len(), 1);
    assert_eq!(brand.alternatives[0].value, "大众");
    assert!(
        brand.confidence < 0.8,
        "disagreement lowers: {}",
        brand.confidence
    );
    let d = f.into_disagreements();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].field.as_str(), d[0].chosen_source.as_str()),
        ("brand", "a")
    );
    assert_eq!(d[0].chosen_value, "奥迪");
}

#[test]
fn agreement_raises_confidence_and_records_nothing() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let brand = f
        .text(
            "brand",
            vec![s("a", "保时捷", 0.8), s("b", "进口保时捷", 0.8)],
        )
        .expect("fact");
    assert_eq!(brand.value, "保时捷");
    assert!(brand.confidence > 0.8);
    assert!(brand.alternatives.is_empty());
    assert!(f.disagreements().is_empty());
}

#[test]
fn placeholders_and_other_scripts_neither_win_nor_count() {
    let policy = MergePolicy::new(&["a", "b", "c"]);
    let mut f = Facts::new(&policy);
    let m = f
        .name(
            "manufacturer",
            vec![
                s("a", "暂无", 0.9),
                s("b", "一汽-大众", 0.8),
                s("c", "FAW-VW", 0.9),
            ],
        )
        .expect("fact");
    assert_eq!(m.value, "一汽-大众");
    assert!((m.confidence - 0.8).abs() < 1e-6, "{}", m.confidence);
    assert!(m.alternatives.is_empty());
    assert!(f.text("x", vec![s("a", "-", 0.9)]).is_none());
}

#[test]
fn a_rejected_value_loses_to_any_admissible_one_and_says_why() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let vin = f
        .text_with(
            "vin",
            vec![s("a", "BADVIN", 0.9), s("b", "GOODVIN", 0.8)],
            |x| {
                if x.value == "BADVIN" {
                    Admission::Rejected("VIN_INVALID")
                } else {
                    Admission::Admissible
                }
            },
        )
        .expect("fact");
    assert_eq!(vin.value, "GOODVIN");
    assert_eq!(vin.alternatives[0].rejected_reason, "VIN_INVALID");
    assert!(vin.alternatives[0].confidence <= confidence::INADMISSIBLE);
    // Alone, a rejected value is still shown (capped), never invented away.
    let alone = f
        .text_with("vin", vec![s("a", "BADVIN", 0.9)], |_| {
            Admission::Rejected("VIN_INVALID")
        })
        .expect("fact");
    assert_eq!(alone.value, "BADVIN");
    assert!(alone.confidence <= confidence::INADMISSIBLE);
}

#[test]
fn dates_are_iso_and_agree_at_less_precision() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let d = f
        .date(
            "first_registration_date",
            vec![s("a", "2022年03月", 0.8), s("b", "2022-03-18", 0.8)],
        )
        .expect("fact");
    assert_eq!(d.value, "2022-03");
    assert!(d.alternatives.is_empty());
}

#[test]
fn prices_within_a_unit_agree_and_alternatives_read_as_money() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let m =
        |src: &str, units: i64| Stated::new(money::from_units_nanos("CNY", units, 0), p(src), 0.8);
    let same = f
        .money("msrp", vec![m("a", 129_900), m("b", 129_900)])
        .expect("fact");
    assert!(same.alternatives.is_empty());
    let differ = f
        .money("msrp", vec![m("a", 129_900), m("b", 139_900)])
        .expect("fact");
    assert_eq!(differ.alternatives[0].value, "CNY 139900.00");
    assert_eq!(f.disagreements()[0].chosen_value, "CNY 129900.00");
}

#[test]
fn ints_and_bools() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let seats = f
        .int(
            "seats",
            vec![Stated::new(5, p("b"), 0.9), Stated::new(7, p("a"), 0.8)],
        )
        .expect("fact");
    assert_eq!(seats.value, 7);
    assert_eq!(seats.alternatives[0].value, "5");
    let import = f
        .boolean("is_import", vec![Stated::new(true, p("a"), 0.8)])
        .expect("fact");
    assert!(import.value);
}

#[test]
fn a_demoted_source_confirms_nothing_and_stays_visible() {
    let policy = MergePolicy::new(&["a", "b"]);
    let mut f = Facts::new(&policy);
    let brand = f
        .text_with(
            "brand",
            vec![s("a", "一汽-大众", 0.8), s("b", "大众", 0.85)],
            |x| {
                if x.source() == "a" {
                    Admission::Demoted("OTHER_VEHICLE")
                } else {
                    Admission::Admissible
                }
            },
        )
        .expect("fact");
    assert_eq!(brand.value, "大众");
    assert!(
        brand.confidence <= 0.85,
        "no boost from another vehicle's record"
    );
    assert_eq!(brand.alternatives[0].value, "一汽-大众");
    assert_eq!(brand.alternatives[0].rejected_reason, "OTHER_VEHICLE");
}
