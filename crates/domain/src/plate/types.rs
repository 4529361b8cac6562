//! 号牌种类 (plate type) codes, GA 24.7.

/// A 号牌种类 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlateType {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name: &'static str,
}

const fn t(code: &'static str, name_zh: &'static str, name: &'static str) -> PlateType {
    PlateType {
        code,
        name_zh,
        name,
    }
}

/// GA 24.7 (机动车登记信息代码 第7部分: 号牌种类代码).
const TYPES: &[PlateType] = &[
    t("01", "大型汽车号牌", "large vehicle"),
    t("02", "小型汽车号牌", "small vehicle"),
    t("03", "使馆汽车号牌", "embassy vehicle"),
    t("04", "领馆汽车号牌", "consulate vehicle"),
    t("05", "境外汽车号牌", "foreign-registered vehicle"),
    t("06", "外籍汽车号牌", "foreign-owned vehicle"),
    t("07", "普通摩托车号牌", "motorcycle"),
    t("08", "轻便摩托车号牌", "light motorcycle"),
    t("09", "使馆摩托车号牌", "embassy motorcycle"),
    t("10", "领馆摩托车号牌", "consulate motorcycle"),
    t("11", "境外摩托车号牌", "foreign-registered motorcycle"),
    t("12", "外籍摩托车号牌", "foreign-owned motorcycle"),
    t("13", "低速车号牌", "low-speed vehicle"),
    t("14", "拖拉机号牌", "tractor"),
    t("15", "挂车号牌", "trailer"),
    t("16", "教练汽车号牌", "driving-school vehicle"),
    t("17", "教练摩托车号牌", "driving-school motorcycle"),
    t("18", "试验汽车号牌", "test vehicle"),
    t("19", "试验摩托车号牌", "test motorcycle"),
    t("20", "临时入境汽车号牌", "temporary-entry vehicle"),
    t("21", "临时入境摩托车号牌", "temporary-entry motorcycle"),
    t("22", "临时行驶车号牌", "temporary plate"),
    t("23", "警用汽车号牌", "police vehicle"),
    t("24", "警用摩托号牌", "police motorcycle"),
    t("25", "原农机号牌", "former agricultural-machinery plate"),
    t("26", "香港入出境车号牌", "Hong Kong cross-border vehicle"),
    t("27", "澳门入出境车号牌", "Macao cross-border vehicle"),
    t("31", "武警号牌", "armed police"),
    t("32", "军队号牌", "military"),
    t("51", "大型新能源汽车号牌", "large new-energy vehicle"),
    t("52", "小型新能源汽车号牌", "small new-energy vehicle"),
    t("99", "其他号牌", "other"),
];

/// The type with GA 24.7 code `code`.
pub fn plate_type(code: &str) -> Option<PlateType> {
    TYPES.iter().find(|t| t.code == code).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_known() {
        let mut codes: Vec<&str> = TYPES.iter().map(|t| t.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), TYPES.len());
        assert_eq!(
            plate_type("52").map(|t| t.name_zh),
            Some("小型新能源汽车号牌")
        );
        assert!(plate_type("00").is_none());
    }
}
