//! Messy-but-plausible vendor payloads fed end to end through LookupVehicle.
//!
//! xiaoshibao is a stub HTTP server answering a fixed body; platecb's answer is put in
//! the callback store beforehand (a stored answer is reused without a call), so both
//! transformers and the merge run exactly as in production. Each test asserts what a
//! demanding caller expects.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{LookupVehicleRequest, LookupVehicleResponse};
use plate_service::config::PlateServiceConfig;
use tonic::Code;
use tonic::transport::Channel;

const PLATE: &str = "粤B12345";
/// VINs that pass the check digit.
const VIN_A: &str = "LSVAM4182N2123456";
const VIN_B: &str = "LNBSCC3H5JT920714";

fn temp_store() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "axle-messy-payloads-{}-{}.sqlite",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

/// A one-route stub vendor answering `status`, `content_type`, `body` to every POST.
async fn stub(status: u16, content_type: &'static str, body: Vec<u8>) -> String {
    let app = Router::new().route(
        "/v1/vehicle/query",
        post(move || {
            let body = body.clone();
            async move {
                let mut r = (StatusCode::from_u16(status).expect("status"), body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                r
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// LookupVehicle for PLATE with xiaoshibao answering `xs` (HTTP 200, JSON) and platecb's
/// stored callback `response` being `pc` (platecb disabled when `None`).
async fn lookup_with(
    xs_status: u16,
    content_type: &'static str,
    xs: Vec<u8>,
    pc: Option<&str>,
    tweak: impl FnOnce(&mut PlateServiceConfig),
) -> LookupVehicleResponse {
    let base = stub(xs_status, content_type, xs).await;
    let mut cfg = PlateServiceConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.xiaoshibao.http.base_url = base;
    cfg.vendors.xiaoshibao.http.retry.initial_backoff = Duration::from_millis(5);
    cfg.vendors.xiaoshibao.http.retry.max_attempts = 2;
    // Nothing listens here: platecb must never be called, only its stored answer read.
    "http://127.0.0.1:9".clone_into(&mut cfg.vendors.platecb.http.base_url);
    cfg.vendors.platecb.webhook_listen = "127.0.0.1:0".parse().expect("addr");
    cfg.vendors.platecb.max_wait = Duration::from_millis(200);
    let store_path = temp_store();
    cfg.vendors.platecb.store_path = store_path.clone();
    match pc {
        Some(payload) => {
            use callback::Store as _;
            let store = callback::SqliteStore::open(&store_path).expect("store");
            store
                .insert_result(callback::NewResult {
                    vendor: plate_service::connectors::platecb::SOURCE,
                    request_id: "review-1",
                    vendor_request_id: "",
                    query_key: PLATE,
                    payload,
                    sandbox: false,
                })
                .await
                .expect("stored");
        }
        None => cfg.vendors.platecb.enabled = false,
    }
    tweak(&mut cfg);
    let server = plate_service::start(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
    )
    .await
    .expect("starts");
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = PlateServiceClient::new(channel);
    let r = client
        .lookup_vehicle(LookupVehicleRequest {
            plate: PLATE.to_owned(),
            color: 0,
        })
        .await
        .expect("LookupVehicle answers")
        .into_inner();
    std::mem::forget(server);
    r
}

async fn xs_json(data: &str, pc: Option<&str>) -> LookupVehicleResponse {
    let body = format!(r#"{{"code":0,"message":"success","data":{data}}}"#);
    lookup_with(200, "application/json", body.into_bytes(), pc, |_| {}).await
}

fn source<'a>(
    r: &'a LookupVehicleResponse,
    name: &str,
) -> &'a contracts::axle::common::v1::SourceStatus {
    r.sources
        .iter()
        .find(|s| s.source == name)
        .expect("source status")
}

/// Collects failed expectations so one test reports every sub-case.
#[derive(Default)]
struct Soft(Vec<String>);
impl Soft {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: &T, want: &T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
    fn check(&mut self, what: &str, ok: bool, detail: &str) {
        if !ok {
            self.0.push(format!("{what}: {detail}"));
        }
    }
    fn done(self) {
        assert!(self.0.is_empty(), "\n  {}", self.0.join("\n  "));
    }
}

const PC_GOOD: &str = r#"{"c_plate":"粤B12345","c_vin":"LNBSCC3H5JT920714","c_properties":"非营业个人","c_brand":"smart","car_fullname":"2022款 Pulse心动版","c_firstissuedate":"2018-12","c_color":"白","c_car_type":"小型普通客车","result_status":"1"}"#;

// ---------------------------------------------------------------------------------------
// Placeholders from the higher-priority source
// ---------------------------------------------------------------------------------------

/// xiaoshibao (priority 1) says "unknown" in its own words; platecb knows. The unknowns
/// must not shadow platecb's values, nor count as a disagreement.
#[tokio::test]
async fn placeholders_from_xiaoshibao_do_not_shadow_platecb() {
    let r = xs_json(
        r#"{"vin":"LNBSCC3H5JT920714","usage":"暂无","brand":"-","model":"null","first_register_date":"0000-00-00"}"#,
        Some(PC_GOOD),
    )
    .await;
    assert_eq!(source(&r, "xiaoshibao").state, SourceState::Ok as i32);
    assert_eq!(source(&r, "platecb").state, SourceState::Ok as i32);
    let mut s = Soft::default();
    s.eq(
        "usage 暂无 vs 非营业个人",
        &(r.usage.clone().map(|u| (u.code, u.original_text))),
        &(Some(("A".to_owned(), "非营业个人".to_owned()))),
    );
    s.eq(
        "brand - vs smart",
        &(r.brand.clone().map(|b| b.value)),
        &(Some("smart".to_owned())),
    );
    s.eq(
        "model \"null\" vs platecb",
        &(r.model.clone().map(|b| b.value)),
        &(Some("2022款 Pulse心动版".to_owned())),
    );
    s.eq(
        "first_register_date 0000-00-00 vs 2018-12",
        &(r.first_registration_date.clone().map(|d| d.value)),
        &(Some("2018-12".to_owned())),
    );
    s.check(
        "placeholders are no disagreement",
        r.disagreements.is_empty(),
        &format!(
            "{:?}",
            r.disagreements
                .iter()
                .map(|d| (&d.field, &d.chosen_value))
                .collect::<Vec<_>>()
        ),
    );
    s.done();
}

/// platecb's own "unknown" words other than "-" (seed 004 uses "-", real answers also
/// "未知", "暂无", "无") are not facts either.
#[tokio::test]
async fn platecb_unknown_words_are_not_facts() {
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_B}","usage":"非营运"}}"#),
        Some(
            r#"{"c_vin":"LNBSCC3H5JT920714","c_color":"未知","c_car_type":"暂无","c_pfbz":"无","c_number":"--","result_status":"1"}"#,
        ),
    )
    .await;
    let mut s = Soft::default();
    s.eq("c_color 未知", &(r.body_color.map(|f| f.value)), &None);
    s.eq("c_car_type 暂无", &(r.vehicle_type.map(|f| f.value)), &None);
    s.eq("c_pfbz 无", &(r.emission_standard.map(|f| f.value)), &None);
    s.eq("c_number --", &(r.engine_number.map(|f| f.value)), &None);
    s.done();
}

/// A VIN placeholder is "no VIN", not "a VIN that fails its check digit".
#[tokio::test]
async fn a_placeholder_vin_is_no_vin() {
    let r = xs_json(r#"{"vin":"-","usage":"非营运","brand":"一汽-大众"}"#, None).await;
    assert_eq!(r.vin_valid, None, "vin: {:?}", r.vin);
    assert_eq!(r.vin, None);
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn dates_in_other_spellings_become_iso() {
    // epoch milliseconds (Java's Date serialised by Jackson/fastjson): 2018-06-12 CST.
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_A}","first_register_date":1528732800000}}"#),
        None,
    )
    .await;
    let mut s = Soft::default();
    s.eq(
        "epoch millis",
        &(r.first_registration_date.map(|d| d.value)),
        &(Some("2018-06-12".to_owned())),
    );
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_A}","first_register_date":"201806"}}"#),
        None,
    )
    .await;
    s.eq(
        "YYYYMM",
        &(r.first_registration_date.map(|d| d.value)),
        &(Some("2018-06".to_owned())),
    );
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_A}","first_register_date":"2018年 6月12日"}}"#),
        None,
    )
    .await;
    s.eq(
        "space inside a Chinese date",
        &(r.first_registration_date.map(|d| d.value)),
        &(Some("2018-06-12".to_owned())),
    );
    s.done();
}

#[tokio::test]
async fn a_bom_prefixed_body_is_read() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(
        format!(r#"{{"code":0,"message":"success","data":{{"vin":"{VIN_A}","usage":"非营运"}}}}"#)
            .as_bytes(),
    );
    let r = lookup_with(200, "application/json", body, None, |_| {}).await;
    let st = source(&r, "xiaoshibao");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(r.usage.map(|u| u.code), Some("A".to_owned()));
}

/// The seed lists 400 / 401 / 403 / 429 / 503 next to a body envelope whose success code
/// is 0: many such vendors put them in the body with HTTP 200.
#[tokio::test]
async fn error_codes_in_the_body_keep_their_meaning() {
    let mut s = Soft::default();
    for (code, grpc, retried) in [
        (429, Code::ResourceExhausted, true),
        (503, Code::Unavailable, true),
        (401, Code::FailedPrecondition, false),
        (403, Code::FailedPrecondition, false),
        (400, Code::FailedPrecondition, false),
    ] {
        let body = format!(r#"{{"code":{code},"message":"error {code}"}}"#);
        let r = lookup_with(200, "application/json", body.into_bytes(), None, |_| {}).await;
        let st = source(&r, "xiaoshibao");
        s.eq(
            &format!("body code {code} (reason {})", st.reason),
            &(Code::from_i32(st.code), st.attempts > 1),
            &(grpc, retried),
        );
    }
    s.done();
}

/// PHP's empty array / empty string for "no data": a no-record answer, not a broken one.
#[tokio::test]
async fn php_empty_data_is_no_record() {
    let mut s = Soft::default();
    for data in ["[]", r#""""#, "{}"] {
        let r = xs_json(data, None).await;
        let st = source(&r, "xiaoshibao");
        s.eq(
            &format!("data {data} ({})", st.reason),
            &(SourceState::try_from(st.state).ok()),
            &Some(SourceState::NotFound),
        );
    }
    s.done();
}

// ---------------------------------------------------------------------------------------
// Confidence / merge
// ---------------------------------------------------------------------------------------

/// A vendor confidence given in percent (95) is 0.95, not certainty.
#[tokio::test]
async fn a_percent_confidence_is_not_certainty() {
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_A}","brand":"一汽-大众","confidence":95}}"#),
        None,
    )
    .await;
    let c = r.brand.expect("brand").confidence;
    assert!((c - 0.95).abs() < 1e-3, "confidence {c}");
}

/// Spacing and dashes the vendors write differently are the same text: no disagreement,
/// no confidence lost.
#[tokio::test]
async fn spelling_variants_are_agreement() {
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_B}","brand":"一汽-大众","model":"宝来 2018款"}}"#),
        Some(
            r#"{"c_vin":"LNBSCC3H5JT920714","c_brand":"一汽大众","car_fullname":"宝来2018款","result_status":"1"}"#,
        ),
    )
    .await;
    assert!(
        r.disagreements.is_empty(),
        "disagreements: {:?}",
        r.disagreements
            .iter()
            .map(|d| (&d.field, &d.chosen_value, &d.values[0].value))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------
// Personal data in fields the document does not describe
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn personal_data_in_unmapped_fields_is_masked() {
    let r = xs_json(
        &format!(
            r#"{{"vin":"{VIN_A}","usage":"非营运","owner_name":"张三","id_card":"440301199001011234",
            "phone":"13800138000","vehicle":{{"vin":"{VIN_B}"}},"fdjh":"AD50EG081600062",
            "发动机编号":"DLF123456"}}"#
        ),
        None,
    )
    .await;
    let all: String = r.unmapped_fields.iter().fold(String::new(), |mut acc, f| {
        use std::fmt::Write as _;
        let _ = write!(acc, "{}={}; ", f.name, f.value);
        acc
    });
    let mut s = Soft::default();
    for secret in [
        "张三",
        "440301199001011234",
        "13800138000",
        VIN_B,
        "AD50EG081600062",
        "DLF123456",
    ] {
        s.check(secret, !all.contains(secret), "escapes masking");
    }
    eprintln!("unmapped as returned: {all}");
    s.done();
}

/// "province" contains "vin": an echoed province must not be masked as if it were a VIN.
#[tokio::test]
async fn an_echoed_province_is_not_masked_as_a_vin() {
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_A}","province":"广东","city":"深圳"}}"#),
        None,
    )
    .await;
    let province = r
        .unmapped_fields
        .iter()
        .find(|f| f.name == "province")
        .map(|f| f.value.clone());
    assert_eq!(province.as_deref(), Some("广东"));
}

// ---------------------------------------------------------------------------------------
// platecb typed values
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn platecb_numbers_and_prices() {
    let r = xs_json(
        &format!(r#"{{"vin":"{VIN_B}"}}"#),
        Some(
            r#"{"c_vin":"LNBSCC3H5JT920714","c_passengers":"5.0","c_zdj":"0","result_status":"1"}"#,
        ),
    )
    .await;
    let mut s = Soft::default();
    s.eq(
        "c_passengers \"5.0\"",
        &(r.approved_passengers.map(|p| p.value)),
        &Some(5),
    );
    s.eq(
        "c_zdj \"0\" as money",
        &(r.details
            .and_then(|d| d.guide_price)
            .and_then(|p| p.value)
            .map(|m| m.units)),
        &None,
    );
    s.done();
}

#[tokio::test]
async fn a_gbk_body_that_says_so_is_read() {
    // {"code":0,"message":"success","data":{"brand":"一汽-大众","usage":"非营运"}} in GBK.
    let mut body = br#"{"code":0,"message":"success","data":{"brand":""#.to_vec();
    body.extend_from_slice(&[0xd2, 0xbb, 0xc6, 0xfb, 0x2d, 0xb4, 0xf3, 0xd6, 0xda]);
    body.extend_from_slice(br#"","usage":""#);
    body.extend_from_slice(&[0xb7, 0xc7, 0xd3, 0xaa, 0xd4, 0xcb]);
    body.extend_from_slice(br#""}}"#);
    let r = lookup_with(200, "application/json;charset=GBK", body, None, |_| {}).await;
    let st = source(&r, "xiaoshibao");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(r.brand.map(|b| b.value), Some("一汽-大众".to_owned()));
}
