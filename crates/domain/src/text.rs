//! Clean-up shared by the VIN and plate normalisers: characters that ride along with
//! copied or OCR'd text and are never part of an identifier.

/// Invisible characters: zero-width space/joiners, direction marks and embeddings, word
/// joiner, byte-order mark, soft hyphen, and NUL (C strings and fixed-width fields pad
/// with it). Dropped by the normalisers.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\0' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{00AD}'
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
