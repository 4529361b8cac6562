//! What vendors post to our webhooks: the body parser (urlencoded, multipart and JSON,
//! by Content-Type) and the callback signature check of seed 004's platform (platecb,
//! apistore).

use std::fmt::Write as _;
use std::time::SystemTime;

use bytes::Bytes;
use callback::webhook::{self, Body, Checked, Delivery, Fields, Refusal, Verifier};
use http::{HeaderMap, HeaderValue, header};
use settings::Secret;

use plate_service::connectors::platecb::transformers::{STATUS_QUERYING, result_status};
use plate_service::connectors::platecb::webhook::PlatecbVerifier;
use violation_service::connectors::apistore::webhook::ApistoreVerifier;

const APPID: &str = "axle-fuzz-app";
const SECRET: &str = "axle-fuzz-secret";
const BOUNDARY: &str = "AxleFuzzBoundary7MA4YWxkTrZu0gW";

fn platecb() -> PlatecbVerifier {
    PlatecbVerifier {
        appid: APPID.to_owned(),
        secret: Secret::new(SECRET.to_owned()),
    }
}

fn apistore() -> ApistoreVerifier {
    ApistoreVerifier {
        appid: APPID.to_owned(),
        secret: Secret::new(SECRET.to_owned()),
    }
}

fn deliver(content_type: &[u8], body: Vec<u8>) -> Result<Delivery, webhook::BodyError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    Delivery::parse(headers, Bytes::from(body))
}

fn urlencode<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    form.finish().into_bytes()
}

/// A delivery as posted: the input's first line is the Content-Type, the rest the body.
/// It is refused with an error or parsed; parsed form fields say the same once encoded
/// again as a form; and neither platform verifier accepts it unless it carries our app
/// id and the right signature.
pub fn webhook(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let Ok(delivery) = deliver(content_type, body.to_vec()) else {
        return;
    };
    if let Body::Form(fields) = delivery.body() {
        assert!(fields.len() <= webhook::body::MAX_FIELDS);
        let named: Fields = fields
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let again = deliver(
            b"application/x-www-form-urlencoded",
            urlencode(named.iter()),
        )
        .expect("fields encoded as a form parse");
        assert_eq!(
            again.body(),
            &Body::Form(named),
            "form fields change when re-encoded"
        );
    }
    let now = SystemTime::now();
    for checked in [
        platecb().check(&delivery, now),
        apistore().check(&delivery, now),
    ] {
        if checked.is_ok() {
            let field = |k| delivery.field(k).unwrap_or_default();
            assert_eq!(field("appid"), APPID, "accepted another app's delivery");
            let expected = connector::signing::md5_time_appid_secret(&field("time"), APPID, SECRET);
            assert_eq!(
                field("sign").trim().to_ascii_lowercase(),
                expected,
                "accepted a wrong signature"
            );
        }
    }
}

/// A delivery signed the way the platform signs (md5(time + appid + secret)) from fields
/// the input gives (lines: time, request_id, request, response), posted as a form, as
/// JSON or as multipart (the first byte picks): both verifiers accept it exactly when
/// `time` is Unix seconds, and store `response` as sent (platecb: unless it is the
/// interim "still querying").
pub fn webhook_signed(data: &[u8]) {
    let (&how, rest) = data.split_first().unwrap_or((&0, data));
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.splitn(4, '\n');
    let mut next = || lines.next().unwrap_or_default().to_owned();
    let (time, request_id, request, response) = (next(), next(), next(), next());
    let sign = connector::signing::md5_time_appid_secret(&time, APPID, SECRET);
    let fields = [
        ("time", time.as_str()),
        ("appid", APPID),
        ("sign", sign.as_str()),
        ("request_id", request_id.as_str()),
        ("request", request.as_str()),
        ("response", response.as_str()),
    ];
    let (content_type, body) = match how % 3 {
        0 => (
            "application/x-www-form-urlencoded".to_owned(),
            urlencode(fields.iter().copied()),
        ),
        1 => {
            let object: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            (
                "application/json".to_owned(),
                serde_json::Value::Object(object).to_string().into_bytes(),
            )
        }
        _ => {
            // A value holding the delimiter, or a line break next to one, cannot be sent
            // as multipart unchanged: that is the encoding's limit, not the parser's.
            if fields
                .iter()
                .any(|(_, v)| v.contains(BOUNDARY) || v.contains('\r'))
            {
                return;
            }
            let mut body = String::new();
            for (k, v) in fields {
                // Writing to a String cannot fail.
                let _ = write!(
                    body,
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                );
            }
            let _ = write!(body, "--{BOUNDARY}--\r\n");
            (
                format!("multipart/form-data; boundary={BOUNDARY}"),
                body.into_bytes(),
            )
        }
    };
    let delivery = deliver(content_type.as_bytes(), body)
        .unwrap_or_else(|e| panic!("a well-formed {content_type} delivery is refused: {e}"));
    let now = SystemTime::now();
    let fresh = webhook::unix_seconds(&time);
    let expect = |checked: Result<Checked, Refusal>, payload: Option<&str>| match fresh {
        Some(at) => {
            let checked = checked.unwrap_or_else(|r| panic!("a signed delivery is refused: {r:?}"));
            assert_eq!(checked.payload.as_deref(), payload);
            assert_eq!(checked.signed_at, Some(at));
        }
        None => assert!(
            matches!(checked, Err(Refusal::BadRequest(_))),
            "`time` {time:?} is not Unix seconds: {checked:?}"
        ),
    };
    let interim = result_status(&response) == Some(STATUS_QUERYING);
    expect(
        platecb().check(&delivery, now),
        (!interim).then_some(response.as_str()),
    );
    expect(apistore().check(&delivery, now), Some(response.as_str()));
}
