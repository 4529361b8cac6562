//! connapi JSON <-> our types. Nothing else lives here: no HTTP, no retries.
//!
//! Every documented key of seed 001 is mapped into a typed field of `VendorVinDecode`;
//! keys the vendor adds later land in `unmapped_fields`, so nothing is silently dropped.

use std::collections::HashMap;

use contracts::axle::common::v1::Money;
use contracts::axle::vin::v1::{
    Body, CandidateModel, Chassis, Engine, EngineOil, GearboxInfo, Pricing, Transmission,
    VendorVinDecode,
};
use serde_json::Value;

use super::ConnapiDecode;
use connector::json::{Fields, value_int, value_text};

/// The envelope every connapi answer has: `{code, msg, data}`.
#[derive(Debug)]
pub struct Envelope {
    pub code: i64,
    pub msg: String,
    pub data: Option<Value>,
    /// Keys beside `code`, `msg` and `data`: kept, never dropped.
    pub extra: serde_json::Map<String, Value>,
}

/// Parses the envelope. The error text is ours, never the body: bodies may carry
/// personal data and are not echoed into errors or logs.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, String> {
    let value: Value = connector::json::parse_body(body).map_err(|e| {
        format!(
            "response is not JSON ({} at line {}, column {})",
            classify_json_error(&e),
            e.line(),
            e.column()
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err("response is JSON but not an object".to_owned());
    };
    let code = map
        .get("code")
        .and_then(value_int)
        .ok_or_else(|| "response has no numeric `code`".to_owned())?;
    let msg = map.get("msg").and_then(value_text).unwrap_or_default();
    let data = match map.remove("data") {
        // Seed 001 types `data` as a string in places: JSON text of the object.
        Some(Value::String(text)) if text.trim_start().starts_with('{') => {
            serde_json::from_str(&text).ok()
        }
        Some(Value::Null) | None => None,
        Some(other) => Some(other),
    };
    map.remove("code");
    map.remove("msg");
    Ok(Envelope {
        code,
        msg,
        data,
        extra: map,
    })
}

/// A count or a dimension: vendors write 0 or -1 for "unknown", no car has either.
fn positive(n: Option<i32>) -> Option<i32> {
    n.filter(|n| *n > 0)
}

/// `isimport` as the seed documents it (0/1) or in words: 进口 / 国产, 是 / 否.
fn import_flag(r: &mut Fields) -> Option<bool> {
    match r.peek("isimport").and_then(value_text).as_deref() {
        Some("进口") => {
            r.take("isimport");
            Some(true)
        }
        Some("国产") => {
            r.take("isimport");
            Some(false)
        }
        _ => r.flag("isimport"),
    }
}

fn classify_json_error(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "truncated",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

/// Whether a code-200 envelope carries no result: PHP's `[]` (for `data` or
/// `data.result`), `null` or `""`. The vendor bills it, and it says there is no record.
pub fn result_is_empty(envelope: &Envelope) -> bool {
    match &envelope.data {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(d)) => match d.get("result") {
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Null) => true,
            Some(Value::String(t)) => t.trim().is_empty(),
            _ => false,
        },
        _ => false,
    }
}

/// Maps a code-200 envelope into our decode. `requested_vin` is what we asked for; the
/// vendor's echo of the VIN is kept as it sent it.
pub fn to_decode(envelope: Envelope, requested_vin: &str) -> Result<ConnapiDecode, String> {
    let envelope_extra = envelope.extra;
    let data = match envelope.data {
        Some(Value::Object(data)) => data,
        // PHP's empty array for an empty `data`: a paid answer with nothing in it.
        Some(Value::Array(a)) if a.is_empty() => {
            let mut m = serde_json::Map::new();
            m.insert("result".to_owned(), Value::Array(Vec::new()));
            m
        }
        _ => return Err("code 200 without a `data` object".to_owned()),
    };
    let mut data = Fields::new(data);
    let order_no = data.text("order_no");
    // PHP's empty array, null or "" for an empty result: a paid answer with nothing in it.
    let empty_result = match data.peek("result") {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Null) => true,
        Some(Value::String(t)) => t.trim().is_empty(),
        _ => false,
    };
    let mut r = match data.object("result").map(Fields::root) {
        Some(r) => r,
        None if empty_result => Fields::new(serde_json::Map::new()),
        None => return Err("code 200 without `data.result`".to_owned()),
    };
    let mut unmapped = HashMap::new();

    let vendor_says_valid = r.flag("iscorrect");
    let model_year_text = r.text("yeartype");
    let engine = Engine {
        model: r.text("enginemodel"),
        code: r.text("engine"),
        displacement_text: r.text("displacement"),
        displacement_ml: r.int32("displacementml"),
        cylinders: r.int32("cylindernum"),
        max_power_kw: r.decimal("maxpower"),
        max_horsepower_ps: r.decimal("maxhorsepower"),
        fuel_type: r.text("fueltype"),
        fuel_grade: r.text("fuelgrade"),
        fuel_method: r.text("fuelmethod"),
        emission_standard: r.text("environmentalstandards"),
        combined_fuel_consumption_l_per_100km: r.decimal("comfuelconsumption"),
    };
    let gearbox = r.object("gearboxinfo").map(|mut g| {
        let info = GearboxInfo {
            brand: g.text("gearboxbrand"),
            model: g.text("gearboxmodel"),
            joint: g.text("joint"),
            gravity_oil: g.text("gravityoil"),
            mechanical_oil: g.text("mechanicaloil"),
            joint_pictures: g.texts("jointpiclist"),
            position_pictures: g.texts("positionpiclist"),
            check_fill_pictures: g.texts("checkfillpiclist"),
        };
        g.leftovers(&mut unmapped);
        info
    });
    // The picture lists are documented at the top level too; accept them there.
    let mut gearbox = gearbox.unwrap_or_default();
    gearbox.joint_pictures.extend(r.texts("jointpiclist"));
    gearbox.position_pictures.extend(r.texts("positionpiclist"));
    gearbox
        .check_fill_pictures
        .extend(r.texts("checkfillpiclist"));
    let transmission = Transmission {
        description: r.text("gearbox"),
        r#type: r.text("geartype"),
        gear_count: r.int32("gearnum"),
        gearbox: (gearbox != GearboxInfo::default()).then_some(gearbox),
    };
    let body = Body {
        r#type: r.text("bodytype"),
        structure: r.text("bodystructure"),
        form: r.text("carbody"),
        door_count: positive(r.int32("doornum")),
        seat_count: positive(r.int32("seatnum")),
        length_mm: positive(r.int32("len")),
        width_mm: positive(r.int32("width")),
        height_mm: positive(r.int32("height")),
        wheelbase_mm: positive(r.int32("wheelbase")),
        curb_weight_kg: positive(r.int32("weight")),
        rated_load_kg: r.int32("ratedloadweight"),
        size_class: r.text("sizetype"),
    };
    let chassis = Chassis {
        drive_mode: r.text("drivemode"),
        front_brake: r.text("frontbraketype"),
        rear_brake: r.text("rearbraketype"),
        parking_brake: r.text("parkingbraketype"),
        front_tire_size: r.text("fronttiresize"),
        rear_tire_size: r.text("reartiresize"),
        chassis: r.text("chassis"),
    };
    let engine_oil = r.object("machineoil").map(|mut o| {
        let oil = EngineOil {
            volume: o.text("volume"),
            viscosity: o.text("viscosity"),
            level: o.text("level"),
            grade: o.text("grade"),
        };
        o.leftovers(&mut unmapped);
        oil
    });
    let msrp_text = r.text("price");
    let market_price_text = r.text("marketprice");
    let pricing = Pricing {
        msrp: wan_yuan_to_cny(&msrp_text),
        msrp_text,
        market_price: wan_yuan_to_cny(&market_price_text),
        market_price_text,
    };
    let candidates = r
        .array("carlist")
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(m) => {
                let mut c = Fields::new(m);
                let model = CandidateModel {
                    name: c.text("name"),
                    type_id: c.int("typeid"),
                    miit_model: c.text("model"),
                    type_name: c.text("typename"),
                    car_id: c.int("carid"),
                };
                let mut extra = HashMap::new();
                c.leftovers(&mut extra);
                for (k, v) in extra {
                    unmapped.insert(format!("carlist[].{k}"), v);
                }
                Some(model)
            }
            // Not an object: kept, not dropped.
            other => {
                unmapped.insert("carlist[]".to_owned(), other.to_string());
                None
            }
        })
        .collect();

    let mut decode = VendorVinDecode {
        provenance: None,
        vin: {
            let v = r.text("vin");
            if v.is_empty() {
                requested_vin.to_owned()
            } else {
                v
            }
        },
        vendor_vin_valid: vendor_says_valid,
        brand: r.text("brand"),
        manufacturer: r.text("manufacturer"),
        name: r.text("name"),
        vehicle_type: r.text("cartype"),
        series: r.text("typename"),
        type_id: r.int("typeid"),
        model_year: model_year_text
            .get(..4)
            .and_then(|y| y.parse().ok())
            .filter(|y| (1950..=2100).contains(y)),
        model_year_text,
        launch_date: {
            let t = r.text("listdate");
            if domain::text::is_placeholder(&t) {
                String::new()
            } else {
                domain::dates::iso_date(&t).unwrap_or(t)
            }
        },
        is_import: import_flag(&mut r),
        logo_url: r.text("logo"),
        car_id: r.int("carid"),
        car_id_external: r.text("caridexternal"),
        group_id: r.text("groupid"),
        group_name: r.text("groupname"),
        version: r.text("version"),
        miit_model: r.text("model"),
        order_no,
        engine: Some(engine),
        transmission: Some(transmission),
        body: Some(body),
        chassis: Some(chassis),
        engine_oil,
        pricing: Some(pricing),
        candidates,
        unmapped_fields: HashMap::new(),
    };
    r.leftovers(&mut unmapped);
    // Beside `result` in `data`, and beside `data` in the envelope: named by where they
    // were, so they cannot overwrite result fields of the same name.
    let mut outer = HashMap::new();
    data.leftovers(&mut outer);
    for (k, v) in outer {
        unmapped.insert(format!("data.{k}"), v);
    }
    for (k, v) in envelope_extra {
        if !v.is_null() {
            unmapped.insert(format!("envelope.{k}"), v.to_string());
        }
    }
    decode.unmapped_fields = unmapped;
    Ok(ConnapiDecode {
        decode,
        vendor_says_valid,
    })
}

/// connapi quotes prices in 万元 (10 000 CNY): "122.43" is CNY 1 224 300. Parsed in
/// decimal text, not through f64, so cents are exact.
pub fn wan_yuan_to_cny(text: &str) -> Option<Money> {
    domain::money::wan_yuan_to_cny(text).map(|(units, nanos)| Money {
        currency_code: "CNY".to_owned(),
        units,
        nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample answer of seed 001, verbatim.
    pub(crate) const SEED_SAMPLE: &str = include_str!("testdata/seed_001_sample.json");

    #[test]
    fn seed_sample_maps_every_documented_field() {
        let env = parse_envelope(SEED_SAMPLE.as_bytes()).expect("envelope");
        assert_eq!(env.code, 200);
        let d = to_decode(env, "WP0AA2978BL012976").expect("decode").decode;
        assert_eq!(d.vin, "WP0AA2978BL012976");
        assert_eq!(d.brand, "保时捷");
        assert_eq!(d.manufacturer, "进口保时捷");
        assert_eq!(d.series, "Panamera");
        assert_eq!(d.model_year, Some(2010));
        assert_eq!(d.order_no, "776220802730791269");
        assert_eq!(d.is_import, Some(true));
        assert_eq!(d.vendor_vin_valid, Some(true));
        assert_eq!(d.car_id, Some(7131));
        assert_eq!(d.group_id, "7528");
        let engine = d.engine.as_ref().expect("engine");
        assert_eq!(engine.displacement_ml, Some(3605));
        assert_eq!(engine.cylinders, Some(6));
        assert_eq!(engine.max_power_kw, Some(220.0));
        assert_eq!(engine.combined_fuel_consumption_l_per_100km, Some(9.6));
        assert_eq!(engine.model, "M 46.40");
        let t = d.transmission.as_ref().expect("transmission");
        assert_eq!(t.gear_count, Some(7));
        assert_eq!(t.gearbox.as_ref().expect("gearbox").brand, "采埃孚");
        let b = d.body.as_ref().expect("body");
        assert_eq!(
            (b.length_mm, b.width_mm, b.height_mm),
            (Some(4970), Some(1931), Some(1418))
        );
        assert_eq!(b.rated_load_kg, None);
        assert_eq!(d.engine_oil.as_ref().expect("oil").viscosity, "0W-40");
        let p = d.pricing.as_ref().expect("pricing");
        assert_eq!(
            p.msrp.as_ref().map(|m| (m.units, m.nanos)),
            Some((1_224_300, 0))
        );
        assert_eq!(p.market_price, None);
        assert_eq!(d.candidates.len(), 7);
        assert_eq!(d.candidates[4].miit_model, "Panamera A231");
        assert!(
            d.unmapped_fields.is_empty(),
            "unmapped: {:?}",
            d.unmapped_fields
        );
    }

    #[test]
    fn unknown_keys_are_kept() {
        let body = r#"{"code":200,"msg":"成功","data":{"order_no":"1","result":{"vin":"X","brand":"B","newkey":"v","machineoil":{"volume":"4L","extra":1},"seatnum":"5-7"}}}"#;
        let d = to_decode(parse_envelope(body.as_bytes()).expect("env"), "X")
            .expect("decode")
            .decode;
        assert_eq!(
            d.unmapped_fields.get("newkey").map(String::as_str),
            Some("v"),
            "{:?}",
            d.unmapped_fields
        );
        assert_eq!(
            d.unmapped_fields
                .get("machineoil.extra")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            d.unmapped_fields.get("seatnum").map(String::as_str),
            Some("5-7")
        );
    }

    #[test]
    fn nothing_the_vendor_sends_is_dropped_whatever_its_shape() {
        let body = r#"{"code":200,"msg":"成功","taskNo":"T1","data":{"order_no":"1","x":"data-level",
            "result":{"vin":"X","x":"result-level","len":"99999999999","brand":{"cn":"保时捷"},
            "carlist":["7131 Panamera",{"name":"Panamera 4"}],"machineoil":[]}}}"#;
        let d = to_decode(parse_envelope(body.as_bytes()).expect("env"), "X")
            .expect("decode")
            .decode;
        let u = &d.unmapped_fields;
        assert_eq!(u.get("x").map(String::as_str), Some("result-level"));
        assert_eq!(u.get("data.x").map(String::as_str), Some("data-level"));
        assert_eq!(u.get("envelope.taskNo").map(String::as_str), Some("\"T1\""));
        assert_eq!(
            u.get("len").map(String::as_str),
            Some("99999999999"),
            "out of i32 range"
        );
        assert!(
            u.get("brand").is_some_and(|b| b.contains("保时捷")),
            "{u:?}"
        );
        assert_eq!(
            u.get("carlist[]").map(String::as_str),
            Some("\"7131 Panamera\"")
        );
        assert_eq!(d.candidates.len(), 1);
        assert!(
            d.engine_oil.is_none(),
            "PHP's [] is an absent object, not data"
        );
        assert!(!u.contains_key("machineoil"), "{u:?}");
    }

    #[test]
    fn php_and_string_encoded_shapes_are_answers() {
        // data as JSON text, and PHP's [] for an empty result: answers, not errors.
        let body = r#"{"code":200,"msg":"成功","data":"{\"order_no\":\"9\",\"result\":{\"vin\":\"X\",\"brand\":\"B\"}}"}"#;
        let d = to_decode(parse_envelope(body.as_bytes()).expect("env"), "X")
            .expect("decode")
            .decode;
        assert_eq!((d.order_no.as_str(), d.brand.as_str()), ("9", "B"));
        let body = r#"{"code":200,"msg":"成功","data":{"order_no":"9","result":[]}}"#;
        let d = to_decode(parse_envelope(body.as_bytes()).expect("env"), "X")
            .expect("an empty result is an empty answer")
            .decode;
        assert_eq!(d.order_no, "9");
        for body in [
            r#"{"code":200,"msg":"成功","data":{"order_no":"9","result":null}}"#,
            r#"{"code":200,"msg":"成功","data":{"order_no":"9","result":""}}"#,
            r#"{"code":200,"msg":"成功","data":[]}"#,
            "\u{FEFF}{\"code\":200,\"msg\":\"成功\",\"data\":{\"result\":[]}}",
        ] {
            let env = parse_envelope(body.as_bytes()).expect(body);
            assert!(to_decode(env, "X").is_ok(), "{body}");
        }
    }

    #[test]
    fn malformed_bodies_are_errors_without_echoing_the_body() {
        let err = parse_envelope(br#"{"code":200,"msg":"ok","data":{"result":{"vin":"LSVAG21"#)
            .expect_err("truncated");
        assert!(err.contains("truncated"), "{err}");
        assert!(!err.contains("LSVAG21"));
        assert!(parse_envelope(b"[]").is_err());
        assert!(parse_envelope(br#"{"msg":"x"}"#).is_err());
        let env = parse_envelope(br#"{"code":200,"msg":"ok","data":null}"#).expect("env");
        assert!(to_decode(env, "X").is_err());
    }

    #[test]
    fn prices_in_wan_yuan_become_exact_cny() {
        let m = wan_yuan_to_cny("122.43").expect("price");
        assert_eq!((m.units, m.nanos), (1_224_300, 0));
        let m = wan_yuan_to_cny("9.98万").expect("price");
        assert_eq!((m.units, m.nanos), (99_800, 0));
        let m = wan_yuan_to_cny("0.00005").expect("price");
        assert_eq!((m.units, m.nanos), (0, 500_000_000));
        assert_eq!(wan_yuan_to_cny(""), None);
        assert_eq!(wan_yuan_to_cny("面议"), None);
        assert_eq!(wan_yuan_to_cny("-1"), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Arbitrary JSON, a few levels deep, with the keys the transformer looks for.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop::sample::select(vec![
                            "code",
                            "msg",
                            "data",
                            "result",
                            "order_no",
                            "vin",
                            "brand",
                            "price",
                            "carlist",
                            "gearboxinfo",
                            "machineoil",
                            "seatnum",
                            "iscorrect",
                            "x",
                        ])
                        .prop_map(str::to_owned),
                        inner,
                        0..6,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// Whatever a vendor sends, the transformer answers or errors; it never panics.
            #[test]
            fn any_json_is_handled(body in json()) {
                let bytes = serde_json::to_vec(&body).expect("serialises");
                if let Ok(env) = parse_envelope(&bytes) {
                    let _ = to_decode(env, "WP0AA2978BL012976");
                }
            }

            #[test]
            fn any_bytes_are_handled(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                let _ = parse_envelope(&bytes);
            }

            #[test]
            fn prices_parse_exactly(wan in 0u32..10_000, cents in 0u32..100) {
                prop_assume!(wan > 0 || cents > 0);
                let m = wan_yuan_to_cny(&format!("{wan}.{cents:02}")).expect("price");
                // 1 万元 = 10 000 CNY; 0.01 万元 = 100 CNY.
                prop_assert_eq!(m.units, i64::from(wan) * 10_000 + i64::from(cents) * 100);
                prop_assert_eq!(m.nanos, 0);
            }
        }
    }
}
