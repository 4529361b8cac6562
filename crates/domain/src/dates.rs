//! Vendor dates to ISO 8601: vendors write "2018-06-12", "2018/6/12", "2018年6月12日",
//! "20180612", "2018-06-12 00:00:00" or only "2018-12"; the contracts promise ISO.

/// The ISO 8601 form ("YYYY-MM-DD", "YYYY-MM" or "YYYY") of a vendor's date, keeping the
/// precision it has; `None` when the text is not a date.
pub fn iso_date(text: &str) -> Option<String> {
    let t = text.trim();
    // A time of day after the date is dropped: these are civil dates.
    let date = t.split([' ', 'T']).next().unwrap_or(t);
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        return ymd(&date[..4], Some(&date[4..6]), Some(&date[6..]));
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
        (Some(m), Some(d)) => Some(format!("{year:04}-{:02}-{:02}", num(m, 12)?, num(d, 31)?)),
    }
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
            "18-06-12",
            "12/06/2018",
        ] {
            assert_eq!(iso_date(text), None, "{text}");
        }
    }
}
