//! A delivery's body, read by its Content-Type as PHP's `$_POST` would be (urlencoded
//! or multipart form fields), or as JSON for vendors that post JSON.

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;

/// At most this many fields per delivery (PHP's `max_input_vars` default): a vendor's
/// callback has a dozen.
pub const MAX_FIELDS: usize = 1000;

/// A body that cannot be read as a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(
        "unsupported Content-Type {0:?}: expected application/x-www-form-urlencoded, multipart/form-data or application/json"
    )]
    UnsupportedType(String),
    #[error("form field {0:?} is not UTF-8")]
    NotUtf8(String),
    #[error("multipart/form-data: {0}")]
    Multipart(String),
    #[error("JSON body: {0}")]
    Json(String),
    #[error("more than {MAX_FIELDS} form fields")]
    TooManyFields,
}

/// Form fields in the order sent. A name sent twice keeps its last value, as in PHP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for Fields {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// What a vendor posted, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Form(Fields),
    Json(serde_json::Value),
}

/// One delivery: its headers, its raw body, and the body parsed by its Content-Type.
#[derive(Debug, Clone)]
pub struct Delivery {
    headers: HeaderMap,
    raw: Bytes,
    body: Body,
}

impl Delivery {
    /// Parses `raw` by the Content-Type in `headers`.
    pub fn parse(headers: HeaderMap, raw: Bytes) -> Result<Self, BodyError> {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let (media, params) = content_type
            .split_once(';')
            .unwrap_or((content_type.as_str(), ""));
        let media = media.trim().to_ascii_lowercase();
        let body = match media.as_str() {
            "application/x-www-form-urlencoded" => Body::Form(urlencoded(&raw)?),
            "multipart/form-data" => {
                let boundary = boundary(params).ok_or_else(|| {
                    BodyError::Multipart("Content-Type names no boundary".to_owned())
                })?;
                Body::Form(
                    super::multipart::parse(&raw, &boundary, MAX_FIELDS)
                        .map_err(BodyError::Multipart)?
                        .into_iter()
                        .collect(),
                )
            }
            m if m == "application/json" || m == "text/json" || m.ends_with("+json") => Body::Json(
                serde_json::from_slice(&raw).map_err(|e| BodyError::Json(e.to_string()))?,
            ),
            _ => return Err(BodyError::UnsupportedType(content_type)),
        };
        Ok(Self { headers, raw, body })
    }

    /// A field by name: a form field's (last) value; for a JSON object, a top-level
    /// member, a string as it is and anything else as compact JSON (so that a vendor
    /// posting `"response": {...}` reads like one posting `response=<json text>`).
    pub fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        match &self.body {
            Body::Form(f) => f.get(name).map(Cow::Borrowed),
            Body::Json(serde_json::Value::Object(map)) => map.get(name).map(|v| match v {
                serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            }),
            Body::Json(_) => None,
        }
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value when it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body exactly as received (for signatures computed over it).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

/// `boundary=...` (quoted or not) from the Content-Type parameters.
fn boundary(params: &str) -> Option<String> {
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(v);
        // RFC 2046: 1 to 70 characters.
        (!v.is_empty() && v.len() <= 70).then(|| v.to_owned())
    })
}

/// `a=1&b=%E9%97%BD+x` as PHP reads it: `+` is a space, `%XX` a byte, a malformed `%`
/// stays as it is, a pair without `=` has an empty value, an empty name is skipped.
/// Unlike PHP, bytes that are not UTF-8 are an error naming the field, not mojibake.
fn urlencoded(raw: &[u8]) -> Result<Fields, BodyError> {
    let mut out = Vec::new();
    for pair in raw.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = String::from_utf8(percent_decode(k))
            .map_err(|e| BodyError::NotUtf8(String::from_utf8_lossy(e.as_bytes()).into_owned()))?;
        if name.is_empty() {
            continue;
        }
        let value =
            String::from_utf8(percent_decode(v)).map_err(|_| BodyError::NotUtf8(name.clone()))?;
        if out.len() >= MAX_FIELDS {
            return Err(BodyError::TooManyFields);
        }
        out.push((name, value));
    }
    Ok(Fields(out))
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(content_type: &str, body: &[u8]) -> Result<Delivery, BodyError> {
        let mut headers = HeaderMap::new();
        if !content_type.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                content_type.parse().expect("header"),
            );
        }
        Delivery::parse(headers, Bytes::copy_from_slice(body))
    }

    #[test]
    fn urlencoded_as_php_reads_it() {
        let d = delivery(
            "application/x-www-form-urlencoded;charset=utf-8",
            "time=1603872381&car_no=%E9%97%BDDD22222&note=a+b%2Bc&bad=%zz%4&flag&=x&dup=1&dup=2"
                .as_bytes(),
        )
        .expect("parses");
        assert_eq!(d.field("time").as_deref(), Some("1603872381"));
        assert_eq!(d.field("car_no").as_deref(), Some("闽DD22222"));
        assert_eq!(d.field("note").as_deref(), Some("a b+c"));
        assert_eq!(d.field("bad").as_deref(), Some("%zz%4"), "malformed % kept");
        assert_eq!(d.field("flag").as_deref(), Some(""));
        assert_eq!(d.field("dup").as_deref(), Some("2"), "the last value wins");
        assert_eq!(d.field("missing"), None);
        let Body::Form(f) = d.body() else {
            panic!("form")
        };
        assert_eq!(f.len(), 7, "the empty name is skipped: {f:?}");
    }

    #[test]
    fn json_members_read_as_fields() {
        let d = delivery(
            "application/json; charset=utf-8",
            br#"{"time":1603872381,"appid":"1365","response":{"c_vin":"X"}}"#,
        )
        .expect("parses");
        assert_eq!(d.field("time").as_deref(), Some("1603872381"));
        assert_eq!(d.field("appid").as_deref(), Some("1365"));
        assert_eq!(d.field("response").as_deref(), Some(r#"{"c_vin":"X"}"#));
        let array = delivery("application/json", b"[1,2]").expect("parses");
        assert_eq!(array.field("time"), None);
    }

    #[test]
    fn multipart_by_its_boundary() {
        let body =
            b"--x1\r\nContent-Disposition: form-data; name=\"appid\"\r\n\r\n1365\r\n--x1--\r\n";
        let d = delivery("multipart/form-data; boundary=\"x1\"", body).expect("parses");
        assert_eq!(d.field("appid").as_deref(), Some("1365"));
        assert_eq!(d.raw(), body);
        assert_eq!(
            delivery("multipart/form-data", body).expect_err("no boundary"),
            BodyError::Multipart("Content-Type names no boundary".to_owned())
        );
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        assert!(matches!(
            delivery("text/plain", b"x").expect_err("type"),
            BodyError::UnsupportedType(t) if t == "text/plain"
        ));
        assert!(matches!(
            delivery("", b"a=1").expect_err("no type"),
            BodyError::UnsupportedType(_)
        ));
        assert_eq!(
            delivery("application/x-www-form-urlencoded", b"vin=%FF%FE").expect_err("utf-8"),
            BodyError::NotUtf8("vin".to_owned())
        );
        assert!(matches!(
            delivery("application/json", b"{").expect_err("json"),
            BodyError::Json(_)
        ));
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        assert_eq!(
            delivery("application/x-www-form-urlencoded", many.as_bytes()).expect_err("many"),
            BodyError::TooManyFields
        );
    }
}
