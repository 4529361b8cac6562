//! xiaoshibao JSON -> our types.

use connector::json::{Fields, value_int, value_text};
use serde_json::Value;
use std::collections::HashMap;

/// The envelope `{code, message, data}`.
#[derive(Debug)]
pub struct Envelope {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

pub fn parse_envelope(body: &[u8]) -> Result<Envelope, String> {
    let Ok(Value::Object(mut map)) = connector::json::parse_body(body) else {
        return Err("response is not a JSON object".to_owned());
    };
    let code = map
        .get("code")
        .and_then(value_int)
        .ok_or_else(|| "response has no numeric `code`".to_owned())?;
    Ok(Envelope {
        code,
        message: map.get("message").and_then(value_text).unwrap_or_default(),
        data: map.remove("data").filter(|d| !d.is_null()),
    })
}

/// What xiaoshibao says about a plate, every documented field typed; anything else kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XiaoshibaoVehicle {
    pub vin: String,
    /// 使用性质 as the vendor wrote it.
    pub usage: String,
    pub brand: String,
    pub model: String,
    /// As sent, e.g. "2018-06-12".
    pub first_register_date: String,
    /// The vendor's own confidence, 0..1.
    pub confidence: Option<f32>,
    /// The vendor's stated upstream sources ("交管库", ...).
    pub sources: Vec<String>,
    pub unmapped: HashMap<String, String>,
}

pub fn to_vehicle(env: Envelope) -> Result<XiaoshibaoVehicle, String> {
    let Some(Value::Object(data)) = env.data else {
        return Err("code 0 without a `data` object".to_owned());
    };
    let mut f = Fields::new(data);
    // Documented as 0..1; some answers give a percentage (95, or "95%").
    let percent_text = f
        .peek("confidence")
        .and_then(value_text)
        .and_then(|t| t.strip_suffix('%').map(str::to_owned));
    let confidence = match percent_text {
        Some(t) => t.trim().parse::<f64>().ok().map(|p| {
            f.take("confidence");
            p / 100.0
        }),
        None => f.decimal("confidence"),
    }
    .map(|c| if c > 1.0 && c <= 100.0 { c / 100.0 } else { c })
    .map(|c| {
        #[allow(clippy::cast_possible_truncation)] // a 0..1 ratio
        let c = c.clamp(0.0, 1.0) as f32;
        c
    });
    let mut v = XiaoshibaoVehicle {
        vin: f.text("vin").to_ascii_uppercase(),
        usage: f.text("usage"),
        brand: f.text("brand"),
        model: f.text("model"),
        first_register_date: f.text("first_register_date"),
        confidence,
        sources: f.texts("source"),
        unmapped: HashMap::new(),
    };
    f.leftovers(&mut v.unmapped);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example() {
        let body = r#"{"code":0,"message":"success","data":{"vin":"LSJA24U66JA123456","usage":"非营运","brand":"一汽-大众","model":"宝来 2018款","first_register_date":"2018-06-12","confidence":0.95,"source":["交管库","第三方厂商A"]}}"#;
        let v = to_vehicle(parse_envelope(body.as_bytes()).expect("env")).expect("vehicle");
        assert_eq!(v.vin, "LSJA24U66JA123456");
        assert_eq!(v.usage, "非营运");
        assert_eq!(v.confidence, Some(0.95));
        assert_eq!(v.sources, ["交管库", "第三方厂商A"]);
        assert!(v.unmapped.is_empty());
    }

    #[test]
    fn lenient_shapes_and_extra_keys() {
        let body = r#"{"code":"0","message":"success","data":{"vin":"lrw3e7ek3nc123456","confidence":"0.93","source":"交管库","color":"白"}}"#;
        let v = to_vehicle(parse_envelope(body.as_bytes()).expect("env")).expect("vehicle");
        assert_eq!(v.vin, "LRW3E7EK3NC123456");
        assert_eq!(v.confidence, Some(0.93));
        assert_eq!(v.sources, ["交管库"]);
        assert_eq!(v.unmapped.get("color").map(String::as_str), Some("白"));
        assert!(parse_envelope(b"<html>").is_err());
        assert!(to_vehicle(parse_envelope(br#"{"code":0,"data":null}"#).expect("env")).is_err());
    }

    #[test]
    fn a_byte_order_mark_and_a_percentage_confidence() {
        for (conf, want) in [("95", 0.95), ("\"95%\"", 0.95), ("0.9", 0.9), ("1", 1.0)] {
            let body =
                format!("\u{FEFF}{{\"code\":0,\"data\":{{\"vin\":\"X\",\"confidence\":{conf}}}}}");
            let v = to_vehicle(parse_envelope(body.as_bytes()).expect("env")).expect("vehicle");
            let got = v.confidence.expect("confidence");
            assert!((got - want).abs() < 1e-6, "{conf}: {got}");
            assert!(v.unmapped.is_empty(), "{conf}: {:?}", v.unmapped);
        }
    }
}
