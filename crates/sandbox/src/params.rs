//! Request parameters as a PHP vendor sees them (`$_REQUEST`): the query string merged
//! with a form body. Kept separate from the raw bytes, because signatures cover the raw
//! bytes exactly as sent, never a re-encoding.

use axum::http::{HeaderMap, Method, header};

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte);
/// malformed escapes are kept literally, as PHP does.
pub(crate) fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    content_type(headers).starts_with("application/x-www-form-urlencoded")
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers).starts_with("application/json")
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Query parameters, then form-body parameters, later ones winning on lookup: what a
/// PHP endpoint reading `$_REQUEST` sees (a JSON body is not read).
pub(crate) fn form_params(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Params {
    let mut all = query.map(parse_urlencoded).unwrap_or_default();
    if *method != Method::GET && !body.is_empty() && is_form(headers) {
        all.extend(parse_urlencoded(&String::from_utf8_lossy(body)));
    }
    Params(all)
}

/// Query parameters, then body parameters (form, or a JSON object's scalar members),
/// later ones winning on lookup.
pub(crate) fn request_params(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Params {
    let mut all = query.map(parse_urlencoded).unwrap_or_default();
    if *method != Method::GET && !body.is_empty() {
        if is_form(headers) {
            all.extend(parse_urlencoded(&String::from_utf8_lossy(body)));
        } else if is_json(headers)
            && let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
        {
            all.extend(map.into_iter().filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            }));
        }
    }
    Params(all)
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl From<Vec<(String, String)>> for Params {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

impl Params {
    /// Last value of `name`, like PHP where a later duplicate overwrites an earlier one.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameters from literal pairs, for tests.
    #[cfg(test)]
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Every parameter in arrival order, duplicates included (signatures see them all).
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_php_style() {
        let p = parse_urlencoded("key=a+b&vin=WP0%41A&x=%zz&y&=v");
        assert_eq!(p[0], ("key".into(), "a b".into()));
        assert_eq!(p[1], ("vin".into(), "WP0AA".into()));
        assert_eq!(p[2], ("x".into(), "%zz".into()));
        assert_eq!(p[3], ("y".into(), String::new()));
        assert_eq!(p[4], (String::new(), "v".into()));
        assert_eq!(parse_urlencoded("a=%E4%B8%AD")[0].1, "中");
        assert_eq!(parse_urlencoded("a=%4")[0].1, "%4");
    }
}
