//! Provinces (the first character of a plate) and issuing authorities (province + letter).

use std::collections::HashMap;
use std::sync::LazyLock;

/// A province-level division and its plate abbreviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    /// The character on the plate, e.g. '粤'.
    pub abbreviation: char,
    /// Full Chinese name, e.g. "广东省".
    pub name_zh: &'static str,
    /// English name / pinyin, e.g. "Guangdong".
    pub name: &'static str,
    /// GB/T 2260 code, e.g. "440000".
    pub division_code: &'static str,
}

const fn p(
    abbreviation: char,
    name_zh: &'static str,
    name: &'static str,
    division_code: &'static str,
) -> Province {
    Province {
        abbreviation,
        name_zh,
        name,
        division_code,
    }
}

/// The 31 province-level divisions of the mainland (GB/T 2260); Hong Kong, Macao and
/// Taiwan issue their own plates.
const PROVINCES: [Province; 31] = [
    p('京', "北京市", "Beijing", "110000"),
    p('津', "天津市", "Tianjin", "120000"),
    p('冀', "河北省", "Hebei", "130000"),
    p('晋', "山西省", "Shanxi", "140000"),
    p('蒙', "内蒙古自治区", "Inner Mongolia", "150000"),
    p('辽', "辽宁省", "Liaoning", "210000"),
    p('吉', "吉林省", "Jilin", "220000"),
    p('黑', "黑龙江省", "Heilongjiang", "230000"),
    p('沪', "上海市", "Shanghai", "310000"),
    p('苏', "江苏省", "Jiangsu", "320000"),
    p('浙', "浙江省", "Zhejiang", "330000"),
    p('皖', "安徽省", "Anhui", "340000"),
    p('闽', "福建省", "Fujian", "350000"),
    p('赣', "江西省", "Jiangxi", "360000"),
    p('鲁', "山东省", "Shandong", "370000"),
    p('豫', "河南省", "Henan", "410000"),
    p('鄂', "湖北省", "Hubei", "420000"),
    p('湘', "湖南省", "Hunan", "430000"),
    p('粤', "广东省", "Guangdong", "440000"),
    p('桂', "广西壮族自治区", "Guangxi", "450000"),
    p('琼', "海南省", "Hainan", "460000"),
    p('渝', "重庆市", "Chongqing", "500000"),
    p('川', "四川省", "Sichuan", "510000"),
    p('贵', "贵州省", "Guizhou", "520000"),
    p('云', "云南省", "Yunnan", "530000"),
    p('藏', "西藏自治区", "Tibet", "540000"),
    p('陕', "陕西省", "Shaanxi", "610000"),
    p('甘', "甘肃省", "Gansu", "620000"),
    p('青', "青海省", "Qinghai", "630000"),
    p('宁', "宁夏回族自治区", "Ningxia", "640000"),
    p('新', "新疆维吾尔自治区", "Xinjiang", "650000"),
];

/// All provinces, in GB/T 2260 order.
pub fn provinces() -> &'static [Province] {
    &PROVINCES
}

/// The province whose plate abbreviation is `c`.
pub fn province_of(c: char) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.abbreviation == c)
}

/// Who issued plates with a given province + letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub province: &'static Province,
    pub letter: char,
    /// City / prefecture (or the special authority), Chinese.
    pub city: &'static str,
    /// Pinyin / English name.
    pub city_pinyin: &'static str,
    /// GB/T 2260 code of the city (province-level code for municipalities and
    /// province-wide authorities).
    pub division_code: &'static str,
    /// Remarks, e.g. "police and government agencies".
    pub note: Option<&'static str>,
}

const DATA: &str = include_str!("../../data/plate_authorities.tsv");

static AUTHORITIES: LazyLock<HashMap<(char, char), Authority>> = LazyLock::new(|| {
    rows(DATA)
        .filter_map(|r| {
            let province = province_of(r.province)?;
            Some((
                (r.province, r.letter),
                Authority {
                    province,
                    letter: r.letter,
                    city: r.city,
                    city_pinyin: r.pinyin,
                    division_code: r.code,
                    note: r.note,
                },
            ))
        })
        .collect()
});

struct Row {
    province: char,
    letter: char,
    city: &'static str,
    pinyin: &'static str,
    code: &'static str,
    note: Option<&'static str>,
}

fn rows(text: &'static str) -> impl Iterator<Item = Row> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let prefix = cols.next()?;
            let mut pc = prefix.chars();
            let (province, letter) = (pc.next()?, pc.next()?);
            if pc.next().is_some() {
                return None;
            }
            Some(Row {
                province,
                letter,
                city: cols.next()?,
                pinyin: cols.next()?,
                code: cols.next()?,
                note: cols.next().filter(|n| !n.is_empty()),
            })
        })
}

/// The issuing authority of `province` + `letter`, if that letter is assigned.
pub fn authority_of(province: char, letter: char) -> Option<&'static Authority> {
    AUTHORITIES.get(&(province, letter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_is_well_formed_and_covers_every_province() {
        let mut seen = HashSet::new();
        let mut count = 0;
        for (n, line) in DATA.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert!((4..=5).contains(&cols.len()), "line {}: {line:?}", n + 1);
            let mut pc = cols[0].chars();
            let (prov, letter) = (pc.next().expect("province"), pc.next().expect("letter"));
            assert!(
                province_of(prov).is_some(),
                "line {}: unknown province {prov}",
                n + 1
            );
            assert!(
                letter.is_ascii_uppercase() && letter != 'I',
                "line {}: letter {letter}",
                n + 1
            );
            assert!(pc.next().is_none(), "line {}", n + 1);
            assert!(
                cols[3].len() == 6 && cols[3].bytes().all(|b| b.is_ascii_digit()),
                "line {}: code",
                n + 1
            );
            // A city's code belongs to its province.
            let pcode = province_of(prov).expect("province").division_code;
            assert_eq!(
                &cols[3][..2],
                &pcode[..2],
                "line {}: {} not in {}",
                n + 1,
                cols[3],
                pcode
            );
            assert!(
                seen.insert((prov, letter)),
                "line {}: duplicate {}",
                n + 1,
                cols[0]
            );
            count += 1;
        }
        assert_eq!(AUTHORITIES.len(), count);
        for p in provinces() {
            assert!(
                authority_of(p.abbreviation, 'A').is_some(),
                "{} has no A",
                p.name_zh
            );
        }
        assert!(count > 400, "{count}");
    }

    #[test]
    fn known_authorities() {
        let a = authority_of('粤', 'B').expect("Shenzhen");
        assert_eq!((a.city, a.division_code), ("深圳市", "440300"));
        let a = authority_of('川', 'A').expect("Chengdu");
        assert_eq!(a.city_pinyin, "Chengdu");
        assert_eq!(
            authority_of('京', 'A').map(|a| a.division_code),
            Some("110000")
        );
        assert!(authority_of('粤', 'I').is_none());
    }
}
