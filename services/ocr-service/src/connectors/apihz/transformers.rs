//! apihz's answers (seed 002's examples) as raw field readings. The vendor gives no
//! confidence and no positions: every field gets the configured confidence and no box.

use contracts::axle::common::v1::Provenance;
use serde_json::{Map, Value};

use crate::read::{RawField, RawRead, Side};

/// The seed's front keys and our field names.
const FRONT: &[(&str, &str)] = &[
    ("PlateNo", "plate"),
    ("VehicleType", "vehicle_type"),
    ("Owner", "owner"),
    ("Address", "address"),
    ("UseCharacter", "use_character"),
    ("Model", "model"),
    ("Vin", "vin"),
    ("EngineNo", "engine_number"),
    ("RegisterDate", "register_date"),
    ("IssueDate", "issue_date"),
    ("Seal", "seal"),
];

/// The seed's back keys and our field names.
const BACK: &[(&str, &str)] = &[
    ("PlateNo", "plate"),
    ("FileNo", "file_number"),
    ("AllowNum", "approved_passengers"),
    ("TotalMass", "total_mass"),
    ("CurbWeight", "curb_weight"),
    ("LoadQuality", "rated_load"),
    ("ExternalSize", "external_size"),
    ("TotalQuasiMass", "traction_mass"),
    ("Marks", "remarks"),
    ("Record", "inspection_record"),
    ("SubPageCode", "sub_page_code"),
    ("FuelType", "fuel_type"),
];

/// The envelope: `code` 200 with the fields beside it, or 400 with `msg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub code: i64,
    pub msg: String,
    pub fields: Map<String, Value>,
}

pub fn parse_envelope(body: &[u8]) -> Option<Envelope> {
    let Value::Object(mut map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    // PHP vendors send codes as numbers or strings.
    let code = match map.remove("code")? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let msg = match map.remove("msg") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    Some(Envelope {
        code,
        msg,
        fields: map,
    })
}

/// The fields of a success answer for `side`, `None` when it carries none of them.
pub fn to_read(
    fields: &Map<String, Value>,
    side: Side,
    confidence: f32,
    provenance: &Provenance,
) -> Option<RawRead> {
    let keys = match side {
        Side::Front => FRONT,
        Side::Back => BACK,
    };
    let read: Vec<RawField> = keys
        .iter()
        .filter_map(|(key, name)| {
            let text = match fields.get(*key)? {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            (!text.is_empty()).then(|| RawField {
                name,
                text,
                confidence,
                quad: None,
                provenance: provenance.clone(),
                from_vendor: true,
            })
        })
        .collect();
    // PlateNo alone could be either side; a success with nothing else read nothing.
    (read.iter().any(|f| f.name != "plate")).then_some(RawRead { side, fields: read })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 002's examples, verbatim.
    const FRONT_EXAMPLE: &str = r#"{"code":200,"Address":"深圳市南山区高新科技园科技中一路腾云大厦","EngineNo":"8B12345","IssueDate":"2015-04-11","Model":"东风雪铁龙牌DC7183LYAA","Owner":"艾米","PlateNo":"粤BB4321","RegisterDate":"2015-04-11","Seal":"广东省深圳市公安局交通警察支队","UseCharacter":"非营运","VehicleType":"小型轿车","Vin":"123456789ABCDEFGH"}"#;
    const BACK_EXAMPLE: &str = r#"{"code":200,"PlateNo":"粤B 2177C","FileNo":"440681681182","AllowNum":"5人","TotalMass":"2085kg","CurbWeight":"1610kg","LoadQuality":"--","ExternalSize":"4667×1839×1694mm","Marks":"","Record":"检验有效期至2019年11月粤E(01)汽油","TotalQuasiMass":"--","SubPageCode":"4460040587965","FuelType":"汽油"}"#;

    #[test]
    fn the_seed_examples_become_readings() {
        let env = parse_envelope(FRONT_EXAMPLE.as_bytes()).expect("envelope");
        assert_eq!(env.code, 200);
        let read = to_read(&env.fields, Side::Front, 0.9, &Provenance::default()).expect("front");
        assert_eq!(read.fields.len(), 11);
        assert_eq!(
            read.get("vin").map(|f| f.text.as_str()),
            Some("123456789ABCDEFGH")
        );
        assert!(
            read.fields
                .iter()
                .all(|f| f.from_vendor && f.quad.is_none())
        );
        let env = parse_envelope(BACK_EXAMPLE.as_bytes()).expect("envelope");
        let read = to_read(&env.fields, Side::Back, 0.9, &Provenance::default()).expect("back");
        assert_eq!(read.get("rated_load").map(|f| f.text.as_str()), Some("--"));
        assert!(
            read.get("remarks").is_none(),
            "empty Marks is not a reading"
        );
        assert_eq!(read.get("fuel_type").map(|f| f.text.as_str()), Some("汽油"));
    }

    #[test]
    fn errors_and_empty_answers() {
        let env =
            parse_envelope("{\"code\":400,\"msg\":\"通讯秘钥错误。\"}".as_bytes()).expect("env");
        assert_eq!((env.code, env.msg.as_str()), (400, "通讯秘钥错误。"));
        let env = parse_envelope(br#"{"code":"200","PlateNo":"x"}"#).expect("string code");
        assert_eq!(env.code, 200);
        assert!(to_read(&env.fields, Side::Front, 0.9, &Provenance::default()).is_none());
        assert!(parse_envelope(b"<html>").is_none());
        assert!(parse_envelope(b"[1]").is_none());
    }
}
