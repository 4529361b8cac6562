//! Messy-but-plausible connapi payloads fed end to end through DecodeVin.
//!
//! connapi is a tiny stub HTTP server answering a fixed body (the seed 001 sample with
//! one thing changed); each test asserts what a demanding caller expects.

mod common;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::vin::v1::{DecodeVinRequest, DecodeVinResponse};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEED_VIN: &str = "WP0AA2978BL012976";
const SEED: &str = include_str!("../src/connectors/connapi/testdata/seed_001_sample.json");

/// Collects failed expectations so one test reports every sub-case.
#[derive(Default)]
struct Soft(Vec<String>);
impl Soft {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: &T, want: &T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
    fn done(self) {
        assert!(self.0.is_empty(), "\n  {}", self.0.join("\n  "));
    }
}

/// A stub HTTP/1.1 server answering `status`, `content_type`, `body` to every request.
async fn stub(status: u16, content_type: &'static str, body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read the head and a body of content-length, if any.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

async fn decode_with(status: u16, content_type: &'static str, body: Vec<u8>) -> DecodeVinResponse {
    let url = stub(status, content_type, body).await;
    let mut s = common::suite_with_sandbox(url, |_| {}).await;
    s.client
        .decode_vin(DecodeVinRequest {
            vin: SEED_VIN.to_owned(),
        })
        .await
        .expect("DecodeVin answers")
        .into_inner()
}

/// The seed sample with `edit` applied to `data.result`.
fn seed_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(SEED).expect("seed");
    let r = v["data"]["result"].as_object_mut().expect("result");
    edit(r);
    serde_json::to_vec(&v).expect("json")
}

async fn decode_seed_with(
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> DecodeVinResponse {
    decode_with(200, "application/json", seed_with(edit)).await
}

fn source<'a>(r: &'a DecodeVinResponse, name: &str) -> &'a SourceStatus {
    r.sources
        .iter()
        .find(|s| s.source == name)
        .expect("source listed")
}

#[tokio::test]
async fn a_bom_prefixed_body_is_read() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(SEED.as_bytes());
    let r = decode_with(200, "application/json", body).await;
    let st = source(&r, "connapi");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
}

#[tokio::test]
async fn launch_dates_are_iso_in_the_summary() {
    let mut s = Soft::default();
    for (sent, want) in [
        ("2010/9/1", Some("2010-09-01")),
        ("2010-09-01 00:00:00", Some("2010-09-01")),
        ("20100901", Some("2010-09-01")),
        ("0000-00-00", None),
    ] {
        let r = decode_seed_with(|m| {
            m.insert("listdate".into(), json!(sent));
        })
        .await;
        let got = r.summary.and_then(|s| s.launch_date).map(|d| d.value);
        s.eq(&format!("listdate {sent:?}"), &(got.as_deref()), &want);
    }
    s.done();
}

#[tokio::test]
async fn a_zero_price_is_no_price() {
    let mut s = Soft::default();
    for sent in ["0", "0.00"] {
        let r = decode_seed_with(|m| {
            m.insert("price".into(), json!(sent));
        })
        .await;
        let got = r
            .summary
            .and_then(|s| s.msrp)
            .and_then(|m| m.value)
            .map(|m| m.units);
        s.eq(&format!("price {sent:?} in the summary"), &got, &None);
    }
    s.done();
}

#[tokio::test]
async fn numbers_written_as_decimal_strings_are_numbers() {
    let r = decode_seed_with(|m| {
        m.insert("seatnum".into(), json!("5.0"));
        m.insert("displacementml".into(), json!("3605.0"));
        m.insert("gearnum".into(), json!("7.0"));
        m.insert("len".into(), json!(" 4970.0 "));
    })
    .await;
    let v = &r.vendor_decodes[0];
    let mut s = Soft::default();
    s.eq(
        "seatnum 5.0",
        &(v.body.as_ref().and_then(|b| b.seat_count)),
        &Some(5),
    );
    s.eq(
        "displacementml 3605.0",
        &(v.engine.as_ref().and_then(|e| e.displacement_ml)),
        &Some(3605),
    );
    s.eq(
        "gearnum 7.0",
        &(v.transmission.as_ref().and_then(|t| t.gear_count)),
        &Some(7),
    );
    s.eq(
        "len 4970.0",
        &(v.body.as_ref().and_then(|b| b.length_mm)),
        &Some(4970),
    );
    s.eq(
        "summary seats",
        &(r.summary.and_then(|s| s.seats).map(|f| f.value)),
        &Some(5),
    );
    s.done();
}

#[tokio::test]
async fn sentinel_numbers_are_no_value() {
    let r = decode_seed_with(|m| {
        m.insert("seatnum".into(), json!("0"));
        m.insert("len".into(), json!("-1"));
    })
    .await;
    let v = &r.vendor_decodes[0];
    let mut s = Soft::default();
    s.eq(
        "seatnum 0",
        &(v.body.as_ref().and_then(|b| b.seat_count)),
        &None,
    );
    s.eq(
        "len -1",
        &(v.body.as_ref().and_then(|b| b.length_mm)),
        &None,
    );
    s.eq(
        "summary seats from \"0\"",
        &(r.summary.and_then(|s| s.seats).map(|f| f.value)),
        &None,
    );
    s.done();
}

#[tokio::test]
async fn flags_in_words_are_flags() {
    let mut s = Soft::default();
    for (sent, want) in [
        ("是", true),
        ("否", false),
        ("true", true),
        ("false", false),
        ("进口", true),
        ("国产", false),
    ] {
        let r = decode_seed_with(|m| {
            m.insert("isimport".into(), json!(sent));
        })
        .await;
        s.eq(
            &format!("isimport {sent:?}"),
            &(r.vendor_decodes[0].is_import),
            &Some(want),
        );
    }
    s.done();
}

/// Seed 001 types carlist, machineoil and gearboxinfo as `string`: JSON text is within
/// the contract (the envelope's `data` is already accepted in that form).
#[tokio::test]
async fn structures_sent_as_json_text_are_read() {
    let r = decode_seed_with(|m| {
        for k in ["carlist", "machineoil", "gearboxinfo"] {
            let text = m[k].to_string();
            m.insert(k.into(), Value::String(text));
        }
    })
    .await;
    let v = &r.vendor_decodes[0];
    let mut s = Soft::default();
    s.eq("carlist as text", &(v.candidates.len()), &7);
    s.eq(
        "machineoil as text",
        &(v.engine_oil.as_ref().map(|o| o.viscosity.as_str())),
        &Some("0W-40"),
    );
    s.eq(
        "gearboxinfo as text",
        &(v.transmission
            .as_ref()
            .and_then(|t| t.gearbox.as_ref())
            .map(|g| g.brand.as_str())),
        &Some("采埃孚"),
    );
    s.done();
}

/// PHP's json_encode of an array with non-sequential keys, and a one-element list
/// collapsed to its element.
#[tokio::test]
async fn carlist_in_php_shapes() {
    let mut s = Soft::default();
    let r = decode_seed_with(|m| {
        let list = m["carlist"].as_array().expect("list").clone();
        let obj: serde_json::Map<String, Value> = list
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect();
        m.insert("carlist".into(), Value::Object(obj));
    })
    .await;
    s.eq(
        "carlist as {\"0\":..}",
        &(r.vendor_decodes[0].candidates.len()),
        &7,
    );
    let r = decode_seed_with(|m| {
        let first = m["carlist"][0].clone();
        m.insert("carlist".into(), first);
    })
    .await;
    s.eq(
        "carlist as one object",
        &(r.vendor_decodes[0].candidates.len()),
        &1,
    );
    s.done();
}

/// "No result" in PHP's other spellings: an answer that there is no record, not an
/// unreadable (and billed) response.
#[tokio::test]
async fn an_empty_result_is_no_record() {
    let mut s = Soft::default();
    for body in [
        r#"{"code":200,"msg":"成功","data":{"order_no":"1","result":null}}"#,
        r#"{"code":200,"msg":"成功","data":{"order_no":"1","result":""}}"#,
        r#"{"code":200,"msg":"成功","data":[]}"#,
    ] {
        let r = decode_with(200, "application/json", body.as_bytes().to_vec()).await;
        let st = source(&r, "connapi");
        s.eq(
            &format!("{body} ({}: {})", st.reason, st.message),
            &(SourceState::try_from(st.state).ok()),
            &Some(SourceState::NotFound),
        );
    }
    s.done();
}

/// The vendor answered for another VIN (a fuzzy match): its data must not be merged at
/// full confidence as if it described the requested vehicle.
#[tokio::test]
async fn an_answer_for_another_vin_is_not_trusted_fully() {
    let r = decode_seed_with(|m| {
        m.insert("vin".into(), json!("WP0AA2978BL099999"));
    })
    .await;
    let brand = r.summary.and_then(|s| s.brand).expect("brand");
    assert!(
        brand.confidence < 0.9,
        "brand from an answer about WP0AA2978BL099999 merged at {}",
        brand.confidence
    );
}
