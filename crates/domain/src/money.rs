//! Prices as Chinese vendors quote them: in 万元 (10 000 CNY), e.g. "122.43" or "9.98万".

/// An amount in 万元 as exact CNY `(units, nanos)`: "122.43" is CNY 1 224 300. Parsed
/// from the decimal text, never through a float, so every digit the vendor sent is kept
/// (up to 13 decimals). `None` when the text is not a plain positive decimal: vendors
/// write 0 for "no price", and no vehicle is sold for nothing.
pub fn wan_yuan_to_cny(text: &str) -> Option<(i64, i32)> {
    let t = text
        .trim()
        .trim_end_matches("万元")
        .trim_end_matches('万')
        .trim();
    if t.is_empty() {
        return None;
    }
    let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || int_part.len() > 12
    {
        return None;
    }
    // 万元 with up to 13 fractional digits -> yuan (4 digits) + nanos (9 digits).
    let mut frac: String = frac_part.chars().take(13).collect();
    while frac.len() < 13 {
        frac.push('0');
    }
    let whole: i64 = int_part.parse().ok()?;
    let yuan_from_frac: i64 = frac[..4].parse().ok()?;
    let nanos: i32 = frac[4..].parse().ok()?;
    // 10 000 万元 is CNY 100 million: no vehicle is priced so. A figure that large is
    // the price in yuan (some answers drop the unit), so it is read as yuan.
    if whole >= 10_000 && !text.trim().ends_with('万') && !text.trim().ends_with("万元") {
        let cents: String = frac_part.chars().chain("00".chars()).take(2).collect();
        return Some((whole, cents.parse::<i32>().ok()? * 10_000_000));
    }
    let units = whole.checked_mul(10_000)?.checked_add(yuan_from_frac)?;
    (units > 0 || nanos > 0).then_some((units, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_yuan_is_exact() {
        assert_eq!(wan_yuan_to_cny("122.43"), Some((1_224_300, 0)));
        assert_eq!(wan_yuan_to_cny("9.98万"), Some((99_800, 0)));
        assert_eq!(wan_yuan_to_cny("0.00005"), Some((0, 500_000_000)));
        // A price in yuan where 万元 was documented.
        assert_eq!(wan_yuan_to_cny("159800"), Some((159_800, 0)));
        assert_eq!(wan_yuan_to_cny("159800.50"), Some((159_800, 500_000_000)));
        assert_eq!(
            wan_yuan_to_cny("3000"),
            Some((30_000_000, 0)),
            "a hypercar in 万元"
        );
        for bad in ["", "-", "-1", "abc", "1.2.3", "1e5", "0", "0.00", "0万"] {
            assert_eq!(wan_yuan_to_cny(bad), None, "{bad}");
        }
    }
}
