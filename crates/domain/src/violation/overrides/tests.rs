use super::*;
use crate::violation::rules::embedded;

fn table() -> &'static RuleTable {
    embedded().expect("the embedded table parses")
}

fn row(prefix: &str, types: &str, engine: &str, vin: &str) -> OverrideRow {
    OverrideRow {
        prefix: prefix.to_owned(),
        plate_types: types.to_owned(),
        engine_number: engine.to_owned(),
        vin: vin.to_owned(),
        either: false,
        note: None,
    }
}

#[test]
fn an_override_replaces_the_row_and_says_it_is_one() {
    let mut r = row("粤B", "*", "-", "6");
    r.note = Some("vendor stopped asking for engine numbers in Shenzhen (ticket 42)".to_owned());
    let t = table().with_overrides(&[r]).expect("override");
    let rule = t.for_prefix("粤B", None).expect("粤B");
    assert_eq!(rule.basis, Basis::Override);
    assert_eq!(rule.engine_number, Requirement::NotRequired);
    assert_eq!(rule.vin, Requirement::LastChars(6));
    assert_eq!(
        (rule.city.as_str(), rule.division_code.as_str()),
        ("深圳市", "440300")
    );
    assert!(rule.sources.is_empty());
    assert!(
        rule.note
            .as_deref()
            .is_some_and(|n| n.contains("ticket 42"))
    );
    assert_eq!(t.override_count(), 1);
    assert_eq!(t.version(), table().version());
    assert_eq!(t.rules().len(), table().rules().len());
    // The rest of the table is untouched, and so is the embedded table.
    assert_eq!(t.for_prefix("粤A", None), table().for_prefix("粤A", None));
    assert_eq!(
        table().for_prefix("粤B", None).map(|r| r.basis),
        Some(Basis::Sourced)
    );
}

#[test]
fn a_province_override_covers_every_letter_and_a_typed_one_adds_a_row() {
    let t = table()
        .with_overrides(&[row("晋", "", "6", "6"), row("粤B", "01,51", "full", "full")])
        .expect("overrides");
    let shanxi = t
        .rules()
        .iter()
        .filter(|r| r.prefix.starts_with('晋'))
        .count();
    assert!(shanxi >= 11, "{shanxi}");
    assert!(
        t.rules()
            .iter()
            .filter(|r| r.prefix.starts_with('晋'))
            .all(|r| r.basis == Basis::Override && r.engine_number == Requirement::LastChars(6))
    );
    assert_eq!(t.override_count(), shanxi + 1);
    assert_eq!(t.rules().len(), table().rules().len() + 1);
    let large = t.for_prefix("粤B", Some("51")).expect("large new-energy");
    assert_eq!(large.engine_number, Requirement::Full);
    assert_eq!(
        t.for_prefix("粤B", Some("02")),
        table().for_prefix("粤B", None)
    );
    // A later configuration can replace the typed row.
    let t2 = t
        .with_overrides(&[row("粤B", "01", "6", "6")])
        .expect("replace");
    assert_eq!(
        t2.for_prefix("粤B", Some("01")).map(|r| r.engine_number),
        Some(Requirement::LastChars(6))
    );
    // Replacing the typed row that overlapped took 51 with it: back to the row for every type.
    assert_eq!(t2.for_prefix("粤B", Some("51")), t2.for_prefix("粤B", None));
}

#[test]
fn bad_rows_are_all_reported_with_their_position() {
    let mut either_half = row("粤B", "", "-", "6");
    either_half.either = true;
    let rows = [
        row("粤B", "", "6", "6"),
        row("", "", "6", "6"),
        row("X", "", "6", "6"),
        row("粤I", "", "6", "6"),
        row("粤B", "00", "6", "6"),
        row("粤A", "", "seven", "6"),
        row("粤A", "", "6", "18"),
        either_half,
        row("粤B", "*", "full", "full"),
    ];
    let errors = table().with_overrides(&rows).expect_err("bad rows");
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.message.as_str())).collect();
    assert_eq!(got.len(), 8, "{got:?}");
    let expect = [
        (2, "no prefix"),
        (3, "not a province"),
        (4, "not an issuing authority"),
        (5, "号牌种类"),
        (6, "engine_number"),
        (7, "vin"),
        (8, "either needs both"),
        (9, "overlaps override 1"),
    ];
    for ((row, message), (erow, fragment)) in got.iter().zip(expect) {
        assert_eq!(*row, erow);
        assert!(message.contains(fragment), "row {row}: {message}");
    }
    assert!(
        errors[2]
            .to_string()
            .starts_with("violation city rule override 4 (粤I): ")
    );
}

#[test]
fn override_files_are_read_with_their_line_numbers() {
    let text = "# Shenzhen stopped asking for engine numbers\n\
                粤B\t*\t-\t6\tboth\tvendor change, 2026-11\n\
                \n\
                京\t01\tfull\tfull\tboth\n\
                沪A\t*\t6\t6\teither\t-\n";
    let rows = parse_overrides(text).expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].note.as_deref(), Some("vendor change, 2026-11"));
    assert_eq!(rows[1].note, None);
    assert!(rows[2].either);
    assert!(table().with_overrides(&rows).is_ok());

    let errors = parse_overrides("粤B\t*\t6\n粤A\t*\t6\t6\tmaybe\n").expect_err("bad");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].row, 1);
    assert!(errors[0].message.contains("5 or 6"), "{}", errors[0]);
    assert_eq!(errors[1].row, 2);
    assert!(
        errors[1].message.contains("both or either"),
        "{}",
        errors[1]
    );
    assert_eq!(parse_overrides(""), Ok(Vec::new()));
}
