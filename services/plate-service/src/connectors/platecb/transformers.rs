//! platecb's answers -> our fields: the callback's `response` JSON (seed 004's
//! 返回参数字段说明), and vehicle data that came with a submit answer (seed 003's `data` /
//! `retdata`), turned into the same `response` form so that both are stored and read alike.

use std::collections::HashMap;

use connector::json::Fields;
use serde_json::{Map, Value};

pub use crate::report::{Damage, Details};

/// What platecb says about a plate. "-" is the vendor's "unknown" and is dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatecbVehicle {
    pub plate: String,
    pub vin: String,
    /// 使用性质 as written (c_properties), e.g. "非营业个人".
    pub usage: String,
    pub brand: String,
    /// car_fullname, e.g. "2022款 Pulse心动版".
    pub model: String,
    pub first_register_date: String,
    pub production_date: String,
    pub insurance_expiry: String,
    pub vehicle_type: String,
    pub color: String,
    pub engine_number: String,
    pub emission_standard: String,
    pub approved_passengers: Option<i64>,
    /// 1 success, 2 in progress, 3 failed.
    pub result_status: Option<i64>,
    /// Specifications and details (VehicleDetails), keyed by our field name.
    pub details: Details,
    /// The `result` list: damage / claim records.
    pub damage: Vec<Damage>,
    /// Everything else the vendor sent (dimensions, insurance claims `result` ...).
    pub other: HashMap<String, String>,
}

/// `result_status` values (seed 004: 查询状态 1成功, 2查询中, 3失败).
pub const STATUS_OK: i64 = 1;
pub const STATUS_QUERYING: i64 = 2;
pub const STATUS_FAILED: i64 = 3;

/// The `result_status` of a callback's `response` JSON, if it has a readable one.
pub fn result_status(response_json: &str) -> Option<i64> {
    let Ok(Value::Object(map)) = connector::json::parse_body(response_json.as_bytes()) else {
        return None;
    };
    Fields::new(map).int("result_status")
}

/// Vehicle data that came with a submit answer, as the `response` JSON a callback would
/// carry; `None` when none came, or only an interim "still querying" (then the callback
/// is awaited).
///
/// Seed 003 types `data` (数据集合) as an array and `retdata` (回数据集合) as "可能是数据、对象
/// 或者字符串": a list, an object, or a string. All are read: a list (also a PHP list
/// encoded as an object, or as JSON text), one object on its own, or JSON text holding
/// either; text that is not JSON is no vehicle data. The first non-empty object is the
/// answer; any further items are kept in it as `data[1]`, `data[2]` ... (unmapped fields,
/// passed on as sent), so nothing the vendor sent is dropped.
pub fn sync_answer(answer: &Map<String, Value>) -> Option<String> {
    let mut fields = Fields::new(answer.clone());
    for key in ["data", "retdata"] {
        let items = fields.array(key);
        let Some(first) = items
            .iter()
            .position(|v| matches!(v, Value::Object(m) if !m.is_empty()))
        else {
            continue;
        };
        let mut items = items;
        let Value::Object(mut vehicle) = items.remove(first) else {
            continue;
        };
        if vehicle
            .get("result_status")
            .and_then(connector::json::value_int)
            == Some(STATUS_QUERYING)
        {
            return None;
        }
        for (i, rest) in items.into_iter().enumerate() {
            // Numbered as sent: the answer was item `first`.
            let n = if i < first { i } else { i + 1 };
            vehicle.insert(format!("{key}[{n}]"), Value::String(rest.to_string()));
        }
        return Some(Value::Object(vehicle).to_string());
    }
    None
}

impl PlatecbVehicle {
    /// Whether this is a final, successful answer. A missing `result_status` counts as
    /// success: the document's own example carries one, but an answer with data and no
    /// status is still an answer.
    pub fn succeeded(&self) -> bool {
        self.result_status.is_none_or(|s| s == STATUS_OK)
    }
}

fn damage_records(value: Option<Value>, other: &mut HashMap<String, String>) -> Vec<Damage> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(v) => {
            // Not the documented list: kept verbatim rather than guessed at.
            other.insert("result".to_owned(), v.to_string());
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            other.insert("result[]".to_owned(), item.to_string());
            continue;
        };
        let mut f = Fields::new(map);
        let d = Damage {
            kind: known(f.text("dangerSingleType")),
            part: known(f.text("dangerSingleName")),
            amount: known(f.text("dangerSingleMoney")),
        };
        let mut rest = HashMap::new();
        f.leftovers(&mut rest);
        for (k, v) in rest {
            other.insert(format!("result[].{k}"), v);
        }
        if d != Damage::default() {
            out.push(d);
        }
    }
    out
}

/// The vendor writes "-" (and sometimes 未知, 暂无 ...) for what it does not know.
fn known(s: String) -> String {
    if domain::text::is_placeholder(&s) {
        String::new()
    } else {
        s
    }
}

pub fn to_vehicle(response_json: &str) -> Result<PlatecbVehicle, String> {
    let Ok(Value::Object(map)) = connector::json::parse_body(response_json.as_bytes()) else {
        return Err("callback `response` is not a JSON object".to_owned());
    };
    let mut f = Fields::new(map);
    let mut v = PlatecbVehicle {
        plate: known(f.text("c_plate")),
        vin: known(f.text("c_vin")).to_ascii_uppercase(),
        usage: known(f.text("c_properties")),
        brand: known(f.text("c_brand")),
        model: known(f.text("car_fullname")),
        first_register_date: known(f.text("c_firstissuedate")),
        production_date: known(f.text("c_ppsdate")),
        insurance_expiry: known(f.text("c_insure_expir")),
        vehicle_type: known(f.text("c_car_type")),
        color: known(f.text("c_color")),
        engine_number: known(f.text("c_number")),
        emission_standard: known(f.text("c_pfbz")),
        approved_passengers: f.int("c_passengers"),
        result_status: f.int("result_status"),
        details: Details {
            fuel_type: known(f.text("c_fueltype")),
            transmission: known(f.text("c_geartype")),
            engine_model: known(f.text("c_enginemodel")),
            power: known(f.text("c_power")),
            length: known(f.text("c_car_length")),
            width: known(f.text("c_car_width")),
            height: known(f.text("c_car_height")),
            wheelbase: known(f.text("c_wheelbase")),
            front_track: known(f.text("c_fronttrack")),
            rear_track: known(f.text("c_reartrack")),
            curb_weight: known(f.text("c_curbweight")),
            total_weight: known(f.text("c_totalweight")),
            rated_load_weight_kg: known(f.text("c_ratedloadweight")),
            axle_count: known(f.text("c_shaft")),
            body_boxes: known(f.text("c_boxes")),
            front_tire_size: known(f.text("c_fronttiresize")),
            rear_tire_size: known(f.text("c_reartiresize")),
            insurance_start_date: known(f.text("c_buyinsure")),
            market_launch_date: known(f.text("c_listdate")),
            production_year_month: known(f.text("c_cyear")),
            guide_price_10k_cny: known(f.text("c_zdj")),
            vendor_brand_id: known(f.text("brand_id")),
        },
        damage: Vec::new(),
        other: HashMap::new(),
    };
    let result = f.take("result");
    f.leftovers(&mut v.other);
    v.damage = damage_records(result, &mut v.other);
    v.other.retain(|_, val| val.trim() != "-");
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit_answer(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).expect("json") {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    /// Seed 003 line 58 (返回10000状态都会进行计费) bills a 10000 answer, and lines 60/71
    /// type its data as `data` Array (数据集合) and `retdata` Array "可能是数据、对象或者字符串":
    /// every one of those shapes is read as the vehicle, the same as a callback's response.
    #[test]
    fn seed_003_data_and_retdata_in_every_shape() {
        let vehicle = r#"{"c_plate":"闽DD22222","c_vin":"LNBSCC3H5JT920714","result_status":"1"}"#;
        let escaped = serde_json::to_string(vehicle).expect("as JSON text");
        let shapes = [
            format!(r#"{{"codeid":10000,"data":[{vehicle}]}}"#),
            format!(r#"{{"codeid":10000,"data":{vehicle}}}"#),
            format!(r#"{{"codeid":10000,"data":{{"0":{vehicle}}}}}"#),
            format!(r#"{{"codeid":10000,"retdata":{vehicle}}}"#),
            format!(r#"{{"codeid":10000,"retdata":[{vehicle}]}}"#),
            format!(r#"{{"codeid":10000,"retdata":{escaped}}}"#),
            format!(r#"{{"codeid":10000,"data":[],"retdata":{escaped}}}"#),
            format!(r#"{{"codeid":10000,"data":"","retdata":[{{}},{vehicle}]}}"#),
        ];
        for shape in &shapes {
            let payload = sync_answer(&submit_answer(shape)).unwrap_or_else(|| panic!("{shape}"));
            let v = to_vehicle(&payload).expect("reads as a response");
            assert_eq!(v.vin, "LNBSCC3H5JT920714", "{shape}");
            assert!(v.succeeded(), "{shape}");
        }
        // No data: the callback is awaited.
        for none in [
            r#"{"codeid":10000,"message":"返回成功"}"#,
            r#"{"codeid":10000,"data":[],"retdata":""}"#,
            r#"{"codeid":10000,"data":null,"retdata":"查询成功"}"#,
            r#"{"codeid":10000,"data":{},"retdata":["x"]}"#,
            // Interim (seed 004 line 63: 2 查询中): not an answer either.
            r#"{"codeid":10000,"data":[{"c_plate":"闽DD22222","result_status":"2"}]}"#,
        ] {
            assert_eq!(sync_answer(&submit_answer(none)), None, "{none}");
        }
        // Further items are kept, numbered as sent, not dropped.
        let two = format!(r#"{{"codeid":10000,"data":["note",{vehicle},{{"c_vin":"X"}}]}}"#);
        let v = to_vehicle(&sync_answer(&submit_answer(&two)).expect("data")).expect("reads");
        assert_eq!(v.vin, "LNBSCC3H5JT920714");
        assert_eq!(
            v.other.get("data[0]").map(String::as_str),
            Some(r#""note""#)
        );
        assert_eq!(
            v.other.get("data[2]").map(String::as_str),
            Some(r#"{"c_vin":"X"}"#)
        );
        // A failed query (3) is an answer: stored and reported, not awaited.
        let failed = r#"{"codeid":10000,"data":[{"result_status":"3"}]}"#;
        let payload = sync_answer(&submit_answer(failed)).expect("a final answer");
        assert!(!to_vehicle(&payload).expect("reads").succeeded());
    }

    #[test]
    fn seed_example_fields() {
        let json = r#"{"brand_id":"45","c_boxes":"3","c_brand":"smart","c_buyinsure":"2023-03","c_car_height":"-","c_cyear":"2018-12","c_firstissuedate":"2018-12","c_fronttiresize":"235/45 R19","c_insure_expir":"2024-03","c_plate":"闽DD22222","c_properties":"非营业个人","c_vin":"LNBSCC3H5JT920714","car_fullname":"2022款 Pulse心动版","result":[{"dangerSingleType":"2"}],"result_status":"1"}"#;
        let v = to_vehicle(json).expect("vehicle");
        assert_eq!(v.vin, "LNBSCC3H5JT920714");
        assert_eq!(v.usage, "非营业个人");
        assert_eq!(v.first_register_date, "2018-12");
        assert_eq!(v.result_status, Some(1));
        assert!(v.succeeded());
        assert_eq!(result_status(json), Some(STATUS_OK));
        assert_eq!(
            result_status(r#"{"result_status":2}"#),
            Some(STATUS_QUERYING)
        );
        assert_eq!(
            result_status(r#"{"result_status":"3"}"#),
            Some(STATUS_FAILED)
        );
        assert_eq!(result_status("not json"), None);
        let failed = to_vehicle(r#"{"result_status":"3","c_plate":"闽DD22222"}"#).expect("parses");
        assert!(!failed.succeeded());
        assert!(!v.other.contains_key("c_car_height"), "'-' means unknown");
        assert_eq!(v.details.production_year_month, "2018-12");
        assert!(to_vehicle("[]").is_err());
    }

    /// Every field seed 004 documents lands in a typed field: a response carrying all
    /// of them (with made-up values) leaves nothing unmapped.
    #[test]
    fn every_documented_field_is_mapped() {
        let keys = [
            "brand_id",
            "c_boxes",
            "c_brand",
            "c_buyinsure",
            "c_car_height",
            "c_car_length",
            "c_car_type",
            "c_car_width",
            "c_color",
            "c_curbweight",
            "c_cyear",
            "c_enginemodel",
            "c_firstissuedate",
            "c_fronttiresize",
            "c_fronttrack",
            "c_fueltype",
            "c_geartype",
            "c_insure_expir",
            "c_listdate",
            "c_number",
            "c_passengers",
            "c_pfbz",
            "c_plate",
            "c_power",
            "c_ppsdate",
            "c_properties",
            "c_ratedloadweight",
            "c_reartiresize",
            "c_reartrack",
            "c_shaft",
            "c_totalweight",
            "c_vin",
            "c_wheelbase",
            "c_zdj",
            "car_fullname",
            "result_status",
        ];
        let mut obj = serde_json::Map::new();
        for (i, k) in keys.iter().enumerate() {
            obj.insert((*k).to_owned(), Value::String(format!("{}", i + 1)));
        }
        obj.insert(
            "result".to_owned(),
            serde_json::json!([{"dangerSingleType":"2","dangerSingleName":"前保险杠(全喷)","dangerSingleMoney":"70000"}]),
        );
        obj.insert("undocumented".to_owned(), Value::String("kept".to_owned()));
        let v = to_vehicle(&Value::Object(obj).to_string()).expect("vehicle");
        assert_eq!(
            v.other.keys().collect::<Vec<_>>(),
            ["undocumented"],
            "only the undocumented key is left over"
        );
        assert_eq!(
            v.damage,
            [Damage {
                kind: "2".into(),
                part: "前保险杠(全喷)".into(),
                amount: "70000".into()
            }]
        );
        let d = &v.details;
        for (name, value) in [
            ("fuel", &d.fuel_type),
            ("gear", &d.transmission),
            ("engine model", &d.engine_model),
            ("power", &d.power),
            ("length", &d.length),
            ("width", &d.width),
            ("height", &d.height),
            ("wheelbase", &d.wheelbase),
            ("front track", &d.front_track),
            ("rear track", &d.rear_track),
            ("curb", &d.curb_weight),
            ("total", &d.total_weight),
            ("load", &d.rated_load_weight_kg),
            ("axles", &d.axle_count),
            ("boxes", &d.body_boxes),
            ("front tire", &d.front_tire_size),
            ("rear tire", &d.rear_tire_size),
            ("insured", &d.insurance_start_date),
            ("launch", &d.market_launch_date),
            ("cyear", &d.production_year_month),
            ("price", &d.guide_price_10k_cny),
            ("brand id", &d.vendor_brand_id),
        ] {
            assert!(!value.is_empty(), "{name}");
        }
        // A `result` that is not the documented list is kept verbatim.
        let odd = to_vehicle(r#"{"result":"none"}"#).expect("vehicle");
        assert!(odd.damage.is_empty());
        assert_eq!(
            odd.other.get("result").map(String::as_str),
            Some("\"none\"")
        );
    }
}
