//! platecb callback `response` JSON -> our fields (seed 004's 返回参数字段说明).

use std::collections::HashMap;

use connector::json::Fields;
use serde_json::Value;

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
    /// Everything else the vendor sent (dimensions, insurance claims `result` ...).
    pub other: HashMap<String, String>,
}

/// `result_status` values (seed 004: 查询状态 1成功, 2查询中, 3失败).
pub const STATUS_OK: i64 = 1;
pub const STATUS_QUERYING: i64 = 2;
pub const STATUS_FAILED: i64 = 3;

/// The `result_status` of a callback's `response` JSON, if it has a readable one.
pub fn result_status(response_json: &str) -> Option<i64> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(response_json) else {
        return None;
    };
    Fields::new(map).int("result_status")
}

impl PlatecbVehicle {
    /// Whether this is a final, successful answer. A missing `result_status` counts as
    /// success: the document's own example carries one, but an answer with data and no
    /// status is still an answer.
    pub fn succeeded(&self) -> bool {
        self.result_status.is_none_or(|s| s == STATUS_OK)
    }
}

fn known(s: String) -> String {
    if s.trim() == "-" { String::new() } else { s }
}

pub fn to_vehicle(response_json: &str) -> Result<PlatecbVehicle, String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(response_json) else {
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
        other: HashMap::new(),
    };
    f.leftovers(&mut v.other);
    v.other.retain(|_, val| val.trim() != "-");
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(v.other.get("c_cyear").map(String::as_str), Some("2018-12"));
        assert!(to_vehicle("[]").is_err());
    }
}
