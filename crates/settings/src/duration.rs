//! Durations as human strings in configuration: "250ms", "5s", "1m", "1h", "1m30s".
//! Use with `#[serde(with = "settings::duration")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Renders the shortest exact form, e.g. "1500ms", "2s", "1m", "720h".
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && d.as_nanos() > 0 {
        format!("{}us", d.as_micros())
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses "250ms", "5s", "1m30s", "2h", "10us". A bare number is rejected: the unit
/// is what tells seconds from milliseconds, and guessing it is how outages start.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration: use e.g. \"250ms\", \"5s\", \"1m\"".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("duration {t:?} lacks a unit (ns, us, ms, s, m, h)"))?;
        if digits == 0 {
            return Err(format!("duration {t:?} is not a number followed by a unit"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration {t:?} has a malformed number"))?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = &after[..unit_len];
        let secs = match unit {
            "ns" => number / 1e9,
            "us" | "µs" => number / 1e6,
            "ms" => number / 1e3,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => {
                return Err(format!(
                    "duration {t:?} has unknown unit {unit:?} (use ns, us, ms, s, m, h)"
                ));
            }
        };
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| format!("duration {t:?} is out of range"))?;
        rest = &after[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert!(
            parse("10000000000000000000s10000000000000000000s").is_err(),
            "overflow is an error, not a panic"
        );
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse("5").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("").is_err());
        for d in ["250ms", "5s", "1m", "1500ms"] {
            assert_eq!(format(parse(d).expect("parses")), d);
        }
    }
}
