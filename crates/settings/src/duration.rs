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
///
/// Numbers are read exactly, in whole nanoseconds (a fraction below one is dropped), not
/// through `f64`, whose 53 bits turned a long whole number of milliseconds into another
/// duration (`155180174998ms` read as 155180174.997999996 s): so [`format`]'s output
/// always parses back to what it shows.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration: use e.g. \"250ms\", \"5s\", \"1m\"".to_owned());
    }
    let out_of_range = || format!("duration {t:?} is out of range");
    let mut total_ns: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| format!("duration {t:?} lacks a unit (ns, us, ms, s, m, h)"))?;
        if digits == 0 {
            return Err(format!("duration {t:?} is not a number followed by a unit"));
        }
        let number = &rest[..digits];
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = &after[..unit_len];
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "duration {t:?} has unknown unit {unit:?} (use ns, us, ms, s, m, h)"
                ));
            }
        };
        let ns = nanos(number, unit_ns).map_err(|bad| match bad {
            Number::Malformed => format!("duration {t:?} has a malformed number"),
            Number::TooLarge => out_of_range(),
        })?;
        total_ns = total_ns.checked_add(ns).ok_or_else(out_of_range)?;
        rest = &after[unit_len..];
    }
    let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| out_of_range())?;
    let sub = u32::try_from(total_ns % 1_000_000_000).map_err(|_| out_of_range())?;
    Ok(Duration::new(secs, sub))
}

/// Why a number of a duration cannot be read.
enum Number {
    Malformed,
    TooLarge,
}

/// `number` ("12", "1.5", ".5", "5.": digits and dots only) of units of `unit_ns`
/// nanoseconds, in whole nanoseconds.
fn nanos(number: &str, unit_ns: u128) -> Result<u128, Number> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(Number::Malformed);
    }
    let whole = if whole.is_empty() {
        Some(0)
    } else {
        // Only digits are left; a parse error is a number too large for u128.
        whole.parse::<u128>().ok()
    };
    let whole_ns = whole
        .and_then(|w| w.checked_mul(unit_ns))
        .ok_or(Number::TooLarge)?;
    // Digits past the 18th are worth less than a nanosecond even in hours (3.6e12 ns).
    let fraction = &fraction[..fraction.len().min(18)];
    let scale = 10u128.pow(u32::try_from(fraction.len()).unwrap_or(18));
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| Number::Malformed)?
    };
    whole_ns
        .checked_add(fraction * unit_ns / scale)
        .ok_or(Number::TooLarge)
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
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5.s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("0.1h"), Ok(Duration::from_secs(360)));
        assert_eq!(
            parse("1.0000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
        assert!(parse(".s").is_err());
        assert!(parse("1.2.3s").is_err());
        assert!(parse("1e3s").is_err());
        assert!(parse("99999999999999999999999999999999999999999h").is_err());
    }

    /// Found by the `duration` fuzz target (fuzz/seeds/duration/): whole milliseconds
    /// were read through `f64` and came back as another duration, so a configuration
    /// rendered by `format` did not read back as itself.
    #[test]
    fn long_durations_are_exact() {
        assert_eq!(
            parse("155180174998ms"),
            Ok(Duration::from_millis(155_180_174_998))
        );
        assert_eq!(
            parse("40m2401110m1m11111112499ms2499ms"),
            Ok(Duration::from_millis(155_180_174_998))
        );
        for d in [
            Duration::from_millis(155_180_174_998),
            Duration::from_millis(u64::MAX),
            Duration::new(u64::MAX, 999_000_000),
            Duration::from_micros(999),
        ] {
            assert_eq!(parse(&format(d)), Ok(d), "{d:?}");
        }
    }
}
