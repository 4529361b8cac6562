//! Vendor dates to ISO 8601: vendors write "2018-06-12", "2018/6/12", "2018年6月12日",
//! "20180612", "2018-06-12 00:00:00" or only "2018-12"; the contracts promise ISO.

/// The ISO 8601 form ("YYYY-MM-DD", "YYYY-MM" or "YYYY") of a vendor's date, keeping the
/// precision it has; `None` when the text is not a date.
pub fn iso_date(text: &str) -> Option<String> {
    let t = text.trim();
    // Spaces inside a Chinese date ("2018年 6月12日") are not a date-time separator.
    let compact: String;
    let t = if t.contains('年') {
        compact = t.chars().filter(|c| !c.is_whitespace()).collect();
        compact.as_str()
    } else {
        t
    };
    // A time of day after the date is dropped: these are civil dates.
    let date = t.split([' ', 'T']).next().unwrap_or(t);
    if date.bytes().all(|b| b.is_ascii_digit()) {
        match date.len() {
            8 => return ymd(&date[..4], Some(&date[4..6]), Some(&date[6..])),
            6 => return ymd(&date[..4], Some(&date[4..]), None),
            // Epoch milliseconds (Java backends serialise dates so): a China date.
            13 => return epoch_millis_date(date),
            _ => {}
        }
    }
    let parts: Vec<&str> = date
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        [y] => ymd(y, None, None),
        [y, m] => ymd(y, Some(m), None),
        [y, m, d] => ymd(y, Some(m), Some(d)),
        _ => None,
    }
}

fn ymd(y: &str, m: Option<&str>, d: Option<&str>) -> Option<String> {
    let num = |s: &str, max: u32| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|n| (1..=max).contains(n))
    };
    if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: u32 = y.parse().ok()?;
    if !(1900..=2200).contains(&year) {
        return None;
    }
    match (m, d) {
        (None, _) => Some(format!("{year:04}")),
        (Some(m), None) => Some(format!("{year:04}-{:02}", num(m, 12)?)),
        (Some(m), Some(d)) => {
            let month = num(m, 12)?;
            let day = num(d, days_in_month(year, month))?;
            Some(format!("{year:04}-{month:02}-{day:02}"))
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The civil date in China (UTC+8, no daylight saving) of an epoch-milliseconds value.
fn epoch_millis_date(text: &str) -> Option<String> {
    let ms: i64 = text.parse().ok()?;
    let days = (ms + 8 * 3_600_000).div_euclid(86_400_000);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    ymd(
        &format!("{year:04}"),
        Some(&format!("{month:02}")),
        Some(&format!("{day:02}")),
    )
}

/// A China Standard Time (UTC+8, no daylight saving) date-time as vendors write it
/// ("2017-10-29 02:39:17", "2017/10/29 2:39", "2017-10-29T02:39:17", a date alone) as
/// Unix seconds; `None` when it is not one. The vendors' documents give no zone: their
/// times are the local time of the Chinese traffic police.
pub fn china_time_to_unix(text: &str) -> Option<i64> {
    let t = text.trim();
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, rest)) => (d, rest.trim()),
        None => (t, ""),
    };
    let iso = iso_date(date)?;
    let mut ymd = iso.split('-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(year)), Some(Some(month)), Some(Some(day))) =
        (ymd.next(), ymd.next(), ymd.next())
    else {
        return None;
    };
    let mut hms = [0_i64; 3];
    if !time.is_empty() {
        // A fraction of a second or a trailing zone-less suffix is not expected; refuse
        // what is not h:m[:s] rather than guess.
        let parts: Vec<&str> = time.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        for (slot, (part, max)) in hms.iter_mut().zip(parts.iter().zip([23, 59, 59])) {
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i64 = part.parse().ok()?;
            if value > max {
                return None;
            }
            *slot = value;
        }
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - 8 * 3600)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms").
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_spellings() {
        for (text, iso) in [
            ("2018-06-12", "2018-06-12"),
            ("2018/6/12", "2018-06-12"),
            ("2018.06.12", "2018-06-12"),
            ("2018年6月12日", "2018-06-12"),
            ("20180612", "2018-06-12"),
            ("2018-06-12 00:00:00", "2018-06-12"),
            ("2018-06-12T08:00:00+08:00", "2018-06-12"),
            ("2018-12", "2018-12"),
            ("201806", "2018-06"),
            ("2018年 6月12日", "2018-06-12"),
            ("2020-02-29", "2020-02-29"),
            // 2018-06-12 00:00 in China is 2018-06-11 16:00 UTC.
            ("1528732800000", "2018-06-12"),
            ("2018年12月", "2018-12"),
            ("2018", "2018"),
            (" 2021-08 ", "2021-08"),
        ] {
            assert_eq!(iso_date(text).as_deref(), Some(iso), "{text}");
        }
        for text in [
            "",
            "-",
            "unknown",
            "2018-13-01",
            "2018-02-32",
            "2018-02-30",
            "2019-02-29",
            "0000-00-00",
            "18-06-12",
            "12/06/2018",
        ] {
            assert_eq!(iso_date(text), None, "{text}");
        }
    }

    #[test]
    fn china_times_are_utc_plus_8() {
        // 2017-10-28T18:39:17Z (date -d '2017-10-29 02:39:17 +0800' +%s).
        assert_eq!(
            china_time_to_unix("2017-10-29 02:39:17"),
            Some(1_509_215_957)
        );
        assert_eq!(
            china_time_to_unix("2017/10/29 2:39:17"),
            Some(1_509_215_957)
        );
        assert_eq!(
            china_time_to_unix("2017-10-29T02:39:17"),
            Some(1_509_215_957)
        );
        assert_eq!(china_time_to_unix("2017-10-29 02:39"), Some(1_509_215_940));
        assert_eq!(china_time_to_unix("1970-01-01 08:00:00"), Some(0));
        assert_eq!(china_time_to_unix("2024-02-29"), Some(1_709_136_000));
        for bad in [
            "",
            "2017-10-29 25:00:00",
            "2017-02-30 01:00:00",
            "2017-10",
            "x",
            "2017-10-29 1:2:3:4",
            "2017-10-29 01:00:00.5",
        ] {
            assert_eq!(china_time_to_unix(bad), None, "{bad}");
        }
    }
}
