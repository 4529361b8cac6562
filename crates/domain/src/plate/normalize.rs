//! Input clean-up for plates.
//!
//! People type plates with separators (粤B·12345, 粤B 12345, 粤B-12345), full-width
//! characters, lower case, and O/I for 0/1. GA 36 never uses the letters I and O in the
//! serial part of a plate, so there those two can only be the digits 1 and 0; in the
//! issuing-letter position a letter is required, so a 0 there can only be O.

/// The normalised plate and the corrections applied to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub plate: String,
    /// Human-readable notes, e.g. "position 4: O read as 0".
    pub corrections: Vec<String>,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '·' | '•' | '・' | '‧' | '∙' | '.' | '-' | '_' | '—' | '–' | '－' | '\u{3000}'
        )
}

/// Normalises a plate as typed: separators and every control or invisible character
/// ([`crate::text::is_control_or_invisible`]) dropped, full width and case folded, and
/// O/I corrected where only a digit can stand.
pub fn normalize(input: &str) -> Normalized {
    let mut chars: Vec<char> = Vec::with_capacity(10);
    for c in input.chars() {
        let c = crate::text::fold_width(c);
        let c = crate::text::latin_look_alike(c).unwrap_or(c);
        if is_separator(c) || crate::text::is_control_or_invisible(c) {
            continue;
        }
        chars.push(c.to_ascii_uppercase());
    }
    let mut corrections = Vec::new();
    // Where each layout has its serial: a civil plate (province + letter) from position 3,
    // an armed-police plate (WJ + province) from position 4, an embassy plate in its six
    // digits (使 first or last). I and O are used in none of them, so there they can only
    // be 1 and 0.
    let n = chars.len();
    let civil = chars
        .first()
        .is_some_and(|c| super::authority::province_of(*c).is_some());
    let serial: Option<std::ops::Range<usize>> = if civil {
        Some(2..n)
    } else if chars.starts_with(&['W', 'J']) {
        Some(3..n)
    } else if chars.first() == Some(&'使') {
        Some(1..n)
    } else if chars.last() == Some(&'使') {
        Some(0..n.saturating_sub(1))
    } else {
        None
    };
    for (i, c) in chars.iter_mut().enumerate() {
        let in_serial = serial.as_ref().is_some_and(|r| r.contains(&i));
        let fixed = match (i, *c) {
            // Position 2 of a civil plate must be a letter: 0 there can only be O.
            (1, '0') if civil => Some('O'),
            (_, 'O') if in_serial => Some('0'),
            (_, 'I') if in_serial => Some('1'),
            _ => None,
        };
        if let Some(f) = fixed {
            corrections.push(format!("position {}: {} read as {f}", i + 1, *c));
            *c = f;
        }
    }
    Normalized {
        plate: chars.into_iter().collect(),
        corrections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_case_and_full_width() {
        assert_eq!(normalize(" 粤b·12345 ").plate, "粤B12345");
        assert_eq!(normalize("沪Ａ－１２３４５").plate, "沪A12345");
        assert_eq!(normalize("京A 12 345").plate, "京A12345");
        assert_eq!(normalize("京A\u{3000}D12345").plate, "京AD12345");
        // Invisible characters and look-alike scripts from copied text.
        assert_eq!(normalize("\u{FEFF}京A123\u{200B}45").plate, "京A12345");
        assert_eq!(normalize("京А12345").plate, "京A12345", "Cyrillic А");
        // Every control character alike, as in VINs: none survives to be echoed back.
        assert_eq!(normalize("粤B\u{1B}12345\u{7F}").plate, "粤B12345");
        assert_eq!(normalize("\u{9B}粤B12345\0\r\n").plate, "粤B12345");
    }

    #[test]
    fn look_alikes_where_only_one_reading_exists() {
        let n = normalize("粤BO12I4");
        assert_eq!(n.plate, "粤B01214");
        assert_eq!(n.corrections.len(), 2);
        // Position 2 must be a letter: 0 is O (the police letter in most provinces).
        assert_eq!(normalize("粤0A123").plate, "粤OA123");
        // Armed-police and embassy serials are digits (WJ's last may be a branch letter,
        // never I or O).
        assert_eq!(normalize("WJ粤O2345").plate, "WJ粤02345");
        assert_eq!(normalize("使O14578").plate, "使014578");
        assert_eq!(normalize("O14578使").plate, "014578使");
        // The province character of a WJ plate is not touched.
        assert_eq!(normalize("WJ京1234O").plate, "WJ京12340");
    }
}
