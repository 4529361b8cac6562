//! The check digit of 49 CFR 565.15(c), which GB 16735 adopts for China.

/// Position weights 1..=17; position 9 (the check digit itself) weighs 0.
const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/// The value a VIN character stands for in the check-digit sum, `None` for characters a
/// VIN cannot contain (I, O, Q, anything non-alphanumeric).
pub fn transliterate(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

/// The check digit ('0'-'9' or 'X') of a 17-character VIN, `None` if it is not 17 valid
/// characters. Position 9 is ignored, so this works on VINs with a wrong check digit.
pub fn compute_check_digit(vin17: &str) -> Option<char> {
    let bytes = vin17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &b) in bytes.iter().enumerate() {
        let v = if i == 8 { 0 } else { transliterate(b)? };
        sum += v * WEIGHTS[i];
    }
    Some(match sum % 11 {
        10 => 'X',
        // `sum % 11 < 10` here, so this is one decimal digit.
        d => char::from(b'0' + u8::try_from(d).unwrap_or(0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vins() {
        // 49 CFR 565 worked example and widely published real VINs.
        assert_eq!(compute_check_digit("1M8GDM9AXKP042788"), Some('X'));
        assert_eq!(compute_check_digit("1HGCM82633A004352"), Some('3'));
        assert_eq!(compute_check_digit("11111111111111111"), Some('1'));
        assert_eq!(compute_check_digit("WP0AA2978BL012976"), Some('8'));
        assert_eq!(compute_check_digit("SHORT"), None);
        assert_eq!(compute_check_digit("1HGCM82633A00435O"), None);
    }
}
