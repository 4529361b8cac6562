//! 机动车类型 (vehicle type) codes, GA 24.4, and the mapping of vendors' free text.

use std::sync::LazyLock;

const DATA: &str = include_str!("../data/vehicle_types.tsv");

/// A GA 24.4 vehicle type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VehicleType {
    pub code: &'static str,
    pub name_zh: &'static str,
}

fn rows() -> impl Iterator<Item = Vec<&'static str>> {
    DATA.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 2)
}

static TYPES: LazyLock<Vec<VehicleType>> = LazyLock::new(|| {
    rows()
        .map(|cols| VehicleType {
            code: cols[0],
            name_zh: cols[1],
        })
        .collect()
});

/// Other names vendors write for a type (former names of renamed codes, short forms),
/// with the type they mean.
static ALIASES: LazyLock<Vec<(&'static str, VehicleType)>> = LazyLock::new(|| {
    rows()
        .filter_map(|cols| {
            let t = VehicleType {
                code: cols[0],
                name_zh: cols[1],
            };
            cols.get(2).map(|al| {
                al.split(',')
                    .map(move |a| (a.trim(), t))
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .filter(|(a, _)| !a.is_empty())
        .collect()
});

/// The type with code `code` (e.g. "K33").
pub fn vehicle_type_by_code(code: &str) -> Option<VehicleType> {
    let code = code.trim().to_ascii_uppercase();
    TYPES.iter().find(|t| t.code == code).copied()
}

/// Every code.
pub fn vehicle_types() -> &'static [VehicleType] {
    &TYPES
}

/// How a vendor's text was understood.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleTypeMatch {
    pub vehicle_type: VehicleType,
    /// 1.0 for a code or an exact name; lower when the text only contains a name.
    pub confidence: f32,
}

/// Maps a vendor's text ("小型轿车", "K33", "小型轿车(K33)") onto a code. `None` when it
/// names no type; the caller keeps the original text either way.
pub fn vehicle_type_from_text(text: &str) -> Option<VehicleTypeMatch> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(crate::text::fold_width)
        .collect();
    if t.is_empty() || t == "-" {
        return None;
    }
    let found = |vt: VehicleType, confidence: f32| {
        Some(VehicleTypeMatch {
            vehicle_type: vt,
            confidence,
        })
    };
    if let Some(vt) = vehicle_type_by_code(&t) {
        return found(vt, 1.0);
    }
    if let Some(vt) = TYPES.iter().find(|v| v.name_zh == t) {
        return found(*vt, 1.0);
    }
    // A former or short name, whole ("大型专项作业车" before the 载货 split, "轿车").
    if let Some((_, vt)) = ALIASES.iter().find(|(a, _)| *a == t) {
        return found(*vt, 0.9);
    }
    // A code standing on its own in the text ("小型轿车(K33)", "K33:小型轿车"): only
    // where no letter or digit touches it, since model numbers such as CA4250P66K24T1A1E5
    // contain code-like runs. The first one in the text wins.
    if let Some(vt) = code_in_text(&t) {
        return found(vt, 0.95);
    }
    // The longest type name (or other name) the text contains ("国产小型普通客车" ->
    // 小型普通客车). 集装箱 is the everyday spelling of the standard's 集装厢.
    let t = t.replace("集装箱", "集装厢");
    let name = TYPES
        .iter()
        .filter(|v| t.contains(v.name_zh))
        .map(|v| (v.name_zh, *v, 0.8))
        .chain(
            ALIASES
                .iter()
                .filter(|(a, _)| t.contains(a))
                .map(|(a, v)| (*a, *v, 0.75)),
        )
        .max_by_key(|(name, _, _)| name.chars().count());
    name.and_then(|(_, vt, conf)| found(vt, conf))
}

fn code_in_text(t: &str) -> Option<VehicleType> {
    let chars: Vec<char> = t.chars().map(|c| c.to_ascii_uppercase()).collect();
    let alnum = |i: Option<&char>| i.is_some_and(char::is_ascii_alphanumeric);
    (0..chars.len().saturating_sub(2))
        .filter(|&i| i == 0 || !alnum(chars.get(i - 1)))
        .filter(|&i| !alnum(chars.get(i + 3)))
        .find_map(|i| {
            let code: String = chars[i..i + 3].iter().collect();
            vehicle_type_by_code(&code)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_well_formed() {
        let mut seen = HashSet::new();
        for v in vehicle_types() {
            assert!(v.code.len() == 3 && v.code.is_ascii(), "{v:?}");
            assert!(seen.insert(v.code), "duplicate {}", v.code);
            assert!(!v.name_zh.is_empty());
        }
        assert!(vehicle_types().len() >= 255);
        assert_eq!(
            vehicle_type_by_code("k33").map(|v| v.name_zh),
            Some("小型轿车")
        );
    }

    #[test]
    fn vendor_texts() {
        for (text, code) in [
            ("小型轿车", "K33"),
            ("K33", "K33"),
            ("小型轿车(K33)", "K33"),
            ("重型半挂牵引车", "Q11"),
            ("国产小型普通客车", "K31"),
            ("轻型厢式货车", "H32"),
            ("小型面包车", "K39"),
            ("K39", "K39"),
            ("H1A", "H1A"),
            ("重型车辆运输车", "H1A"),
            ("重型非载货专项作业车", "Z51"),
            ("重型专项作业车", "Z51"),
            ("重型中置轴旅居挂车", "B1U"),
            ("轿车", "K33"),
            // Model numbers hold code-like runs (K24 here); the name decides.
            ("重型半挂牵引车CA4250P66K24T1A1E5", "Q11"),
            ("K33:小型轿车", "K33"),
            ("X99:其他", "X99"),
            ("其他", "X99"),
            ("小型拖拉机", "T20"),
            ("两轮摩托车", "M20"),
            ("小轿车", "K33"),
            ("重型集装箱车", "H16"),
            ("低速普通货车", "H51"),
            ("Ｋ３３", "K33"),
        ] {
            assert_eq!(
                vehicle_type_from_text(text).map(|m| m.vehicle_type.code),
                Some(code),
                "{text}"
            );
        }
        assert!(vehicle_type_from_text("-").is_none());
        assert!(vehicle_type_from_text("飞船").is_none());
    }
}
