//! 使用性质 (use nature of a vehicle), codes A-S of GA 802 (the 2008 edition as the
//! traffic-police systems' code lists cite it: O 幼儿校车, P 小学生校车, Q 初中生校车,
//! R 危化品运输, S 中小学生校车) plus T/U for ride-hailing added with the 2019 edition, and
//! the mapping of vendors' free text onto them.
//!
//! Vendors write the use nature as free text ("非营业个人", "营转非", "预约出租客运" ...):
//! the text is mapped to a code, and the original is always kept by the caller.

/// A 使用性质 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageNature {
    pub code: char,
    pub name_zh: &'static str,
    pub name: &'static str,
}

const fn u(code: char, name_zh: &'static str, name: &'static str) -> UsageNature {
    UsageNature {
        code,
        name_zh,
        name,
    }
}

const CODES: &[UsageNature] = &[
    u('A', "非营运", "non-commercial"),
    u('B', "公路客运", "road passenger transport"),
    u('C', "公交客运", "public transit"),
    u('D', "出租客运", "taxi"),
    u('E', "旅游客运", "tourist passenger transport"),
    u('F', "货运", "freight"),
    u('G', "租赁", "rental"),
    u('H', "警用", "police"),
    u('I', "消防", "fire service"),
    u('J', "救护", "ambulance"),
    u('K', "工程救险", "engineering rescue"),
    u('L', "营转非", "converted from commercial to non-commercial"),
    u('M', "出租转非", "converted from taxi to non-commercial"),
    u('N', "教练", "driving school"),
    u('O', "幼儿校车", "kindergarten school bus"),
    u('P', "小学生校车", "primary-school bus"),
    u('Q', "初中生校车", "junior-secondary school bus"),
    u('R', "危化品运输", "hazardous-chemicals transport"),
    u('S', "中小学生校车", "primary and secondary school bus"),
    u('T', "预约出租客运", "ride-hailing (booked taxi)"),
    u(
        'U',
        "预约出租转非",
        "converted from ride-hailing to non-commercial",
    ),
];

/// The use nature with code `code` (A-U).
pub fn usage_by_code(code: char) -> Option<UsageNature> {
    CODES
        .iter()
        .find(|c| c.code == code.to_ascii_uppercase())
        .copied()
}

/// All codes.
pub fn usage_codes() -> &'static [UsageNature] {
    CODES
}

/// How a free text was understood.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageMatch {
    pub usage: UsageNature,
    /// 1.0 for the code's own name or an unambiguous synonym, lower for broad words.
    pub confidence: f32,
}

// (needle, code, confidence), most specific first. Conversions ("…转非…") are decided
// before these rules, in `conversion`; school buses in `school_bus`.
const RULES: &[(&str, char, f32)] = &[
    ("预约出租", 'T', 1.0),
    ("网约", 'T', 0.9),
    ("危化", 'R', 1.0),
    ("危险化学品", 'R', 1.0),
    ("危险品", 'R', 0.9),
    ("危险货物", 'R', 0.9),
    ("危货", 'R', 0.9),
    ("非营运", 'A', 1.0),
    ("非营业", 'A', 1.0),
    // A common transposition (used-car schemas, OCR of 行驶证).
    ("非运营", 'A', 0.95),
    ("家庭自用", 'A', 0.95),
    ("自用", 'A', 0.9),
    ("家用", 'A', 0.9),
    ("私家", 'A', 0.9),
    ("公路客运", 'B', 1.0),
    ("班线客运", 'B', 0.9),
    ("长途客运", 'B', 0.9),
    ("公交", 'C', 1.0),
    // Insurance's "出租、租赁" / "营业出租租赁" names both uses.
    ("出租租赁", 'D', 0.5),
    ("出租、租赁", 'D', 0.5),
    ("出租", 'D', 0.95),
    ("旅游", 'E', 1.0),
    ("货运", 'F', 1.0),
    ("租赁", 'G', 1.0),
    ("警用", 'H', 1.0),
    ("警车", 'H', 0.95),
    ("消防", 'I', 1.0),
    ("救护", 'J', 1.0),
    // GA 802 says 工程救险; many published code lists write 工程抢险.
    ("工程救险", 'K', 1.0),
    ("工程抢险", 'K', 1.0),
    ("抢险", 'K', 0.9),
    ("救险", 'K', 0.9),
    ("教练", 'N', 1.0),
    ("营业客运", 'B', 0.8),
    ("营运客运", 'B', 0.8),
    ("营业货运", 'F', 0.9),
    // Commercial goods vehicles (insurance's 营业货车, 营业挂车): freight.
    ("货", 'F', 0.8),
    ("挂车", 'F', 0.7),
];

/// Maps a vendor's free text onto a code. Order matters: conversions (营转非, 出租转非,
/// 预约出租转非) contain the words of what they were converted from, so they are tried
/// first. `None` when the text says nothing recognisable, and also for a bare
/// "营运"/"营业" (commercial, but no code says which kind): a guess would be presented
/// as the vehicle's use, the original text says more.
pub fn usage_from_text(text: &str) -> Option<UsageMatch> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(crate::text::fold_width)
        .collect();
    if t.is_empty() {
        return None;
    }
    if let Some(code) = t.chars().next().filter(|_| t.chars().count() == 1) {
        return usage_by_code(code).map(|usage| UsageMatch {
            usage,
            confidence: 1.0,
        });
    }
    if let Some(m) = conversion(&t) {
        return m;
    }
    school_bus(&t).or_else(|| by_rules(&t))
}

fn matched(code: char, confidence: f32) -> Option<UsageMatch> {
    usage_by_code(code).map(|usage| UsageMatch { usage, confidence })
}

fn by_rules(t: &str) -> Option<UsageMatch> {
    RULES
        .iter()
        .find(|(needle, _, _)| t.contains(needle))
        .and_then(|(_, code, conf)| matched(*code, *conf))
}

/// School buses by the pupils they carry (GA 802 / GB 24407: 幼儿专用校车, 小学生专用校车,
/// 中小学生专用校车 ...); a school bus of unstated kind gets the broadest code, S, with low
/// confidence.
fn school_bus(t: &str) -> Option<UsageMatch> {
    if !t.contains("校车") {
        return None;
    }
    if t.contains("幼儿") {
        matched('O', 1.0)
    } else if t.contains("中小学") {
        matched('S', 1.0)
    } else if t.contains("初中") {
        matched('Q', 1.0)
    } else if t.contains("小学") {
        matched('P', 1.0)
    } else {
        matched('S', 0.5)
    }
}

/// A converted vehicle ("营转非", "营业转非营业", "营运转为非营运", "出租客运转非营运",
/// "网约车转非"; or the other way, "非营运转营运"): the text holds the words of both uses,
/// so it is split at 转 and read as from -> to. `None` when the text is not a conversion;
/// `Some(None)` when it is one but names no code (converted to an unstated commercial use).
#[allow(clippy::option_option)]
fn conversion(t: &str) -> Option<Option<UsageMatch>> {
    let (from, to) = t.rsplit_once('转')?;
    let to = to.trim_start_matches(['为', '成']);
    let commercial_word = |s: &str| {
        ["营", "出租", "网约", "预约", "客运", "货运"]
            .iter()
            .any(|w| s.contains(w))
    };
    if to.starts_with('非') {
        if !commercial_word(from) {
            return None;
        }
        let code = if from.contains("预约") || from.contains("网约") {
            'U'
        } else if from.contains("出租") {
            'M'
        } else {
            'L'
        };
        return Some(matched(code, 1.0));
    }
    if from.starts_with('非') || from.contains("非营") || from.contains("非运营") {
        // Converted to a commercial use: the use now is what follows 转.
        return Some(school_bus(to).or_else(|| by_rules(to)));
    }
    None
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_a_to_u() {
        assert_eq!(usage_codes().len(), 21);
        assert_eq!(usage_by_code('a').map(|u| u.name_zh), Some("非营运"));
        assert_eq!(usage_by_code('Q').map(|u| u.name_zh), Some("初中生校车"));
        assert!(usage_by_code('Z').is_none());
    }

    #[test]
    fn vendor_texts() {
        for (text, code) in [
            ("非营运", 'A'),
            ("非营业个人", 'A'),
            ("非营业企业", 'A'),
            ("家庭自用", 'A'),
            ("营转非", 'L'),
            ("出租转非", 'M'),
            ("预约出租客运", 'T'),
            ("预约出租转非", 'U'),
            ("出租客运", 'D'),
            ("营业货运", 'F'),
            ("公交客运", 'C'),
            ("租赁", 'G'),
            ("幼儿校车", 'O'),
            ("初中生校车", 'Q'),
            ("中小学生校车", 'S'),
            ("小学生校车", 'P'),
            ("营业转非营业", 'L'),
            ("营运转非", 'L'),
            ("出租客运转非营运", 'M'),
            ("网约车转非", 'U'),
            ("危险货物运输", 'R'),
            ("A", 'A'),
            ("Ａ", 'A'),
            ("0-非运营", 'A'),
            ("营业货车", 'F'),
            ("营运货车", 'F'),
            ("营业挂车", 'F'),
            ("工程抢险", 'K'),
            ("危险化学品运输", 'R'),
            ("幼儿园校车", 'O'),
            ("幼儿专用校车", 'O'),
            ("小学生专用校车", 'P'),
            ("中小学生专用校车", 'S'),
            ("营运转为非营运", 'L'),
            ("非营运转出租", 'D'),
            ("长途客运", 'B'),
            ("警车", 'H'),
        ] {
            assert_eq!(
                usage_from_text(text).map(|m| m.usage.code),
                Some(code),
                "{text}"
            );
        }
        // Commercial of no stated kind names no code: the original text says more.
        for text in [
            "营运",
            "营业",
            "营业特种车",
            "非营运转营运",
            "非营运转为营运",
            "非营转营",
        ] {
            assert!(usage_from_text(text).is_none(), "{text}");
        }
        assert!(usage_from_text("校车").expect("school bus").confidence < 0.6);
        assert!(usage_from_text("").is_none());
        assert!(usage_from_text("-").is_none());
    }
}
