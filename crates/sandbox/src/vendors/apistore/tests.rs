//! apistore without HTTP: fixture matching, the answer shapes, what the loader refuses,
//! and the gate's order after authentication.

use serde_json::{Value, json};

use super::fixtures::{File, Found, MIN_TRAILING, Query, trailing_match};
use super::{Apistore, FIXTURES};
use crate::config::{AppStatus, SandboxConfig};
use crate::params::Params;

fn embedded() -> File {
    File::load(FIXTURES).expect("the embedded fixtures load")
}

fn query<'a>(plate: &'a str, engine: Option<&'a str>, frame: Option<&'a str>) -> Query<'a> {
    Query {
        plate,
        car_type: "02",
        engine_number: engine,
        frame_number: frame,
    }
}

fn found_plate(f: &File, q: &Query<'_>) -> Option<String> {
    match f.find(q) {
        Found::Vehicle(v) => Some(v.car_no.clone()),
        Found::Failure(code) => Some(code.to_string()),
        Found::Nothing => None,
    }
}

#[test]
fn trailing_characters_name_a_number() {
    let full = Some("AD50EG081600062");
    assert!(trailing_match(full, Some("AD50EG081600062")));
    assert!(trailing_match(full, Some("600062")), "last six");
    assert!(trailing_match(full, Some("1600062")), "more than six");
    assert!(!trailing_match(full, Some("00062")), "fewer than six");
    assert!(!trailing_match(full, Some("600061")));
    assert!(!trailing_match(full, Some("XAD50EG081600062")), "longer");
    assert!(!trailing_match(full, None), "the vehicle has it: required");
    assert!(
        !trailing_match(full, Some("ad50eg081600062")),
        "compared as sent"
    );
    // A number shorter than six is given whole; a number the vehicle lacks is ignored.
    assert!(trailing_match(Some("A123"), Some("A123")));
    assert!(!trailing_match(Some("A123"), Some("123")));
    assert!(trailing_match(None, Some("anything")));
    assert!(trailing_match(None, None));
    assert_eq!(MIN_TRAILING, 6);
}

#[test]
fn the_seeds_example_matches_in_full_and_by_last_six() {
    let f = embedded();
    let seed = Some("粤AJ44E6".to_owned());
    let engine = "AD50EG081600062";
    let frame = "LNBSCC3H8GF308384";
    assert_eq!(
        found_plate(&f, &query("粤AJ44E6", Some(engine), Some(frame))),
        seed
    );
    assert_eq!(
        found_plate(&f, &query("粤AJ44E6", Some("600062"), Some("308384"))),
        seed
    );
    for (plate, engine, frame, why) in [
        ("粤AJ44E6", None, Some(frame), "no engine number"),
        ("粤AJ44E6", Some(engine), None, "no frame number"),
        ("粤aj44e6", Some(engine), Some(frame), "lower-case plate"),
        (
            "粤AJ44E6",
            Some("ad50eg081600062"),
            Some(frame),
            "lower-case engine",
        ),
        (
            "粤AJ44E6",
            Some(engine),
            Some("lnbscc3h8gf308384"),
            "lower-case frame",
        ),
        ("粤AJ44E7", Some(engine), Some(frame), "another plate"),
    ] {
        assert_eq!(found_plate(&f, &query(plate, engine, frame)), None, "{why}");
    }
    let truck = Query {
        car_type: "01",
        ..query("粤AJ44E6", Some(engine), Some(frame))
    };
    assert_eq!(found_plate(&f, &truck), None, "another car_type");
}

#[test]
fn a_number_the_vehicle_lacks_is_not_compared() {
    let f = embedded();
    // 陕AK3702 has an engine number only; 新A7K8L9 a frame number only.
    let truck = |frame| Query {
        car_type: "01",
        ..query("陕AK3702", Some("905823"), frame)
    };
    assert!(found_plate(&f, &truck(None)).is_some());
    assert!(found_plate(&f, &truck(Some("ANYTHING"))).is_some());
    assert!(found_plate(&f, &query("新A7K8L9", None, Some("184236"))).is_some());
    assert!(found_plate(&f, &query("新A7K8L9", Some("X"), Some("184236"))).is_some());
    assert!(found_plate(&f, &query("新A7K8L9", Some("X"), None)).is_none());
}

#[test]
fn failing_vehicles_answer_their_code_on_plate_and_type_alone() {
    let f = embedded();
    assert_eq!(
        found_plate(&f, &query("粤A00021", None, None)).as_deref(),
        Some("10021")
    );
    assert_eq!(
        found_plate(&f, &query("粤A00014", None, None)).as_deref(),
        Some("10014")
    );
}

fn rendered(plate: &str, car_type: &str) -> serde_json::Map<String, Value> {
    let f = embedded();
    let v = f
        .vehicles
        .iter()
        .find(|v| v.car_no == plate && v.car_type == car_type)
        .expect("fixture");
    v.answer.render(1_557_294_956)
}

#[test]
fn answers_come_in_every_shape() {
    let seed = rendered("粤AJ44E6", "02");
    assert_eq!(seed["time"], "1557294956");
    assert_eq!(seed["carNo"], "粤AJ44E6");
    assert_eq!(seed["data"].as_array().map(Vec::len), Some(2));
    assert!(seed.get("retdata").is_none());

    let strings = rendered("粤B12345", "02");
    assert_eq!(strings["vioNum"], "3", "numbers as strings");
    assert_eq!(strings["retdata"].as_array().map(Vec::len), Some(3));

    let object = rendered("沪AD71562", "52");
    assert_eq!(
        object["retdata"]["vioCode"], "16251",
        "one record as an object"
    );

    let object = rendered("陕AK3702", "01");
    assert_eq!(object["data"]["vioCode"], "1344");

    for (plate, member) in [("沪A12345", "retdata"), ("川A88888", "data")] {
        let encoded = rendered(plate, "02");
        let text = encoded[member].as_str().expect("a JSON string");
        let inner: Value = serde_json::from_str(text).expect("that decodes");
        assert_eq!(inner.as_array().map(Vec::len), Some(2), "{plate}");
    }

    let none = rendered("京AD12345", "52");
    assert_eq!((&none["vioNum"], &none["data"]), (&json!(0), &json!([])));
}

#[test]
fn the_loader_refuses_what_it_could_not_answer_from() {
    let with = |vehicles: Value| {
        json!({"_notice": "n", "debug": {"records_in": "data", "records_as": "array",
            "fields": {}, "records": []}, "vehicles": vehicles, "special": []})
        .to_string()
    };
    let vehicle = |answer: Value| {
        json!({"label": "l", "car_no": "粤A1", "car_type": "02", "frame_number": "F123456",
            "answer": answer})
    };
    let answer = json!({"records_in": "data", "records_as": "array", "fields": {}, "records": []});
    assert!(File::load(&with(json!([vehicle(answer.clone())]))).is_ok());
    let refused = |vehicles: Value, says: &str| {
        let err = File::load(&with(vehicles)).expect_err(says).to_string();
        assert!(err.contains(says), "{err}");
    };
    refused(
        json!([vehicle(answer.clone()), vehicle(answer.clone())]),
        "listed twice",
    );
    let mut bare = vehicle(answer.clone());
    bare.as_object_mut().map(|v| v.remove("frame_number"));
    refused(json!([bare]), "needs an engine or frame number");
    refused(
        json!([vehicle(
            json!({"records_in": "data", "records_as": "object", "fields": {}, "records": []})
        )]),
        "exactly one record",
    );
    refused(
        json!([vehicle(
            json!({"records_in": "data", "records_as": "array", "fields": {"codeid": 1}, "records": []})
        )]),
        "`codeid` is set by the sandbox",
    );
    refused(
        json!([vehicle(
            json!({"records_in": "rows", "records_as": "array", "fields": {}, "records": []})
        )]),
        "unknown variant",
    );
    refused(
        json!([vehicle(
            json!({"records_in": "data", "records_as": "array", "fields": {}, "records": [1]})
        )]),
        "JSON object",
    );
}

/// Seed 003's 返回参数说明 gives one example value per field (lines 58-80); the
/// debug-mode answer is exactly those values, so a client that passes 10024 on as data
/// shows the seed's 闽DX009U for any vehicle.
#[test]
fn debug_mode_answers_the_seeds_example_values() {
    let debug = embedded().debug.render(1_557_294_956);
    assert_eq!(debug["carNo"], "闽DX009U");
    assert_eq!(debug["vioNum"], 1);
    assert_eq!(debug["integralTotal"], 2);
    assert_eq!(debug["res"], "1");
    let record = &debug["data"][0];
    for (field, value) in [
        ("vioTime", json!("2017-10-29 02:39:17")),
        ("vioAddress", json!("季华六路与南海大道交叉路口")),
        (
            "vioAction",
            json!("机动车通过有灯控路口时,不按所需行进方向驶入导向车道的"),
        ),
        ("vioCode", json!("1208")),
        ("vioScore", json!("2")),
        ("handleNum", json!("e0f838560b99462279c6be29588225")),
        ("monitorNum", json!("4406147906221925")),
        ("handleSign", json!(1)),
        ("onlineHandle", json!(1)),
    ] {
        assert_eq!(record[field], value, "{field}");
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::of(pairs)
}

async fn code_of(res: axum::response::Response) -> (i64, Value) {
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .expect("body");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    (v["codeid"].as_i64().unwrap_or(-1), v)
}

/// After authentication: the app's standing first, then the parameters, then debug
/// mode, then credits, then the fixtures.
#[tokio::test]
async fn after_the_gate_standing_then_parameters_then_debug_then_credits() {
    let vendor = Apistore::new(&SandboxConfig::default()).expect("defaults");
    let app = |id: &str| vendor.apps[id].clone();
    let seed = params(&[
        ("car_no", "粤AJ44E6"),
        ("car_type", "02"),
        ("engine_number", "600062"),
        ("frame_number", "308384"),
    ]);
    let no_type = params(&[("car_no", "粤AJ44E6")]);
    assert_eq!(
        code_of(vendor.query(&app("10007"), &no_type, None)).await.0,
        10007
    );
    assert_eq!(
        code_of(vendor.query(&app("1"), &no_type, None)).await.0,
        10015
    );
    assert_eq!(
        code_of(vendor.query(&app("10024"), &no_type, None)).await.0,
        10015
    );
    let (code, debug) = code_of(vendor.query(&app("10024"), &seed, None)).await;
    assert_eq!((code, &debug["carNo"]), (10024, &json!("闽DX009U")));
    let (code, v) = code_of(vendor.query(&app("1"), &seed, None)).await;
    assert_eq!(
        (code, &v["message"], &v["carNo"]),
        (10000, &json!("返回成功"), &json!("粤AJ44E6"))
    );
    assert!(
        v["time"].as_str().is_some_and(|t| t.parse::<u64>().is_ok()),
        "{v}"
    );
    // Three credits: billed answers use them, 10025 does not, then 10018 for anything.
    let unknown = params(&[
        ("car_no", "粤A99999"),
        ("car_type", "02"),
        ("frame_number", "123456"),
    ]);
    for _ in 0..3 {
        assert_eq!(
            code_of(vendor.query(&app("3"), &unknown, None)).await.0,
            10025
        );
        assert_eq!(code_of(vendor.query(&app("3"), &seed, None)).await.0, 10000);
    }
    assert_eq!(code_of(vendor.query(&app("3"), &seed, None)).await.0, 10018);
    assert_eq!(
        code_of(vendor.query(&app("3"), &unknown, None)).await.0,
        10018
    );
    crate::vendor::Vendor::reset(&vendor);
    assert_eq!(
        code_of(vendor.query(&app("3"), &seed, None)).await.0,
        10000,
        "reset restores"
    );
    for status in [AppStatus::Active, AppStatus::Debug] {
        assert_eq!(status.refusal(), None);
    }
}

#[test]
fn configuration_mistakes_are_refused_at_start() {
    let mut cfg = SandboxConfig::default();
    cfg.apistore.apps.push(cfg.apistore.apps[0].clone());
    let err = Apistore::new(&cfg).expect_err("duplicate").to_string();
    assert!(err.contains("listed twice"), "{err}");
    let mut cfg = SandboxConfig::default();
    cfg.apistore.apps[0].secret.clear();
    assert!(Apistore::new(&cfg).is_err());
    let mut cfg = SandboxConfig::default();
    cfg.apistore.time_scale = f64::NAN;
    let err = Apistore::new(&cfg).expect_err("nan").to_string();
    assert!(err.contains("apistore.time_scale"), "{err}");
}
