//! When two sources agree about a text: the rule every merged fact uses.
//!
//! Two texts **agree** when, after folding what never makes texts different (case,
//! whitespace, full-width forms, and the separators vendors put in names: `-` `·` `•` `‧`
//! `_`), they are equal, or one contains the other **without splitting a Latin word or
//! number**. So "保时捷" agrees with "进口保时捷", "宝来" with "宝来 2018款", "FAW-Volkswagen"
//! with "faw volkswagen"; but "A4" does not agree with "A4L", nor "X5" with "X50": a
//! letter or digit glued to the shorter text's Latin end makes another model.
//!
//! Texts in **different scripts** (a Chinese catalogue name and an English register name)
//! are neither evidence nor contradiction: [`comparable`] says so, and the builder leaves
//! the other-script values out of the field's merge (they remain in the source's own
//! record where the response has one).
//!
//! A **placeholder** ("-", "暂无", "未知", "0000-00-00") is no answer: it neither wins nor
//! agrees nor disagrees.
//!
//! **Dates** also agree when one is the other at less precision ("2022-03" and
//! "2022-03-18").

/// Folds case, whitespace, width and name separators away.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(domain::text::fold_width)
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '·' | '•' | '‧' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a text says nothing: empty once folded, or a vendor's word for "unknown".
pub fn is_placeholder(s: &str) -> bool {
    fold(s).is_empty() || domain::text::is_placeholder(s)
}

/// Whether the text contains Chinese characters (CJK unified ideographs).
pub fn has_cjk(s: &str) -> bool {
    s.chars().any(is_cjk)
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Whether two texts can confirm or contradict each other: both Chinese or both not.
pub fn comparable(a: &str, b: &str) -> bool {
    has_cjk(a) == has_cjk(b)
}

/// The text-agreement rule (see the module documentation).
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (fold(a), fold(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (a, b)
    } else {
        (b, a)
    };
    long.match_indices(short.as_str()).any(|(at, m)| {
        let before = long[..at].chars().next_back();
        let after = long[at + m.len()..].chars().next();
        let first = short.chars().next();
        let last = short.chars().next_back();
        !glued(before, first) && !glued(last, after)
    })
}

/// Two neighbouring characters belong to one Latin word or number.
fn glued(x: Option<char>, y: Option<char>) -> bool {
    matches!((x, y), (Some(x), Some(y)) if x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric())
}

/// "2022-03" and "2022-03-18" say the same thing at different precisions. Only ISO dates
/// (as `domain::dates::iso_date` writes them) are compared this way.
pub fn same_date(a: &str, b: &str) -> bool {
    let iso = |s: &str| domain::dates::iso_date(s).filter(|d| d == s);
    match (iso(a), iso(b)) {
        (Some(a), Some(b)) => {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            long.starts_with(&short)
                && (long.len() == short.len() || long[short.len()..].starts_with('-'))
        }
        _ => same_text(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_agree_up_to_case_width_separators_and_containment() {
        assert!(same_text("ＢＭＷ", "bmw"));
        assert!(same_text("保时捷", "进口保时捷"));
        assert!(same_text("FAW-Volkswagen", "faw volkswagen"));
        assert!(same_text("一汽-大众", "一汽大众"));
        assert!(same_text("宝来", "宝来 2018款"));
        assert!(same_text("奥迪A4L", "奥迪 A4L"));
        assert!(!same_text("保时捷", "大众"));
        assert!(
            !same_text("A4", "A4L"),
            "a glued letter makes another model"
        );
        assert!(!same_text("X5", "X50"));
        assert!(!same_text("奥迪A4", "奥迪A4L"));
        assert!(
            same_text("X5", "宝马X5"),
            "a Chinese prefix splits no Latin word"
        );
        assert!(!same_text("", ""), "nothing agrees with nothing");
        assert!(!same_text("-", "-"));
        assert!(same_text("  Panamera  4 ", "panamera\u{3000}4"));
        assert!(!same_text("Panamera 4", "Panamera"));
        assert!(same_text("ＢＭＷ（DCT）", "bmw(dct)"));
        assert!(same_text("宝来 2018款", "宝来2018款"));
        assert!(!same_text("宝来 2018款", "宝来 2019款"));
    }

    #[test]
    fn placeholders_and_scripts() {
        assert!(is_placeholder("-") && is_placeholder(" 未知 ") && !is_placeholder("本田"));
        assert!(comparable("大众", "一汽大众"));
        assert!(!comparable("Porsche AG", "保时捷"));
    }

    #[test]
    fn dates_agree_at_less_precision() {
        assert!(same_date("2022-03", "2022-03-18"));
        assert!(same_date("2022", "2022-03"));
        assert!(same_date("2022-03-18", "2022-03-18"));
        assert!(!same_date("2022-03", "2022-04-01"));
        assert!(!same_date("2022-03", "2022-031"));
        assert!(
            !same_date("LSV", "LSVAM"),
            "not dates, and a glued Latin tail"
        );
    }
}
