//! Country and region of a WMI from its first two characters.
//!
//! Ranges per ISO 3780 / SAE J1044 as tabulated in the English Wikipedia article
//! "Vehicle identification number", section "World manufacturer identifier" (read
//! 2026-11-24). Second characters run in the order A..Z (without I, O, Q), then 1..9, 0.

/// A country a WMI range is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryInfo {
    /// ISO 3166-1 alpha-2.
    pub code: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
}

const ORDER: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ1234567890";

/// (first char, second-char range start, end, country)
const RANGES: &[(u8, u8, u8, CountryInfo)] = &[
    (b'A', b'A', b'H', c("ZA", "South Africa", "南非")),
    (b'A', b'J', b'K', c("CI", "Côte d'Ivoire", "科特迪瓦")),
    (b'A', b'L', b'M', c("LS", "Lesotho", "莱索托")),
    (b'A', b'N', b'P', c("BW", "Botswana", "博茨瓦纳")),
    (b'A', b'R', b'S', c("NA", "Namibia", "纳米比亚")),
    (b'A', b'T', b'U', c("MG", "Madagascar", "马达加斯加")),
    (b'A', b'V', b'W', c("MU", "Mauritius", "毛里求斯")),
    (b'A', b'X', b'Y', c("TN", "Tunisia", "突尼斯")),
    (b'A', b'Z', b'1', c("CY", "Cyprus", "塞浦路斯")),
    (b'A', b'2', b'3', c("ZW", "Zimbabwe", "津巴布韦")),
    (b'A', b'4', b'5', c("MZ", "Mozambique", "莫桑比克")),
    (b'B', b'A', b'B', c("AO", "Angola", "安哥拉")),
    (b'B', b'F', b'G', c("KE", "Kenya", "肯尼亚")),
    (b'B', b'L', b'L', c("NG", "Nigeria", "尼日利亚")),
    (b'B', b'R', b'R', c("DZ", "Algeria", "阿尔及利亚")),
    (b'C', b'A', b'B', c("BJ", "Benin", "贝宁")),
    (b'C', b'L', b'R', c("TN", "Tunisia", "突尼斯")),
    (b'D', b'A', b'D', c("EG", "Egypt", "埃及")),
    (b'D', b'F', b'K', c("MA", "Morocco", "摩洛哥")),
    (b'D', b'L', b'R', c("ZM", "Zambia", "赞比亚")),
    (b'E', b'A', b'E', c("ET", "Ethiopia", "埃塞俄比亚")),
    (b'E', b'F', b'K', c("MZ", "Mozambique", "莫桑比克")),
    (b'F', b'A', b'E', c("GH", "Ghana", "加纳")),
    (b'F', b'F', b'K', c("NG", "Nigeria", "尼日利亚")),
    // 'H' was Africa's and unassigned; it has since been given to China, whose L range is
    // exhausted: newer Chinese makers' WMIs start with H (HXM Xiaomi, HJR Great Wall's
    // Tank, HLX ..., as public WMI code lists show; see wmi_china.tsv `codelists`).
    (b'H', b'A', b'0', c("CN", "China", "中国")),
    (b'J', b'A', b'0', c("JP", "Japan", "日本")),
    (b'K', b'A', b'E', c("LK", "Sri Lanka", "斯里兰卡")),
    (b'K', b'F', b'K', c("IL", "Israel", "以色列")),
    (b'K', b'L', b'R', c("KR", "South Korea", "韩国")),
    (b'K', b'S', b'0', c("KZ", "Kazakhstan", "哈萨克斯坦")),
    (b'L', b'A', b'0', c("CN", "China", "中国")),
    (b'M', b'A', b'E', c("IN", "India", "印度")),
    (b'M', b'F', b'K', c("ID", "Indonesia", "印度尼西亚")),
    (b'M', b'L', b'R', c("TH", "Thailand", "泰国")),
    (b'M', b'S', b'S', c("MM", "Myanmar", "缅甸")),
    (b'N', b'A', b'E', c("IR", "Iran", "伊朗")),
    (b'N', b'F', b'K', c("PK", "Pakistan", "巴基斯坦")),
    (b'N', b'L', b'R', c("TR", "Turkey", "土耳其")),
    (b'P', b'A', b'E', c("PH", "Philippines", "菲律宾")),
    (b'P', b'F', b'K', c("SG", "Singapore", "新加坡")),
    (b'P', b'L', b'R', c("MY", "Malaysia", "马来西亚")),
    (b'R', b'A', b'E', c("AE", "United Arab Emirates", "阿联酋")),
    (b'R', b'F', b'K', c("TW", "Taiwan, China", "中国台湾")),
    (b'R', b'L', b'M', c("VN", "Vietnam", "越南")),
    (b'R', b'N', b'R', c("SA", "Saudi Arabia", "沙特阿拉伯")),
    (b'S', b'A', b'M', c("GB", "United Kingdom", "英国")),
    (b'S', b'N', b'T', c("DE", "Germany", "德国")),
    (b'S', b'U', b'Z', c("PL", "Poland", "波兰")),
    (b'S', b'1', b'4', c("LV", "Latvia", "拉脱维亚")),
    (b'T', b'A', b'H', c("CH", "Switzerland", "瑞士")),
    (b'T', b'J', b'P', c("CZ", "Czechia", "捷克")),
    (b'T', b'R', b'V', c("HU", "Hungary", "匈牙利")),
    (b'T', b'W', b'1', c("PT", "Portugal", "葡萄牙")),
    (b'U', b'H', b'M', c("DK", "Denmark", "丹麦")),
    (b'U', b'N', b'T', c("IE", "Ireland", "爱尔兰")),
    (b'U', b'U', b'Z', c("RO", "Romania", "罗马尼亚")),
    (b'U', b'5', b'7', c("SK", "Slovakia", "斯洛伐克")),
    (b'V', b'A', b'E', c("AT", "Austria", "奥地利")),
    (b'V', b'F', b'R', c("FR", "France", "法国")),
    (b'V', b'S', b'W', c("ES", "Spain", "西班牙")),
    (b'V', b'X', b'2', c("RS", "Serbia", "塞尔维亚")),
    (b'V', b'3', b'5', c("HR", "Croatia", "克罗地亚")),
    (b'V', b'6', b'0', c("EE", "Estonia", "爱沙尼亚")),
    (b'W', b'A', b'0', c("DE", "Germany", "德国")),
    (b'X', b'A', b'E', c("BG", "Bulgaria", "保加利亚")),
    (b'X', b'F', b'K', c("GR", "Greece", "希腊")),
    (b'X', b'L', b'R', c("NL", "Netherlands", "荷兰")),
    (b'X', b'S', b'W', c("RU", "Russia", "俄罗斯")),
    (b'X', b'X', b'2', c("LU", "Luxembourg", "卢森堡")),
    (b'X', b'3', b'0', c("RU", "Russia", "俄罗斯")),
    (b'Y', b'A', b'E', c("BE", "Belgium", "比利时")),
    (b'Y', b'F', b'K', c("FI", "Finland", "芬兰")),
    (b'Y', b'L', b'R', c("MT", "Malta", "马耳他")),
    (b'Y', b'S', b'W', c("SE", "Sweden", "瑞典")),
    (b'Y', b'X', b'2', c("NO", "Norway", "挪威")),
    (b'Y', b'3', b'5', c("BY", "Belarus", "白俄罗斯")),
    (b'Y', b'6', b'0', c("UA", "Ukraine", "乌克兰")),
    (b'Z', b'A', b'R', c("IT", "Italy", "意大利")),
    (b'Z', b'X', b'2', c("SI", "Slovenia", "斯洛文尼亚")),
    (b'Z', b'3', b'5', c("LT", "Lithuania", "立陶宛")),
    (b'Z', b'6', b'0', c("RU", "Russia", "俄罗斯")),
    (b'1', b'A', b'0', c("US", "United States", "美国")),
    (b'2', b'A', b'0', c("CA", "Canada", "加拿大")),
    (b'3', b'A', b'W', c("MX", "Mexico", "墨西哥")),
    (b'3', b'X', b'7', c("CR", "Costa Rica", "哥斯达黎加")),
    (b'3', b'8', b'9', c("KY", "Cayman Islands", "开曼群岛")),
    (b'4', b'A', b'0', c("US", "United States", "美国")),
    (b'5', b'A', b'0', c("US", "United States", "美国")),
    (b'6', b'A', b'W', c("AU", "Australia", "澳大利亚")),
    (b'7', b'A', b'E', c("NZ", "New Zealand", "新西兰")),
    // The rest of 7 went to the United States when 1, 4 and 5 filled up (Tesla Austin 7SA,
    // Honda 7FA, Rivian 7PD in the vPIC register; github.com/idlesign/vininfo
    // countries.py lists 7 after New Zealand as United States).
    (b'7', b'F', b'0', c("US", "United States", "美国")),
    (b'8', b'A', b'E', c("AR", "Argentina", "阿根廷")),
    (b'8', b'F', b'K', c("CL", "Chile", "智利")),
    (b'8', b'L', b'R', c("EC", "Ecuador", "厄瓜多尔")),
    (b'8', b'S', b'W', c("PE", "Peru", "秘鲁")),
    (b'8', b'X', b'2', c("VE", "Venezuela", "委内瑞拉")),
    (b'9', b'A', b'E', c("BR", "Brazil", "巴西")),
    (b'9', b'F', b'K', c("CO", "Colombia", "哥伦比亚")),
    (b'9', b'L', b'R', c("PY", "Paraguay", "巴拉圭")),
    (b'9', b'S', b'W', c("UY", "Uruguay", "乌拉圭")),
    (
        b'9',
        b'X',
        b'2',
        c("TT", "Trinidad and Tobago", "特立尼达和多巴哥"),
    ),
    (b'9', b'3', b'9', c("BR", "Brazil", "巴西")),
];

const fn c(code: &'static str, name: &'static str, name_zh: &'static str) -> CountryInfo {
    CountryInfo {
        code,
        name,
        name_zh,
    }
}

fn rank(b: u8) -> Option<usize> {
    ORDER.iter().position(|&x| x == b)
}

/// Country of the WMI starting with `first`, `second`.
pub fn country_of(first: u8, second: u8) -> Option<CountryInfo> {
    let r = rank(second)?;
    RANGES
        .iter()
        .find(|(f, lo, hi, _)| {
            *f == first && rank(*lo).is_some_and(|l| l <= r) && rank(*hi).is_some_and(|h| r <= h)
        })
        .map(|(_, _, _, c)| *c)
}

/// Continent by the first character.
pub fn region_of(first: u8, second: u8) -> Option<&'static str> {
    Some(match first {
        b'A'..=b'G' => "Africa",
        b'H' | b'J'..=b'R' => "Asia",
        b'S'..=b'Z' => "Europe",
        b'1'..=b'5' => "North America",
        b'7' if north_american(first, second) => "North America",
        b'6' | b'7' => "Oceania",
        b'8' | b'9' => "South America",
        _ => return None,
    })
}

/// WMIs of the United States, Canada and Mexico (1-5, and 7F-70): where 49 CFR 565 makes
/// the check digit mandatory and ties position 7 to the model-year cycle.
pub fn north_american(first: u8, second: u8) -> bool {
    match first {
        b'1'..=b'5' => true,
        b'7' => country_of(first, second).is_some_and(|c| c.code == "US"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_ranges() {
        let code = |s: &str| country_of(s.as_bytes()[0], s.as_bytes()[1]).map(|c| c.code);
        assert_eq!(code("WP"), Some("DE"));
        assert_eq!(code("LS"), Some("CN"));
        assert_eq!(code("L6"), Some("CN"));
        assert_eq!(code("HX"), Some("CN"), "China's second range");
        assert_eq!(code("JT"), Some("JP"));
        assert_eq!(code("KM"), Some("KR"));
        assert_eq!(code("1H"), Some("US"));
        assert_eq!(code("2T"), Some("CA"));
        assert_eq!(code("3V"), Some("MX"));
        assert_eq!(code("VF"), Some("FR"));
        assert_eq!(code("VS"), Some("ES"));
        assert_eq!(code("ZF"), Some("IT"));
        assert_eq!(code("YV"), Some("SE"));
        assert_eq!(code("SA"), Some("GB"));
        assert_eq!(code("TM"), Some("CZ"));
        assert_eq!(code("93"), Some("BR"));
        assert_eq!(code("MA"), Some("IN"));
        assert_eq!(code("7S"), Some("US"), "Tesla Austin");
        assert_eq!(code("7A"), Some("NZ"));
        assert_eq!(region_of(b'L', b'S'), Some("Asia"));
        assert_eq!(region_of(b'H', b'X'), Some("Asia"));
        assert_eq!(region_of(b'W', b'B'), Some("Europe"));
        assert_eq!(region_of(b'7', b'S'), Some("North America"));
        assert_eq!(region_of(b'7', b'A'), Some("Oceania"));
        assert!(north_american(b'7', b'S') && north_american(b'3', b'V'));
        assert!(!north_american(b'7', b'A') && !north_american(b'L', b'S'));
    }

    #[test]
    fn every_range_bound_is_a_valid_vin_character() {
        for (f, lo, hi, _) in RANGES {
            assert!(rank(*f).is_some() && rank(*lo).is_some() && rank(*hi).is_some());
            assert!(
                rank(*lo) <= rank(*hi),
                "{}{}-{}",
                *f as char,
                *lo as char,
                *hi as char
            );
        }
    }
}
