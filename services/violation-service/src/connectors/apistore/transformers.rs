//! Reading apistore's answers (seed 003, 返回参数说明) into vendor-neutral records.
//!
//! The seed documents the fields but not their layout, and says of `retdata` only that it
//! "may be data, an object or a string" (可能是数据、对象或者字符串). So every layout is
//! accepted: records in `data` or `retdata`, as an array, a single object, or either of
//! those JSON-encoded in a string; totals (`vioNum`, `fineTotal`, `integralTotal`) at the
//! top level or beside the records in an object that holds them. Numbers come as numbers
//! or strings. Keys the seed does not describe are kept, as sent, as unmapped fields.
//!
//! The seed's defaults are applied here: an empty or absent `handleSign` is 1 (未处理
//! 未缴费), an empty or absent `onlineHandle` is 2 (不支持处理).

use std::collections::HashMap;

use connector::json::{Fields, value_text};
use serde_json::{Map, Value};

use crate::report::{Handling, Record, ViolationReport};

/// Envelope members the platform sets on every answer: read elsewhere, not unmapped.
const ENVELOPE: [&str; 6] = ["codeid", "message", "time", "res", "description", "sign"];
/// Keys that may hold the records (seed 003: `data`, `retdata`).
const RECORD_KEYS: [&str; 2] = ["data", "retdata"];
/// Record keys: one of them makes an object a record rather than a holder of records.
const RECORD_MARKERS: [&str; 4] = ["vioTime", "vioCode", "vioAction", "vioAddress"];

/// Reads a 10000 answer's members. `Err` when no records and no totals can be found at
/// all: a success that says nothing is not "no violations".
pub fn to_report(members: &Map<String, Value>) -> Result<ViolationReport, String> {
    let mut top = Fields::new(members.clone()).root();
    for key in ENVELOPE {
        top.take(key);
    }
    let mut report = ViolationReport::default();
    let mut unmapped = HashMap::new();
    let mut found_records = false;
    for key in RECORD_KEYS {
        let Some(value) = top.take(key) else { continue };
        match decode(value) {
            Holder::Records(list) => {
                found_records = true;
                for v in list {
                    report.records.push(record(v, &mut unmapped));
                }
            }
            Holder::Wrapper(map) => {
                // An object holding totals and the records under a key of its own.
                let mut inner = Fields::new(map);
                read_totals(&mut inner, &mut report);
                for k in RECORD_KEYS.iter().chain(&["list", "records"]) {
                    if let Some(v) = inner.take(k)
                        && let Holder::Records(list) = decode(v)
                    {
                        found_records = true;
                        for v in list {
                            report.records.push(record(v, &mut unmapped));
                        }
                    }
                }
                let mut rest = HashMap::new();
                inner.leftovers(&mut rest);
                unmapped.extend(rest.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
            }
            Holder::Empty => found_records = true,
            Holder::Other(text) => {
                unmapped.insert(key.to_owned(), text);
            }
        }
    }
    read_totals(&mut top, &mut report);
    top.leftovers(&mut unmapped);
    if !found_records && report.count.is_none() {
        return Err(
            "a success answer without records or totals (neither `data` nor `retdata` holds records)"
                .to_owned(),
        );
    }
    let mut unmapped: Vec<(String, String)> = unmapped.into_iter().collect();
    unmapped.sort();
    report.unmapped = unmapped;
    // Newest first, as the contract promises; records without a readable time last.
    report
        .records
        .sort_by_key(|r| std::cmp::Reverse(r.occurred_at));
    Ok(report)
}

enum Holder {
    Records(Vec<Map<String, Value>>),
    Wrapper(Map<String, Value>),
    Empty,
    Other(String),
}

fn decode(value: Value) -> Holder {
    match value {
        Value::Array(items) => {
            let mut records = Vec::new();
            for item in items {
                match item {
                    Value::Object(m) => records.push(m),
                    // A record encoded as a string inside the array.
                    Value::String(s) => match serde_json::from_str(&s) {
                        Ok(Value::Object(m)) => records.push(m),
                        _ => return Holder::Other(Value::String(s).to_string()),
                    },
                    other => return Holder::Other(other.to_string()),
                }
            }
            if records.is_empty() {
                Holder::Empty
            } else {
                Holder::Records(records)
            }
        }
        Value::Object(m) if m.is_empty() => Holder::Empty,
        Value::Object(m) if RECORD_MARKERS.iter().any(|k| m.contains_key(*k)) => {
            Holder::Records(vec![m])
        }
        Value::Object(m) => Holder::Wrapper(m),
        Value::String(s) if s.trim().is_empty() => Holder::Empty,
        Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(v @ (Value::Array(_) | Value::Object(_))) => decode(v),
            _ => Holder::Other(s),
        },
        Value::Null => Holder::Empty,
        other => Holder::Other(other.to_string()),
    }
}

fn read_totals(f: &mut Fields, report: &mut ViolationReport) {
    let car_no = f.text("carNo");
    if !car_no.is_empty() {
        report.car_no = car_no;
    }
    if let Some(n) = f.int("vioNum") {
        report.count.get_or_insert(n);
    }
    if let Some(fine) = take_fen(f, "fineTotal") {
        report.fine_total_fen.get_or_insert(fine);
    }
    if let Some(p) = f.int("integralTotal") {
        report.points_total.get_or_insert(p);
    }
}

/// Yuan, as a number or a string ("200", "200.00", 200), in fen; `None` when blank.
fn take_fen(f: &mut Fields, key: &str) -> Option<i64> {
    let v = f.peek(key)?;
    let fen = yuan_to_fen(&value_text(v)?)?;
    f.take(key);
    Some(fen)
}

/// "200" / "200.5" / "1,200" yuan in fen. `None` for blanks and non-numbers.
pub fn yuan_to_fen(text: &str) -> Option<i64> {
    let t: String = text
        .trim()
        .trim_end_matches('元')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if t.is_empty() {
        return None;
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

fn record(map: Map<String, Value>, unmapped: &mut HashMap<String, String>) -> Record {
    let mut f = Fields::new(map);
    let occurred_at_local = f.text("vioTime");
    let occurred_at = domain::dates::china_time_to_unix(&occurred_at_local);
    let handle_sign = f.int("handleSign");
    let online = f.int("onlineHandle");
    let r = Record {
        occurred_at,
        occurred_at_local,
        address: f.text("vioAddress"),
        action: f.text("vioAction"),
        code: f.text("vioCode"),
        fine_fen: take_fen(&mut f, "vioFine"),
        points: f.int32("vioScore"),
        city: f.text("vioCityName"),
        city_code: f.text("vioCityNo"),
        collecting_agency: f.text("colOrgan"),
        decision_number: f.text("decisionNum"),
        handling_number: f.text("handleNum"),
        monitor_number: f.text("monitorNum"),
        // Seed 003: 为空或不存在值时,默认为:未处理 未缴费.
        handling: match handle_sign {
            None | Some(1) => Handling::Unhandled,
            Some(2) => Handling::HandledUnpaid,
            Some(3) => Handling::Paid,
            Some(other) => {
                unmapped.insert("handleSign".to_owned(), other.to_string());
                Handling::Unknown
            }
        },
        // Seed 003: 为空或不存在结果时,默认为:不支持处理.
        can_handle_online: online == Some(1),
        unmapped: Vec::new(),
    };
    let mut rest = HashMap::new();
    f.leftovers(&mut rest);
    let mut rest: Vec<(String, String)> = rest.into_iter().collect();
    rest.sort();
    Record {
        unmapped: rest,
        ..r
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn members(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    fn rec(code: &str, time: &str) -> Value {
        json!({"vioTime": time, "vioAddress": "a", "vioAction": "b", "vioCode": code,
            "vioFine": "200", "vioScore": "3", "handleSign": 1, "onlineHandle": 1})
    }

    #[test]
    fn every_layout_reads_the_same_records() {
        let list = json!([
            rec("1344", "2019-05-20 08:31:47"),
            rec("1208", "2021-06-18 08:42:10")
        ]);
        let shapes = [
            json!({"codeid": 10000, "vioNum": 2, "data": list.clone()}),
            json!({"codeid": 10000, "vioNum": 2, "retdata": list.clone()}),
            json!({"codeid": 10000, "vioNum": 2, "data": list.to_string()}),
            json!({"codeid": 10000, "vioNum": 2, "retdata": list.to_string()}),
            json!({"codeid": 10000, "data": {"vioNum": 2, "list": list.clone()}}),
            json!({"codeid": 10000, "retdata": {"vioNum": "2", "data": list.to_string()}}),
        ];
        for shape in shapes {
            let r = to_report(&members(shape.clone())).expect("reads");
            assert_eq!(r.records.len(), 2, "{shape}");
            assert_eq!(r.count, Some(2), "{shape}");
            assert_eq!(r.records[0].code, "1208", "newest first: {shape}");
            assert!(r.unmapped.is_empty(), "{shape}: {:?}", r.unmapped);
        }
        for one in [
            json!({"codeid": 10000, "data": rec("1344", "2019-05-20 08:31:47")}),
            json!({"codeid": 10000, "retdata": rec("1344", "2019-05-20 08:31:47").to_string()}),
        ] {
            let r = to_report(&members(one.clone())).expect("reads");
            assert_eq!(r.records.len(), 1, "{one}");
            assert_eq!(r.records[0].fine_fen, Some(20_000));
            assert_eq!(r.records[0].points, Some(3));
            assert_eq!(r.count, None, "no totals sent");
        }
    }

    #[test]
    fn an_empty_list_is_no_violations_and_silence_is_an_error() {
        for empty in [
            json!({"codeid": 10000, "vioNum": 0, "data": []}),
            json!({"codeid": 10000, "data": ""}),
            json!({"codeid": 10000, "retdata": "[]"}),
            json!({"codeid": 10000, "vioNum": "0"}),
        ] {
            let r = to_report(&members(empty.clone())).expect("an answer");
            assert!(r.records.is_empty(), "{empty}");
        }
        let e = to_report(&members(json!({"codeid": 10000, "message": "返回成功"})))
            .expect_err("says nothing");
        assert!(e.contains("without records"), "{e}");
    }

    #[test]
    fn the_seeds_defaults_and_types_apply() {
        let r = to_report(&members(json!({"codeid": 10000, "carNo": "粤AJ44E6",
        "fineTotal": "450", "integralTotal": 6, "vioNum": "3",
        "orderNo": "AS1", "data": [
            {"vioTime": "2017-10-29 02:39:17", "vioFine": "", "vioScore": "2"},
            {"vioTime": "2018-01-01 10:00:00", "handleSign": "", "onlineHandle": "",
             "vioFine": 150.5, "vioScore": 0, "extraKey": "x"},
            {"vioTime": "bad", "handleSign": 3, "onlineHandle": 2, "vioFine": "abc"},
        ]})))
        .expect("reads");
        assert_eq!(r.car_no, "粤AJ44E6");
        assert_eq!(
            (r.count, r.fine_total_fen, r.points_total),
            (Some(3), Some(45_000), Some(6))
        );
        assert_eq!(r.unmapped, [("orderNo".to_owned(), "AS1".to_owned())]);
        let [newer, older, unreadable] = r.records.as_slice() else {
            panic!("three records")
        };
        assert_eq!(newer.occurred_at, Some(1_514_772_000));
        assert_eq!(newer.handling, Handling::Unhandled, "empty handleSign");
        assert!(!newer.can_handle_online, "empty onlineHandle");
        assert_eq!(newer.fine_fen, Some(15_050));
        assert_eq!(newer.points, Some(0));
        assert_eq!(newer.unmapped, [("extraKey".to_owned(), "x".to_owned())]);
        assert_eq!(older.fine_fen, None, "blank fine is unknown, not zero");
        assert_eq!(older.handling, Handling::Unhandled, "absent handleSign");
        assert_eq!(unreadable.occurred_at, None);
        assert_eq!(unreadable.occurred_at_local, "bad");
        assert_eq!(unreadable.handling, Handling::Paid);
        assert_eq!(unreadable.fine_fen, None);
        assert!(
            unreadable
                .unmapped
                .contains(&("vioFine".to_owned(), "abc".to_owned())),
            "{:?}",
            unreadable.unmapped
        );
    }

    #[test]
    fn yuan_amounts_are_exact() {
        assert_eq!(yuan_to_fen("200"), Some(20_000));
        assert_eq!(yuan_to_fen("200.5"), Some(20_050));
        assert_eq!(yuan_to_fen("0.01"), Some(1));
        assert_eq!(yuan_to_fen("1,200元"), Some(120_000));
        for bad in ["", " ", "-5", "1.234", "abc", ".5"] {
            assert_eq!(yuan_to_fen(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Whatever the vendor sends, reading never panics.
        #[test]
        fn any_json_is_read_without_panicking(text in ".{0,200}") {
            let v = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            let _ = to_report(&members(json!({"codeid": 10000, "data": v.clone(), "retdata": v})));
        }
    }
}
