//! The fixture data files themselves: labelled as sandbox data, VINs well formed, check
//! digits right where the region requires them (49 CFR 565 / GB 16735), and consistent
//! with each connapi record's `iscorrect`; apistore's violations consistent with the
//! national code table, their totals with their records (but where meant otherwise),
//! every answer shape present, and every vehicle in the README's table.

use serde_json::Value;

const FIXTURES: &str = include_str!("../fixtures/connapi.json");
const APISTORE: &str = include_str!("../fixtures/apistore.json");
const README: &str = include_str!("../README.md");

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

fn apistore() -> Value {
    serde_json::from_str(APISTORE).expect("apistore.json")
}

/// A JSON number, or a string holding one (the vendor sends either).
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Points of a violation code by the national table's rule: the second digit is the
/// points class (0, 1, 2, 3, 6, or 7 for 12).
fn points_of(code: &str) -> Option<i64> {
    match code.chars().nth(1)? {
        '7' => Some(12),
        d @ ('0' | '1' | '2' | '3' | '6') => d.to_digit(10).map(i64::from),
        _ => None,
    }
}

fn is_datetime(t: &str) -> bool {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<u32>().ok());
    b.len() == 19
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b' '
        && [13, 16].iter().all(|&i| b[i] == b':')
        && num(0..4).is_some_and(|y| (2010..=2030).contains(&y))
        && num(5..7).is_some_and(|m| (1..=12).contains(&m))
        && num(8..10).is_some_and(|d| (1..=31).contains(&d))
        && num(11..13).is_some_and(|h| h < 24)
        && num(14..16).is_some_and(|m| m < 60)
        && num(17..19).is_some_and(|s| s < 60)
}

/// Every record: a real code whose points follow from it, a fine within the law's 20 to
/// 200 yuan (道路交通安全法 第九十条), Beijing time, a 行政区划代码, the seed's number
/// formats; four-digit codes (the scoring before 2022-04-01) only on records before it.
#[test]
fn apistore_records_follow_the_code_table() {
    let all = apistore();
    let mut checked = 0;
    for v in all["vehicles"].as_array().expect("vehicles") {
        for r in v["answer"]["records"].as_array().expect("records") {
            let at = format!("{} {}", v["car_no"], r["vioTime"]);
            let code = r["vioCode"].as_str().expect("vioCode is a string");
            assert!(
                (4..=5).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()),
                "{at}: {code}"
            );
            assert_eq!(
                int(&r["vioScore"]),
                points_of(code),
                "{at}: points of {code}"
            );
            assert!(
                int(&r["vioFine"]).is_some_and(|f| (20..=200).contains(&f)),
                "{at}"
            );
            let time = r["vioTime"].as_str().expect("vioTime");
            assert!(is_datetime(time), "{at}");
            if code.len() == 4 {
                assert!(
                    time < "2022-04-01",
                    "{at}: four-digit codes predate the 2022 table"
                );
            }
            let city = r["vioCityNo"].as_str().expect("vioCityNo");
            assert!(
                city.len() == 6 && city.bytes().all(|b| b.is_ascii_digit()),
                "{at}"
            );
            assert!(
                r["vioCityName"].as_str().is_some_and(|n| n.ends_with('市')),
                "{at}"
            );
            let handle = r["handleNum"].as_str().expect("handleNum");
            assert!(
                handle.len() == 30 && handle.bytes().all(|b| b.is_ascii_hexdigit()),
                "{at}"
            );
            let monitor = r["monitorNum"].as_str().expect("monitorNum");
            assert!(
                monitor.len() == 16 && monitor.starts_with(&city[..2]),
                "{at}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} records");
}

/// Totals agree with the records, except for the one vehicle whose vendor answer is
/// meant to disagree.
#[test]
fn apistore_totals_agree_but_where_meant_not_to() {
    const DISAGREES: &str = "浙A0A123";
    for v in apistore()["vehicles"].as_array().expect("vehicles") {
        let answer = &v["answer"];
        let records = answer["records"].as_array().expect("records");
        let sum = |field: &str| records.iter().filter_map(|r| int(&r[field])).sum::<i64>();
        let fields = &answer["fields"];
        let agree = int(&fields["vioNum"]) == i64::try_from(records.len()).ok()
            && int(&fields["fineTotal"]) == Some(sum("vioFine"))
            && int(&fields["integralTotal"]) == Some(sum("vioScore"));
        assert_eq!(agree, v["car_no"] != DISAGREES, "{}", v["car_no"]);
        assert_eq!(fields["carNo"], v["car_no"]);
    }
}

#[test]
fn apistore_vehicles_are_well_formed_and_cover_every_shape() {
    let all = apistore();
    let notice = all["_notice"].as_str().expect("_notice");
    assert!(notice.contains("SANDBOX") && notice.contains("NOT vendor data"));
    let vehicles = all["vehicles"].as_array().expect("vehicles");
    assert!(vehicles.len() >= 13, "the seed's vehicle and a dozen more");
    let mut shapes = std::collections::BTreeSet::new();
    for v in vehicles {
        let plate = v["car_no"].as_str().expect("car_no");
        let car_type = v["car_type"].as_str().expect("car_type");
        // Ordinary plates are 7 characters (01 large, 02 small), new-energy ones 8 (51, 52).
        let types: &[&str] = if plate.chars().count() == 8 {
            &["51", "52"]
        } else {
            &["01", "02"]
        };
        assert!(types.contains(&car_type), "{plate} {car_type}");
        if let Some(vin) = v["frame_number"].as_str() {
            assert_eq!(check_digit(vin), vin.chars().nth(8), "{plate}: {vin}");
        }
        for number in ["engine_number", "frame_number"] {
            if let Some(n) = v[number].as_str() {
                assert!(
                    n.len() >= 6
                        && n.bytes()
                            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                    "{plate}"
                );
            }
        }
        let answer = &v["answer"];
        shapes.insert(format!("{}/{}", answer["records_in"], answer["records_as"]));
        assert!(
            README.contains(plate),
            "{plate} is missing from the README's fixture table"
        );
    }
    assert_eq!(
        shapes.len(),
        6,
        "data and retdata, each as array, object and string: {shapes:?}"
    );
    let seed = &vehicles[0];
    assert_eq!(
        (
            &seed["car_no"],
            &seed["car_type"],
            &seed["engine_number"],
            &seed["frame_number"]
        ),
        (
            &Value::from("粤AJ44E6"),
            &Value::from("02"),
            &Value::from("AD50EG081600062"),
            &Value::from("LNBSCC3H8GF308384")
        ),
        "seed 003's example query comes first"
    );
    let has = |what: &str, test: &dyn Fn(&Value) -> bool| {
        assert!(vehicles.iter().any(test), "no vehicle with {what}");
    };
    has("no violations", &|v| {
        v["answer"]["records"].as_array().is_some_and(Vec::is_empty)
    });
    has("an asynchronous answer", &|v| v["async"] == true);
    has("an engine number only", &|v| v["frame_number"].is_null());
    has("a frame number only", &|v| v["engine_number"].is_null());
    has("totals as strings", &|v| {
        v["answer"]["fields"]["vioNum"].is_string()
    });
    has("record numbers as numbers", &|v| {
        v["answer"]["records"][0]["vioFine"].is_number()
    });
    has("an empty handleSign", &|v| {
        v["answer"]["records"][0]["handleSign"] == ""
    });
    has("an absent onlineHandle", &|v| {
        v["answer"]["records"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r.get("onlineHandle").is_none()))
    });
    has("an unknown top-level key", &|v| {
        v["answer"]["fields"]
            .as_object()
            .is_some_and(|f| f.keys().any(|k| k == "source"))
    });
    for province in [
        "粤B", "京A", "沪A", "川A", "浙A", "苏E", "鄂A", "陕A", "新A",
    ] {
        has(province, &|v| {
            v["car_no"]
                .as_str()
                .is_some_and(|p| p.starts_with(province))
        });
    }
}
