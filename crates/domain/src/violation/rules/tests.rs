use super::*;
use crate::plate::{authority_of, provinces};

fn table() -> &'static RuleTable {
    embedded().expect("the embedded table parses")
}

#[test]
fn the_embedded_table_has_a_version_its_sources_and_a_row_per_authority() {
    let t = table();
    assert_eq!(t.version(), "2026-12-02");
    let ids: Vec<&str> = t.sources().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["cx580", "juhe2019", "gat12123"]);
    assert_eq!(
        t.source("juhe2019").map(|s| s.date.as_str()),
        Some("2019-04-03")
    );
    for s in t.sources() {
        assert!(!s.name.is_empty() && !s.location.is_empty(), "{s:?}");
    }
    // One row for every type per authority, and every authority of the plate table.
    let authorities = DATA
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('@') && !l.trim().is_empty())
        .count();
    assert_eq!(t.rules().len(), authorities);
    assert!(t.rules().len() > 400, "{}", t.rules().len());
    for p in provinces() {
        for letter in 'A'..='Z' {
            if authority_of(p.abbreviation, letter).is_some() {
                let prefix = format!("{}{letter}", p.abbreviation);
                assert!(
                    t.for_prefix(&prefix, None).is_some(),
                    "{prefix} has no rule"
                );
            }
        }
    }
}

#[test]
fn every_row_is_sourced_or_labelled_default_and_cites_declared_sources() {
    for r in table().rules() {
        match r.basis {
            Basis::Sourced => {
                assert!(!r.sources.is_empty(), "{r:?}");
                // The national floor: a sourced row always asks for the VIN's last 6.
                assert!(
                    r.vin.stricter(Requirement::LastChars(6)) == r.vin,
                    "{}: {:?}",
                    r.prefix,
                    r.vin
                );
            }
            Basis::Default => {
                assert!(r.sources.is_empty(), "{r:?}");
                assert_eq!(
                    (r.engine_number, r.vin),
                    (Requirement::Full, Requirement::Full)
                );
                assert!(r.note.as_deref().is_some_and(|n| n.contains("default")));
            }
            Basis::Override => panic!("the embedded table has no overrides: {r:?}"),
        }
        assert_eq!(r.plate_types, PlateTypes::All, "{}", r.prefix);
        assert_eq!(r.combine, Combine::Both, "{}", r.prefix);
    }
}

#[test]
fn real_cities() {
    use Requirement::{Full, LastChars, NotRequired};
    // prefix, city, code, engine, vin, basis, sources
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        Requirement,
        Requirement,
        Basis,
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        // 车行易 asks the last 4 of the engine number, 聚合数据 the last 6: 6 is kept.
        (
            "粤B",
            "深圳市",
            "440300",
            LastChars(6),
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        // Beijing: the whole engine number (both sources), the VIN's last 6 (聚合数据).
        (
            "京A",
            "北京市",
            "110000",
            Full,
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        (
            "京O",
            "北京市公安局",
            "110000",
            Full,
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        // Shanghai: 车行易 the whole engine number, 聚合数据 its last 6.
        (
            "沪A",
            "上海市",
            "310000",
            Full,
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        (
            "川A",
            "成都市",
            "510100",
            LastChars(6),
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        (
            "新A",
            "乌鲁木齐市",
            "650100",
            LastChars(6),
            LastChars(6),
            Basis::Sourced,
            &["cx580"],
        ),
        (
            "陕A",
            "西安市",
            "610100",
            Full,
            LastChars(6),
            Basis::Sourced,
            &["cx580", "juhe2019"],
        ),
        // Lhasa: 车行易 asks for neither; the national floor asks for the VIN's last 6.
        (
            "藏A",
            "拉萨市",
            "540100",
            NotRequired,
            LastChars(6),
            Basis::Sourced,
            &["cx580", "gat12123"],
        ),
        (
            "粤Z",
            "广东省(港澳入出境车辆)",
            "440000",
            LastChars(4),
            LastChars(6),
            Basis::Sourced,
            &["cx580"],
        ),
        // No source covers Shanxi or Guangxi: the default, labelled.
        ("晋A", "太原市", "140100", Full, Full, Basis::Default, &[]),
        ("桂A", "南宁市", "450100", Full, Full, Basis::Default, &[]),
        ("冀X", "雄安新区", "130000", Full, Full, Basis::Default, &[]),
    ];
    for &(prefix, city, code, engine, vin, basis, sources) in cases {
        let r = table().for_prefix(prefix, None).expect(prefix);
        assert_eq!(
            (
                r.city.as_str(),
                r.division_code.as_str(),
                r.engine_number,
                r.vin,
                r.basis
            ),
            (city, code, engine, vin, basis),
            "{prefix}"
        );
        assert_eq!(r.sources, sources, "{prefix}");
        assert_eq!(r.label(), format!("{prefix} ({city})"));
    }
    // The disagreement is written down where the stricter source won.
    let shenzhen = table().for_prefix("粤B", None).expect("粤B");
    assert!(
        shenzhen
            .note
            .as_deref()
            .is_some_and(|n| n.contains("cx580 last 4")),
        "{shenzhen:?}"
    );
}

#[test]
fn a_type_without_its_own_row_takes_the_row_for_every_type() {
    let t = table();
    assert_eq!(t.for_prefix("粤B", Some("01")), t.for_prefix("粤B", None));
    assert_eq!(t.for_prefix("粤B", Some("52")), t.for_prefix("粤B", None));
    assert!(t.for_prefix("粤I", None).is_none());
    assert!(t.for_prefix("", None).is_none());
    assert!(t.for_prefix("粤", None).is_none());
}

#[test]
fn lookup_by_division_code() {
    let t = table();
    let shenzhen = t.for_division_code("440300", None);
    assert_eq!(shenzhen.len(), 1);
    assert_eq!(shenzhen[0].prefix, "粤B");
    // Beijing's letters share one code.
    let beijing = t.for_division_code("110000", Some("02"));
    assert!(beijing.len() > 10, "{}", beijing.len());
    assert!(beijing.iter().all(|r| r.prefix.starts_with('京')));
    assert!(t.for_division_code("999999", None).is_empty());
}

fn header() -> String {
    "@version\t2026-01-01\n@source\ts1\tname\t2020\tsomewhere\n".to_owned()
}

#[test]
fn malformed_tables_are_refused_with_the_line() {
    let good = "粤B\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts1\t-";
    assert!(RuleTable::parse(&format!("{}{good}\n", header())).is_ok());
    let cases: &[(&str, &str)] = &[
        (
            "粤B\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts1",
            "10 columns",
        ),
        (
            "粤I\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts1\t-",
            "not an issuing authority",
        ),
        (
            "X1\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts1\t-",
            "not a province",
        ),
        (
            "粤BB\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts1\t-",
            "province + letter",
        ),
        (
            "粤B\t广州市\t440300\t*\t6\t6\tboth\tsourced\ts1\t-",
            "in the plate table",
        ),
        (
            "粤B\t深圳市\t440100\t*\t6\t6\tboth\tsourced\ts1\t-",
            "in the plate table",
        ),
        (
            "粤B\t深圳市\t440300\t00\t6\t6\tboth\tsourced\ts1\t-",
            "号牌种类",
        ),
        (
            "粤B\t深圳市\t440300\t*\tsix\t6\tboth\tsourced\ts1\t-",
            "engine_number",
        ),
        ("粤B\t深圳市\t440300\t*\t6\t18\tboth\tsourced\ts1\t-", "vin"),
        (
            "粤B\t深圳市\t440300\t*\t-\t6\teither\tsourced\ts1\t-",
            "either needs both",
        ),
        (
            "粤B\t深圳市\t440300\t*\t6\t6\tall\tsourced\ts1\t-",
            "both or either",
        ),
        (
            "粤B\t深圳市\t440300\t*\t6\t6\tboth\tguessed\ts1\t-",
            "sourced or default",
        ),
        (
            "粤B\t深圳市\t440300\t*\t6\t6\tboth\tsourced\ts2\t-",
            "not declared",
        ),
        (
            "粤B\t深圳市\t440300\t*\t6\t6\tboth\tsourced\t-\t-",
            "cites no source",
        ),
        (
            "粤B\t深圳市\t440300\t*\tfull\tfull\tboth\tdefault\ts1\t-",
            "cites sources",
        ),
    ];
    for (row, expected) in cases {
        let e = RuleTable::parse(&format!("{}{row}\n", header())).expect_err(row);
        assert_eq!(e.line, 3, "{row}: {e}");
        assert!(e.to_string().contains(expected), "{row}: {e}");
    }
    let dup = format!("{}{good}\n{good}\n", header());
    let e = RuleTable::parse(&dup).expect_err("duplicate");
    assert!(e.to_string().contains("two rules"), "{e}");
    let e = RuleTable::parse(&format!("@source\ts1\tname\t2020\tsomewhere\n{good}\n"))
        .expect_err("no version");
    assert!(e.to_string().contains("@version"), "{e}");
    let e = RuleTable::parse("@version\ta\n@version\tb\n").expect_err("two versions");
    assert_eq!(e.line, 2);
    let e = RuleTable::parse("@version\ta\n@source\ts\tn\n").expect_err("short source");
    assert!(e.to_string().contains("@source takes"), "{e}");
    // Rows per plate type may sit beside the row for every type, not overlap it.
    let typed = format!(
        "{}{good}\n粤B\t深圳市\t440300\t01\tfull\t6\tboth\tsourced\ts1\t-\n",
        header()
    );
    let t = RuleTable::parse(&typed).expect("typed rows");
    assert_eq!(
        t.for_prefix("粤B", Some("01")).map(|r| r.engine_number),
        Some(Requirement::Full)
    );
    assert_eq!(
        t.for_prefix("粤B", Some("02")).map(|r| r.engine_number),
        Some(Requirement::LastChars(6))
    );
}

#[test]
fn the_table_file_matches_its_compiler_header() {
    // The compiled file says it is generated; the header lines are comments the parser skips.
    assert!(DATA.starts_with("# Per-city traffic-violation query requirements"));
    assert!(DATA.contains("GENERATED by\n# scripts/violation_city_rules/compile.py"));
}

/// The compiled table never asks for less than a source it cites: read the transcribed
/// extracts directly, so a hand edit of the table or a compiler bug that weakens a row
/// fails here without Python.
#[test]
fn no_row_is_weaker_than_its_sources() {
    const CX580: &str = include_str!(
        "../../../../../scripts/violation_city_rules/sources/cx580_inputs_condition.tsv"
    );
    const JUHE: &str = include_str!(
        "../../../../../scripts/violation_city_rules/sources/juhe_wz_citys_2019-04-03.tsv"
    );
    fn data(text: &str) -> impl Iterator<Item = Vec<&str>> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split('\t').collect())
    }
    fn at_least(r: &CityRule, engine: Requirement, vin: Requirement, what: &str) {
        assert_eq!(
            r.engine_number.stricter(engine),
            r.engine_number,
            "{}: {what}",
            r.prefix
        );
        assert_eq!(r.vin.stricter(vin), r.vin, "{}: {what}", r.prefix);
    }
    let cx = |raw: &str| match raw {
        "0" => Requirement::NotRequired,
        "99" => Requirement::Full,
        n => Requirement::LastChars(n.parse().expect("length")),
    };
    let juhe = |flag: &str, n: &str| match (flag, n) {
        ("0", _) => Requirement::NotRequired,
        (_, "0") => Requirement::Full,
        (_, n) => Requirement::LastChars(n.parse().expect("length")),
    };
    let t = embedded().expect("table");
    let rows_for = |prefix: &str| -> Vec<&CityRule> {
        if prefix.chars().count() == 1 {
            t.rules()
                .iter()
                .filter(|r| r.prefix.starts_with(prefix))
                .collect()
        } else {
            t.for_prefix(prefix, None).into_iter().collect()
        }
    };
    let mut checked = 0;
    for cols in data(CX580) {
        let (engine, vin) = (cx(cols[3]), cx(cols[2]));
        for r in rows_for(cols[0]) {
            // A province-wide row stands for the letters without a row of their own.
            if cols[0].chars().count() == 1 && r.sources.iter().all(|s| s != "cx580") {
                continue;
            }
            at_least(r, engine, vin, "cx580");
            checked += 1;
        }
    }
    for cols in data(JUHE) {
        let (engine, vin) = (juhe(cols[2], cols[3]), juhe(cols[4], cols[5]));
        for prefix in cols[1].split(',') {
            for r in rows_for(prefix) {
                at_least(r, engine, vin, "juhe2019");
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "{checked}");
}
