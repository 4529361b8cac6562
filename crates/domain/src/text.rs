//! Clean-up shared by the VIN and plate normalisers: characters that ride along with
//! copied or OCR'd text and are never part of an identifier.

/// Characters that are never part of an identifier and that a person cannot see, so
/// that the normalisers drop them all alike: every control character (C0 with NUL, TAB,
/// CR, LF and ESC; DEL; C1), and the invisible format characters that ride along with
/// copied text (soft hyphen, zero-width space and joiners, direction marks, embeddings,
/// overrides and isolates, word joiner, byte-order mark, interlinear annotation marks,
/// and the tag characters that can smuggle invisible text).
///
/// Dropping rather than rejecting: a VIN pasted from a terminal or a fixed-width field
/// still decodes, and what remains is checked by the rules, which point at any visible
/// character that does not belong. Keeping one control character while dropping another
/// would echo an ESC back to a caller's terminal in `normalized_vin`.
pub fn is_control_or_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Cyrillic and Greek capitals (and their lower case) drawn exactly like a Latin letter:
/// OCR and some keyboards produce them, and no VIN or plate contains them.
pub fn latin_look_alike(c: char) -> Option<char> {
    Some(match c {
        'А' | 'а' | 'Α' | 'α' => 'A',
        'В' | 'в' | 'Β' => 'B',
        'С' | 'с' | 'Ϲ' => 'C',
        'Е' | 'е' | 'Ε' | 'ε' => 'E',
        'Н' | 'н' | 'Η' => 'H',
        'І' | 'і' | 'Ι' | 'ι' => 'I',
        'Ј' | 'ј' => 'J',
        'К' | 'к' | 'Κ' | 'κ' => 'K',
        'М' | 'м' | 'Μ' => 'M',
        'Ν' => 'N',
        'О' | 'о' | 'Ο' | 'ο' => 'O',
        'Р' | 'р' | 'Ρ' | 'ρ' => 'P',
        'Ѕ' | 'ѕ' => 'S',
        'Т' | 'т' | 'Τ' | 'τ' => 'T',
        'Х' | 'х' | 'Χ' | 'χ' => 'X',
        'У' | 'у' | 'Υ' => 'Y',
        'Ζ' => 'Z',
        _ => return None,
    })
}

/// Full-width ASCII forms (U+FF01..U+FF5E: `ＬＳＶ`, `Ｋ３３`, `（`) as their ASCII
/// characters; every other character unchanged. Chinese input methods type them.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// A vendor's way of saying "unknown" instead of leaving a field out: nothing but
/// spaces and dashes, or a word that means no value ("暂无", "未知", "null", an all-zero
/// date). Such a value is no answer: it must neither win a merge nor disagree with one.
pub fn is_placeholder(s: &str) -> bool {
    let f: String = s
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    f.chars().all(|c| {
        matches!(
            c,
            '-' | '—' | '–' | '_' | '/' | '\\' | '.' | '*' | '?' | '？'
        )
    }) || matches!(
        f.as_str(),
        "无" | "暂无"
            | "未知"
            | "不详"
            | "未提供"
            | "空"
            | "null"
            | "nil"
            | "none"
            | "n/a"
            | "na"
            | "undefined"
            | "unknown"
    ) || (f.starts_with("0000") && f.chars().all(|c| matches!(c, '0' | '-' | '/' | ':' | '.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_told_from_visible_ones() {
        // C0 (NUL, TAB, LF, CR, ESC, US), DEL and C1 (PAD, NEL, CSI, APC) alike.
        for c in [
            '\0', '\t', '\n', '\r', '\u{1B}', '\u{1F}', '\u{7F}', '\u{80}', '\u{85}', '\u{9B}',
            '\u{9F}',
        ] {
            assert!(is_control_or_invisible(c), "{c:?}");
        }
        for c in [
            '\u{AD}',
            '\u{200B}',
            '\u{200E}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_control_or_invisible(c), "{c:?}");
        }
        // Visible characters, including separators the normalisers handle themselves and
        // the characters the rules must be able to point at.
        for c in ['A', '0', ' ', '\u{3000}', '·', '-', '粤', 'ä', '\u{A0}'] {
            assert!(!is_control_or_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn placeholders_say_nothing() {
        for s in [
            "",
            " ",
            "-",
            "--",
            "—",
            "/",
            "无",
            "暂无",
            "未知",
            "null",
            "NULL",
            "N/A",
            "0000-00-00",
            "0000-00-00 00:00:00",
            "***",
            "？",
        ] {
            assert!(is_placeholder(s), "{s:?}");
        }
        for s in ["0", "非营运", "大众", "2018-06-12", "-1", "A", "无锡"] {
            assert!(!is_placeholder(s), "{s:?}");
        }
    }
}
