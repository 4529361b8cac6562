//! The fixture data file itself: labelled as sandbox data, VINs well formed, check
//! digits right where the region requires them (49 CFR 565 / GB 16735), and consistent
//! with each record's `iscorrect`.

use serde_json::Value;

const FIXTURES: &str = include_str!("../fixtures/connapi.json");

/// 49 CFR 565 check digit (position 9) of a 17-character VIN.
fn check_digit(vin: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: char| -> Option<u32> {
        Some(match c {
            '0'..='9' => c.to_digit(10)?,
            'A' | 'J' => 1,
            'B' | 'K' | 'S' => 2,
            'C' | 'L' | 'T' => 3,
            'D' | 'M' | 'U' => 4,
            'E' | 'N' | 'V' => 5,
            'F' | 'W' => 6,
            'G' | 'P' | 'X' => 7,
            'H' | 'Y' => 8,
            'R' | 'Z' => 9,
            _ => return None,
        })
    };
    if vin.chars().count() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in vin.chars().zip(WEIGHTS) {
        sum += value(c)? * w;
    }
    let r = sum % 11;
    Some(if r == 10 {
        'X'
    } else {
        char::from_digit(r, 10)?
    })
}

fn check_digit_required(vin: &str) -> bool {
    // China (GB 16735) and North America (49 CFR 565) make position 9 mandatory.
    matches!(vin.chars().next(), Some('L' | '1'..='5'))
}

fn iscorrect(result: &Value) -> i64 {
    match &result["iscorrect"] {
        Value::Number(n) => n.as_i64().expect("integer"),
        Value::String(s) => s.parse().expect("numeric string"),
        other => panic!("iscorrect missing or odd: {other}"),
    }
}

#[test]
fn the_49_cfr_565_algorithm_matches_known_vins() {
    assert_eq!(check_digit("1HGCM82633A004352"), Some('3'));
    assert_eq!(check_digit("11111111111111111"), Some('1'));
}

#[test]
fn file_is_labelled_as_sandbox_data() {
    let all: Value = serde_json::from_str(FIXTURES).expect("json");
    let notice = all["_notice"].as_str().expect("_notice");
    assert!(notice.contains("SANDBOX") && notice.contains("NOT vendor data"));
}

#[test]
fn china_and_north_american_vins_have_correct_check_digits() {
    let all: Value = serde_json::from_str(FIXTURES).expect("json");
    let mut checked = 0;
    for v in all["vehicles"].as_array().expect("vehicles") {
        let vin = v["vin"].as_str().expect("vin");
        assert_eq!(vin.len(), 17, "{vin}");
        assert!(
            vin.chars()
                .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"IOQ".contains(c))),
            "{vin}: ISO 3779 characters only"
        );
        if !check_digit_required(vin) {
            continue;
        }
        let digit_ok = check_digit(vin) == vin.chars().nth(8);
        if iscorrect(&v["result"]) == 0 {
            assert!(!digit_ok, "{vin}: iscorrect 0 fixture must really be wrong");
        } else {
            assert!(
                digit_ok,
                "{vin}: check digit should be {:?}",
                check_digit(vin)
            );
            checked += 1;
        }
    }
    for s in all["special"].as_array().expect("special") {
        let vin = s["vin"].as_str().expect("vin");
        assert_eq!(check_digit(vin), vin.chars().nth(8), "{vin}");
    }
    assert!(checked >= 18, "{checked} VINs checked");
}

#[test]
fn coverage_of_makers_and_regions() {
    let all: Value = serde_json::from_str(FIXTURES).expect("json");
    let vins: Vec<&str> = all["vehicles"]
        .as_array()
        .expect("vehicles")
        .iter()
        .map(|v| v["vin"].as_str().expect("vin"))
        .collect();
    for wmi in [
        "LSV", "LFV", "LGX", "LC0", "L6T", "LGW", "LRW", "LW4", "LJ1", "L1N", "LS5", "WBA", "W1K",
        "WDD", "WVW", "VF1", "ZFA", "YV1", "SAL", "JTD", "JHM", "JN1", "KMH", "1HG", "1FA", "5YJ",
        "2T1", "3VW", "WP0",
    ] {
        assert!(vins.iter().any(|v| v.starts_with(wmi)), "no {wmi} fixture");
    }
    assert!(
        vins.iter()
            .any(|v| !check_digit_required(v) && check_digit(v) != v.chars().nth(8)),
        "a European VIN whose position 9 is not a check digit"
    );
}

#[test]
fn edge_shapes_are_present() {
    let all: Value = serde_json::from_str(FIXTURES).expect("json");
    let results: Vec<&Value> = all["vehicles"]
        .as_array()
        .expect("vehicles")
        .iter()
        .map(|v| &v["result"])
        .collect();
    assert!(
        results.iter().any(|r| r["price"].is_number()),
        "number where the vendor documents a string"
    );
    assert!(
        results
            .iter()
            .any(|r| r["gearboxinfo"].is_null() && r["machineoil"].is_null()),
        "null nested objects"
    );
    assert!(results.iter().any(|r| iscorrect(r) == 0), "iscorrect 0");
    let known = results[0]
        .as_object()
        .expect("seed result")
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert!(
        results.iter().any(|r| r
            .as_object()
            .expect("object")
            .keys()
            .any(|k| !known.contains(k) && k != "model")),
        "an extra key the seed does not have"
    );
}
