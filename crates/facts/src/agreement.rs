//! When two sources agree about a value: the rules every merged fact uses, decided here
//! once.
//!
//! **Texts** agree when, after folding what never makes texts different (case,
//! whitespace, full-width forms, and the separators vendors put in names: `-` `·` `•` `‧`
//! `_`), they are equal, or equal once a qualifier that names no other thing is dropped:
//! a leading 进口 / 国产, a trailing 汽车 / 品牌 / 牌 / (进口) / (国产). So "保时捷" agrees
//! with "进口保时捷", "长安汽车" with "长安", "FAW-Volkswagen" with "faw volkswagen"; but
//! "长安" does not agree with "长安福特", "汉" with "汉兰达", "A4" with "A4L", "营运" with
//! "非营运", "宝来" with "宝来 2018款": one text containing the other says nothing about
//! whether they name the same thing, so containment is never agreement.
//!
//! **Code-table values** agree when they map to the same code: 使用性质 texts by
//! [`same_usage`] ("非营运" and "非营业个人" are both A), 车辆类型 texts by
//! [`same_vehicle_type`]; texts no code matches fall back to the text rule.
//!
//! **Prices** quoted in 万元 agree within one yuan ([`same_wan_yuan`]).
//!
//! **Dates** also agree when one is the other at less precision ("2022-03" and
//! "2022-03-18").
//!
//! A **placeholder** ("-", "暂无", "未知", "0000-00-00") is no answer: it neither wins nor
//! agrees nor disagrees.
//!
//! Texts in **different scripts** (a Chinese catalogue name and an English register name)
//! can be neither evidence nor contradiction: [`comparable`] says so. A field built with
//! `Facts::name` leaves the other-script values out of its merge; use it only where each
//! source's whole record is returned beside the summary (DecodeVin's `vendor_decodes`),
//! so nothing is hidden.

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

/// Qualifiers that name no other thing, dropped before texts are compared (folded forms).
const PREFIXES: &[&str] = &["进口", "国产"];
const SUFFIXES: &[&str] = &["(进口)", "(国产)", "汽车", "品牌", "牌"];

/// The folded text without one leading and one trailing qualifier (never down to nothing).
fn core(folded: &str) -> &str {
    let mut t = folded;
    if let Some(rest) = PREFIXES.iter().find_map(|p| t.strip_prefix(p))
        && !rest.is_empty()
    {
        t = rest;
    }
    if let Some(rest) = SUFFIXES.iter().find_map(|p| t.strip_suffix(p))
        && !rest.is_empty()
    {
        t = rest;
    }
    t
}

/// The text-agreement rule (see the module documentation).
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (fold(a), fold(b));
    !a.is_empty() && !b.is_empty() && (a == b || core(&a) == core(&b))
}

/// 使用性质 texts agree when they map to the same code (GA 802); otherwise by text.
pub fn same_usage(a: &str, b: &str) -> bool {
    match (
        domain::usage::usage_from_text(a),
        domain::usage::usage_from_text(b),
    ) {
        (Some(x), Some(y)) => x.usage.code == y.usage.code,
        _ => same_text(a, b),
    }
}

/// 车辆类型 texts agree when they map to the same code (GA 24.4); otherwise by text.
pub fn same_vehicle_type(a: &str, b: &str) -> bool {
    match (
        domain::vehicle_type::vehicle_type_from_text(a),
        domain::vehicle_type::vehicle_type_from_text(b),
    ) {
        (Some(x), Some(y)) => x.vehicle_type.code == y.vehicle_type.code,
        _ => same_text(a, b),
    }
}

/// Prices quoted in 万元 ("12.99", "12.99万") agree within one yuan; texts that are no
/// price fall back to the text rule.
pub fn same_wan_yuan(a: &str, b: &str) -> bool {
    match (
        crate::money::cny_from_wan_yuan(a),
        crate::money::cny_from_wan_yuan(b),
    ) {
        (Some(x), Some(y)) => crate::money::same_price(&x, &y),
        _ => same_text(a, b),
    }
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
    fn texts_agree_up_to_case_width_separators_and_qualifiers() {
        assert!(same_text("ＢＭＷ", "bmw"));
        assert!(same_text("保时捷", "进口保时捷"));
        assert!(same_text("保时捷(进口)", "保时捷"));
        assert!(same_text("长安汽车", "长安"));
        assert!(same_text("FAW-Volkswagen", "faw volkswagen"));
        assert!(same_text("一汽-大众", "一汽大众"));
        assert!(same_text("奥迪A4L", "奥迪 A4L"));
        assert!(same_text("  Panamera  4 ", "panamera\u{3000}4"));
        assert!(same_text("ＢＭＷ（DCT）", "bmw(dct)"));
        assert!(same_text("宝来 2018款", "宝来2018款"));
        assert!(!same_text("", ""), "nothing agrees with nothing");
        assert!(!same_text("-", "-"));
        assert!(
            !same_text("汽车", "牌"),
            "a qualifier alone is not stripped to nothing"
        );
    }

    #[test]
    fn containment_is_not_agreement() {
        // Each pair names two different things, though one text contains the other.
        for (a, b) in [
            ("营运", "非营运"),
            ("出租客运", "预约出租客运"),
            ("出租转非", "预约出租转非"),
            ("长安", "长安福特"),
            ("东风", "东风日产"),
            ("一汽大众", "大众"),
            ("汉", "汉兰达"),
            ("途观", "途观L"),
            ("A4", "A4L"),
            ("X5", "X50"),
            ("白", "白红"),
            ("12", "12.99"),
            ("Panamera 4", "Panamera"),
            ("宝来", "宝来 2018款"),
            ("宝来 2018款", "宝来 2019款"),
            ("保时捷", "大众"),
        ] {
            assert!(!same_text(a, b), "{a} / {b}");
            assert!(!same_text(b, a), "{b} / {a}");
        }
    }

    #[test]
    fn code_table_values_agree_by_code() {
        assert!(same_usage("非营运", "非营业个人"));
        assert!(same_usage("A", "非营运"));
        assert!(!same_usage("营运", "非营运"));
        assert!(!same_usage("出租客运", "预约出租客运"));
        assert!(!same_usage("D", "非营运"));
        assert!(same_vehicle_type("小型轿车", "K33"));
        assert!(!same_vehicle_type("小型轿车", "小型普通客车"));
    }

    #[test]
    fn prices_agree_within_a_yuan() {
        assert!(same_wan_yuan("12.99", "12.99万"));
        assert!(same_wan_yuan("12.99", "12.99001"));
        assert!(!same_wan_yuan("12", "12.99"));
        assert!(same_wan_yuan("面议", "面议"));
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
        assert!(!same_date("LSV", "LSVAM"), "not dates: the text rule");
    }
}
