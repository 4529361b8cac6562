//! Lenient readers for vendor JSON.
//!
//! Chinese data vendors send the same field as a string one day and a number the next
//! (`"carid": 7131` vs `"groupid": "7528"`), use `""` and `null` for "unknown", and add
//! keys without notice. These helpers *take* keys out of a JSON object so that whatever
//! is left at the end is, by construction, what we did not map: it is returned to the
//! caller as `unmapped_fields` instead of being silently dropped.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// A vendor object whose known keys are consumed one by one.
#[derive(Debug, Default)]
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
        }
    }

    /// Reports leftovers without a parent prefix (for the object that *is* the answer).
    #[must_use]
    pub fn root(mut self) -> Self {
        self.prefix.clear();
        self
    }

    /// Takes a nested object; its leftovers are reported as `parent.child`.
    pub fn object(&mut self, key: &str) -> Option<Fields> {
        match self.map.remove(key) {
            Some(Value::Object(map)) => Some(Fields {
                map,
                prefix: format!("{}{key}.", self.prefix),
            }),
            // PHP encodes an empty associative array as `[]`: an absent object.
            Some(Value::Array(a)) if a.is_empty() => None,
            Some(Value::Null) | None => None,
            // Documented as a string holding JSON (seed 001 types nested structures as
            // `string`), or sent that way by a double-encoding PHP backend.
            Some(Value::String(text)) => match json_text(&text) {
                Some(Value::Object(map)) => Some(Fields {
                    map,
                    prefix: format!("{}{key}.", self.prefix),
                }),
                _ if is_placeholder_text(&text) => None,
                _ => {
                    self.map.insert(key.to_owned(), Value::String(text));
                    None
                }
            },
            Some(other) => {
                // Not the documented shape: keep it visible rather than guess.
                self.map.insert(key.to_owned(), other);
                None
            }
        }
    }

    /// Takes an array value (elements are returned raw). PHP's other spellings of a list
    /// are read too: an object keyed "0", "1", ... (a PHP array with gaps), a JSON text,
    /// and a single element sent on its own.
    pub fn array(&mut self, key: &str) -> Vec<Value> {
        match self.map.remove(key) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(Value::Object(map)) if is_php_list(&map) => {
                let mut items: Vec<(u64, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                    .collect();
                items.sort_by_key(|(k, _)| *k);
                items.into_iter().map(|(_, v)| v).collect()
            }
            Some(one @ Value::Object(_)) => vec![one],
            Some(Value::String(text)) => match json_text(&text) {
                Some(Value::Array(items)) => items,
                Some(one @ Value::Object(_)) => vec![one],
                _ if is_placeholder_text(&text) => Vec::new(),
                _ => {
                    self.map.insert(key.to_owned(), Value::String(text));
                    Vec::new()
                }
            },
            Some(other) => {
                self.map.insert(key.to_owned(), other);
                Vec::new()
            }
        }
    }

    /// Takes a text value; numbers and booleans are rendered, `null` and blank give "".
    pub fn text(&mut self, key: &str) -> String {
        match self.map.remove(key) {
            // A structure where a text belongs is not the documented shape: keep it.
            Some(v @ (Value::Array(_) | Value::Object(_))) => {
                self.map.insert(key.to_owned(), v);
                String::new()
            }
            Some(v) => value_text(&v).unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Takes an integer given as a number or a numeric string; `None` when absent,
    /// blank or not a number (the original text then stays in the leftovers).
    pub fn int(&mut self, key: &str) -> Option<i64> {
        let value = self.map.remove(key)?;
        match value_int(&value) {
            Some(n) => Some(n),
            None if is_blank(&value) => None,
            None => {
                self.map.insert(key.to_owned(), value);
                None
            }
        }
    }

    /// [`Fields::int`] for a 32-bit field: a number out of its range stays in the
    /// leftovers instead of vanishing.
    pub fn int32(&mut self, key: &str) -> Option<i32> {
        let n = self.int(key)?;
        match i32::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                self.map.insert(key.to_owned(), Value::from(n));
                None
            }
        }
    }

    /// Takes a decimal number given as a number or numeric string (units such as "L" or
    /// "kW" are not stripped here: callers that expect them use `text`).
    pub fn decimal(&mut self, key: &str) -> Option<f64> {
        let value = self.map.remove(key)?;
        match value_decimal(&value) {
            Some(n) => Some(n),
            None if is_blank(&value) => None,
            None => {
                self.map.insert(key.to_owned(), value);
                None
            }
        }
    }

    /// Takes a yes/no flag given as a boolean, 0/1 (number or text), or a word: 是/否,
    /// true/false, yes/no, Y/N.
    pub fn flag(&mut self, key: &str) -> Option<bool> {
        let value = self.map.remove(key)?;
        let word = match &value {
            Value::String(s) => Some(s.trim().to_ascii_lowercase()),
            _ => None,
        };
        match (&value, word.as_deref()) {
            (Value::Bool(b), _) => Some(*b),
            (Value::Null, _) => None,
            (_, Some("是" | "true" | "yes" | "y")) => Some(true),
            (_, Some("否" | "false" | "no" | "n")) => Some(false),
            _ => match value_int(&value) {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ if is_blank(&value) => None,
                _ => {
                    self.map.insert(key.to_owned(), value);
                    None
                }
            },
        }
    }

    /// Looks at a value without taking it.
    pub fn peek(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Takes a value as it is, for structures the caller reads itself.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    /// Takes an array of strings (e.g. picture URL lists).
    pub fn texts(&mut self, key: &str) -> Vec<String> {
        match self.map.remove(key) {
            Some(Value::Array(items)) => {
                let (texts, other): (Vec<Value>, Vec<Value>) = items
                    .into_iter()
                    .partition(|v| !matches!(v, Value::Array(_) | Value::Object(_)));
                // Structures inside the list are kept, not dropped.
                if !other.is_empty() {
                    self.map.insert(key.to_owned(), Value::Array(other));
                }
                texts.iter().filter_map(value_text).collect()
            }
            Some(v @ Value::Object(_)) => {
                self.map.insert(key.to_owned(), v);
                Vec::new()
            }
            Some(v) => value_text(&v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// Everything not taken, rendered as text (strings as-is, other values as JSON),
    /// with blank and `null` values left out: they carry no information.
    pub fn leftovers(self, out: &mut HashMap<String, String>) {
        for (k, v) in self.map {
            let rendered = match &v {
                Value::Null => continue,
                Value::String(s) if s.trim().is_empty() => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(format!("{}{k}", self.prefix), rendered);
        }
    }
}

/// `null`, a blank string or a vendor's word for "unknown" in a typed (numeric or flag)
/// field: no information, nothing to keep.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => is_placeholder_text(s),
        _ => false,
    }
}

/// Blank, dashes, or a word vendors write for "no value" (the same words
/// `domain::text::is_placeholder` knows; this crate has no domain dependency).
fn is_placeholder_text(s: &str) -> bool {
    let t = s.trim();
    t.chars().all(|c| matches!(c, '-' | '—' | '/' | '.'))
        || matches!(
            t.to_ascii_lowercase().as_str(),
            "无" | "暂无" | "未知" | "null" | "none" | "n/a" | "na"
        )
}

/// A PHP list encoded as an object: every key a non-negative integer.
fn is_php_list(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| k.parse::<u64>().is_ok())
}

/// JSON inside a string, when the string holds an object or an array.
fn json_text(text: &str) -> Option<Value> {
    let t = text.trim();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(t).ok()
}

/// Parses a vendor's response body: a UTF-8 byte-order mark (PHP files saved with one
/// send it before the JSON) and surrounding whitespace are not part of the document.
pub fn parse_body(body: &[u8]) -> Result<Value, serde_json::Error> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    serde_json::from_slice(body.trim_ascii())
}

/// Text of a scalar; `None` for null, blank strings, arrays and objects.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

pub fn value_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            // Whole floats ("7.0") within i64 range: the range check makes the cast exact.
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| {
                        #[allow(clippy::cast_possible_truncation)]
                        let i = f as i64;
                        i
                    })
            }),
        // "5" and "5.0" (a decimal column rendered as text) alike.
        Value::String(s) => s.trim().parse().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    i
                })
        }),
        _ => None,
    }
}

pub fn value_decimal(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        match v {
            Value::Object(m) => Fields::new(m),
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn structures_where_a_scalar_belongs_are_kept_not_dropped() {
        let mut f = fields(json!({
            "t": {"cn": "保时捷"}, "i": [1, 2], "d": {"v": 1}, "g": ["u", {"o": 1}]
        }));
        assert_eq!(f.text("t"), "");
        assert_eq!(f.int("i"), None);
        assert_eq!(f.decimal("d"), None);
        assert_eq!(f.texts("g"), ["u"]);
        let mut left = HashMap::new();
        f.leftovers(&mut left);
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(left["t"].contains("保时捷"));
        assert_eq!(left["g"], r#"[{"o":1}]"#);
    }

    #[test]
    fn numbers_and_numeric_strings_are_read_alike() {
        let mut f =
            fields(json!({"a": 7131, "b": "7528", "c": " 4 ", "d": "", "e": null, "f": 1.0}));
        assert_eq!(f.int("a"), Some(7131));
        assert_eq!(f.int("b"), Some(7528));
        assert_eq!(f.int("c"), Some(4));
        assert_eq!(f.int("d"), None);
        assert_eq!(f.int("e"), None);
        assert_eq!(f.int("f"), Some(1));
        let mut left = HashMap::new();
        f.leftovers(&mut left);
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn unparseable_values_are_kept_not_dropped() {
        let mut f = fields(json!({"seats": "4-5", "import": "maybe", "x": {"y": 1}}));
        assert_eq!(f.int("seats"), None);
        assert_eq!(f.flag("import"), None);
        let nested = f.object("x").expect("object");
        let mut left = HashMap::new();
        nested.leftovers(&mut left);
        f.leftovers(&mut left);
        assert_eq!(left.get("seats").map(String::as_str), Some("4-5"));
        assert_eq!(left.get("import").map(String::as_str), Some("maybe"));
        assert_eq!(left.get("x.y").map(String::as_str), Some("1"));
    }

    #[test]
    fn flags_accept_the_vendor_spellings() {
        let mut f = fields(json!({"a": 1, "b": "0", "c": true, "d": ""}));
        assert_eq!(f.flag("a"), Some(true));
        assert_eq!(f.flag("b"), Some(false));
        assert_eq!(f.flag("c"), Some(true));
        assert_eq!(f.flag("d"), None);
        let mut f = fields(json!({"a": "是", "b": "否", "c": "false", "d": "暂无"}));
        assert_eq!(f.flag("a"), Some(true));
        assert_eq!(f.flag("b"), Some(false));
        assert_eq!(f.flag("c"), Some(false));
        assert_eq!(f.flag("d"), None);
    }

    #[test]
    fn decimal_text_placeholders_and_php_lists() {
        let mut f = fields(json!({
            "seats": "5.0", "len": "-", "x": "暂无",
            "list": {"1": {"n": "b"}, "0": {"n": "a"}},
            "one": {"n": "only"},
            "text_list": "[{\"n\":1}]",
            "text_obj": "{\"k\":\"v\"}",
        }));
        assert_eq!(f.int("seats"), Some(5));
        assert_eq!(f.int("len"), None);
        assert_eq!(f.decimal("x"), None);
        let list = f.array("list");
        assert_eq!(list, vec![json!({"n": "a"}), json!({"n": "b"})]);
        assert_eq!(f.array("one"), vec![json!({"n": "only"})]);
        assert_eq!(f.array("text_list"), vec![json!({"n": 1})]);
        let mut nested = f.object("text_obj").expect("object from JSON text");
        assert_eq!(nested.text("k"), "v");
        let mut left = HashMap::new();
        f.leftovers(&mut left);
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_body_with_a_byte_order_mark_is_json() {
        let body = b"\xEF\xBB\xBF {\"code\":0}\r\n";
        assert_eq!(parse_body(body).expect("json"), json!({"code": 0}));
        assert!(parse_body(b"<html>").is_err());
    }
}
