//! Values as a person reads them in the readable (non-`--json`) answers: money with its
//! currency and grouped digits, times as dates, durations with units, a place named
//! once, and one line per source. Pure functions of their input (the current time is a
//! parameter), so every rendering is tested without a server.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use contracts::axle::common::v1::{Money, SourceState, SourceStatus};

/// An exact amount: "CNY 129,900.00". Digits grouped by thousands, at least two decimals
/// and never rounded (`units` and `nanos` are exact, and a price must not change on the
/// way to the screen).
pub fn money(m: &Money) -> String {
    let negative = m.units < 0 || m.nanos < 0;
    let units = m.units.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (i, d) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let nanos = format!("{:09}", m.nanos.unsigned_abs());
    let fraction = nanos.trim_end_matches('0');
    let fraction = if fraction.len() < 2 {
        &nanos[..2]
    } else {
        fraction
    };
    let currency = if m.currency_code.is_empty() {
        String::new()
    } else {
        format!("{} ", m.currency_code)
    };
    let sign = if negative { "-" } else { "" };
    format!("{currency}{sign}{grouped}.{fraction}")
}

/// A vendor's price quoted in 万元 (10 000 CNY) next to the exact amount Axle converted
/// it to: "CNY 129,900.00 (12.99 万元)". The converted amount leads, because "12.99" alone
/// reads as twelve yuan; without a conversion (a text that is not a number) the quote is
/// shown with its unit.
pub fn wan_yuan(quoted: &str, converted: Option<&Money>) -> String {
    let quoted = quoted.trim();
    let unit = if quoted.ends_with('万') || quoted.ends_with("万元") {
        ""
    } else {
        " 万元"
    };
    match converted {
        Some(m) if quoted.is_empty() => money(m),
        Some(m) => format!("{} ({quoted}{unit})", money(m)),
        None => format!("{quoted}{unit}"),
    }
}

/// A point in time as a date and time: "2025-01-02 03:04:05 UTC", never Unix seconds.
/// UTC and said so: the reader's zone is unknown, and a zone-less time would be misread.
pub fn time(t: &prost_types::Timestamp) -> String {
    let whole = prost_types::Timestamp {
        seconds: t.seconds,
        nanos: 0,
    };
    // RFC 3339 ("2025-01-02T03:04:05Z"), made easier on the eye.
    let text = whole.to_string();
    match text.strip_suffix('Z') {
        Some(rest) => format!("{} UTC", rest.replacen('T', " ", 1)),
        None => text,
    }
}

/// How long ago `t` was, relative to `now`, when that is long enough to matter to the
/// reader of a stored answer ("3 days old"); `None` for a fresh answer (under a minute)
/// or a time in the future.
pub fn age(t: &prost_types::Timestamp, now: SystemTime) -> Option<String> {
    let then = SystemTime::try_from(*t).ok()?;
    let secs = now.duration_since(then).ok()?.as_secs();
    let (n, unit) = match secs {
        0..60 => return None,
        60..3_600 => (secs / 60, "minute"),
        3_600..86_400 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    Some(format!("{n} {unit}{plural} old"))
}

/// A duration with its unit: "350 ms" under a second, "1.5 s" / "12 s" under ten
/// minutes, else "15 min".
pub fn duration(d: &prost_types::Duration) -> String {
    let Ok(d) = Duration::try_from(*d) else {
        return "0 ms".to_owned();
    };
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d < Duration::from_secs(10) {
        let tenths = d.as_millis() / 100;
        match tenths % 10 {
            0 => format!("{} s", tenths / 10),
            t => format!("{}.{t} s", tenths / 10),
        }
    } else if d < Duration::from_secs(600) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} min", d.as_secs() / 60)
    }
}

/// Where a plate was issued: the province, then the city, each named once. A
/// municipality (直辖市) is its own province ("上海市", not "上海市 上海市"), and an
/// authority named after its province ("北京市公安局") needs no prefix.
pub fn place(province: &str, city: &str) -> String {
    if city.is_empty() {
        province.to_owned()
    } else if province.is_empty() || city.starts_with(province) {
        city.to_owned()
    } else {
        format!("{province} {city}")
    }
}

/// One source's outcome on one line: state, whether the sandbox answered, time taken,
/// attempts, cost, when to ask again, when its answer dates from (if it is older than a
/// minute: a stored answer), the message, and whether the operator must act.
pub fn source_line(
    s: &SourceStatus,
    fetched: Option<&prost_types::Timestamp>,
    now: SystemTime,
) -> String {
    let state = SourceState::try_from(s.state).map_or("?", |st| {
        st.as_str_name().trim_start_matches("SOURCE_STATE_")
    });
    let name = if s.via.is_empty() {
        s.source.clone()
    } else {
        format!("{}/{}", s.via, s.source)
    };
    let mut line = format!("{name:<11} {state}");
    if s.sandbox {
        line.push_str(" [sandbox]");
    }
    if s.from_cache {
        line.push_str(" from cache");
        if let Some(a) = &s.cache_age {
            let _ = write!(line, " ({} old)", duration(a));
        }
    }
    if let Some(l) = &s.latency {
        let _ = write!(line, " in {}", duration(l));
    }
    if s.attempts > 1 {
        let _ = write!(line, ", {} attempts", s.attempts);
    }
    if let Some(c) = &s.cost {
        let _ = write!(line, ", cost {}", money(c));
    }
    if let Some(r) = &s.retry_after {
        let _ = write!(line, ", ask again in {}", duration(r));
    }
    if let Some(t) = fetched
        && let Some(age) = age(t, now)
    {
        let _ = write!(line, ", answer of {} ({age})", time(t));
    }
    if !s.message.is_empty() {
        let _ = write!(line, " — {}", s.message);
    }
    if s.operator_action_required {
        line.push_str(" (operator action required)");
    }
    line
}

#[cfg(test)]
mod tests;
