//! What vendors answer: every connector's reader of an HTTP response, from the body's
//! declared charset to the answer, retry or error it makes of it, and the readers of the
//! answers stored for asynchronous vendors.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use bytes::Bytes;
use connector::client::{Classification, RawResponse, declared_charset_to_utf8};
use connector::platform::{CODE_OK, Envelope};
use http::{HeaderMap, HeaderValue, header};

use ocr_service::connectors::apihz;
use plate_service::connectors::{platecb, xiaoshibao};
use vin_service::connectors::connapi;
use violation_service::connectors::apistore;

/// The longest wait a vendor's Retry-After may impose (the connector's cap).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// One vendor answer from fuzz input: the first byte picks the HTTP status (200 most
/// often), the charset its Content-Type declares and a Retry-After; the rest is the body,
/// decoded by that charset as the connector client decodes it before any connector
/// reads it.
fn response(data: &[u8]) -> RawResponse {
    const STATUSES: [u16; 16] = [
        200, 200, 200, 200, 200, 200, 200, 200, 201, 400, 401, 403, 404, 429, 500, 503,
    ];
    const CHARSETS: [&str; 4] = [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=GBK",
        "text/html; charset=\"gb18030\"",
    ];
    const RETRY_AFTER: [Option<&str>; 4] = [
        None,
        Some("3"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        Some("99999999999999999999999"),
    ];
    let (&pick, body) = data.split_first().unwrap_or((&0, data));
    let pick = usize::from(pick);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CHARSETS[(pick >> 4) & 3]),
    );
    if let Some(after) = RETRY_AFTER[pick >> 6] {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static(after));
    }
    let body = declared_charset_to_utf8(&headers, body.to_vec());
    RawResponse {
        status: STATUSES[pick & 15],
        headers,
        body: Bytes::from(body),
    }
}

/// What holds for every connector: an answer only from a 2xx response, and no retry
/// asked for later than the cap.
fn common<T>(resp: &RawResponse, decided: &Classification<T>) {
    match decided {
        Classification::Done(_) => assert!(
            (200..300).contains(&resp.status),
            "an answer from HTTP {}",
            resp.status
        ),
        Classification::Retry { after, .. } => {
            assert!(after.is_none_or(|a| a <= MAX_RETRY_AFTER), "{after:?}");
        }
        Classification::Fail(_) | Classification::FailBilled(_) => {}
    }
}

/// connapi (seed 001): VIN decoding.
pub fn connapi(data: &[u8]) {
    let resp = response(data);
    common(&resp, &connapi::classify(&resp, "LSVAG2180E2100010"));
}

/// xiaoshibao (seed 000): plate -> vehicle.
pub fn xiaoshibao(data: &[u8]) {
    let resp = response(data);
    common(&resp, &xiaoshibao::classify(&resp));
}

/// platecb (seed 004): the answer to a submission. Vehicle data it answers at once is
/// stored as a callback's `response` would be, so it must read back as one.
pub fn platecb_submit(data: &[u8]) {
    let resp = response(data);
    let decided = platecb::classify_submit(&resp);
    common(&resp, &decided);
    if let Classification::Done(platecb::SubmitAnswer {
        data: Some(stored), ..
    }) = &decided
        && let Err(e) = platecb::transformers::to_vehicle(stored)
    {
        panic!("an answer platecb stored does not read back: {e}\n{stored}");
    }
}

/// platecb (seed 004): a stored answer (a callback's `response`, or a synchronous answer
/// stored the same way) as the source reads it, and the ids of the echoed `request`.
pub fn platecb_answer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = platecb::transformers::result_status(&text);
    if let Ok(vehicle) = platecb::transformers::to_vehicle(&text) {
        let _ = vehicle.succeeded();
    }
    let (vendor_id, _ours) = platecb::callback_ids("v1", Some(&text));
    assert_eq!(vendor_id, "v1");
}

/// apistore (seed 003): violation queries. An answer (10000) is stored as its
/// envelope's JSON, so it must read back as one, with its records.
pub fn apistore(data: &[u8]) {
    let resp = response(data);
    let seen_time = AtomicI64::new(i64::MIN);
    let decided = apistore::classify(&resp, &seen_time);
    common(&resp, &decided);
    if let Classification::Done(apistore::Reply::Answered(stored)) = &decided {
        let envelope = Envelope::read(stored.as_bytes())
            .unwrap_or_else(|e| panic!("a stored apistore answer does not read back: {e}"));
        assert_eq!(envelope.code, CODE_OK);
        if let Err(e) = apistore::transformers::to_report(&envelope.members) {
            panic!("a stored apistore answer has no report: {e}\n{stored}");
        }
    }
}

/// apistore (seed 003): a stored answer (from a callback) as the source reads it.
pub fn apistore_answer(data: &[u8]) {
    if let Ok(envelope) = Envelope::read(data)
        && envelope.code == CODE_OK
    {
        let _ = apistore::transformers::to_report(&envelope.members);
    }
    let text = String::from_utf8_lossy(data);
    let (vendor_id, _ours) = apistore::callback_ids("v1", Some(&text));
    assert_eq!(vendor_id, "v1");
}

/// apihz (seed 002): 行驶证 OCR, then the fields of either side read from its answer.
pub fn apihz(data: &[u8]) {
    let resp = response(data);
    let decided = apihz::classify(&resp);
    common(&resp, &decided);
    if let Classification::Done(envelope) = &decided {
        let provenance = contracts::axle::common::v1::Provenance::default();
        for side in [
            ocr_service::read::Side::Front,
            ocr_service::read::Side::Back,
        ] {
            let _ = apihz::transformers::to_read(&envelope.fields, side, 0.9, &provenance);
        }
    }
}
