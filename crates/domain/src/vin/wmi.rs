//! WMI -> manufacturer, from three data files embedded at build time.
//!
//! - `data/wmi_vpic.tsv`: the NHTSA vPIC register (source "vpic");
//! - `data/wmi_world.tsv`: makers vPIC lacks (non-US markets), from a public WMI map
//!   (source "vininfo"); never overrides vPIC;
//! - `data/wmi_na_heavy.tsv`: North-American heavy-truck makers, whose type it sets to
//!   "Heavy Truck" (their VINs' position 7 says nothing about the year); it adds the
//!   ones the other tables lack (source "na-heavy");
//! - `data/wmi_china.tsv`: the China overlay (vPIC lacks most domestic `L*` makers and names
//!   Chinese plants by their importer), which wins on conflicts (source "china-overlay").
//!
//! Every file is `WMI<TAB>English name<TAB>Chinese name<TAB>vehicle type[<TAB>more...]`,
//! `#` comments; the headers say where the facts come from and when they were read.

use std::collections::HashMap;
use std::sync::LazyLock;

const VPIC: &str = include_str!("../../data/wmi_vpic.tsv");
const WORLD: &str = include_str!("../../data/wmi_world.tsv");
const CHINA: &str = include_str!("../../data/wmi_china.tsv");
const NA_HEAVY: &str = include_str!("../../data/wmi_na_heavy.tsv");

/// The type `wmi_na_heavy.tsv` gives: trucks over 10 000 lb GVWR.
pub const HEAVY_TRUCK: &str = "Heavy Truck";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManufacturerInfo {
    /// The WMI as matched: 3 characters, or 6 (positions 1-3 + 12-14) for makers of
    /// fewer than 1000 vehicles a year, whose third character is 9.
    pub wmi: String,
    pub name: String,
    pub name_zh: Option<String>,
    pub vehicle_type: Option<String>,
    /// "vpic", "vininfo", "na-heavy" or "china-overlay": which table named the maker.
    pub source: &'static str,
}

#[derive(Debug)]
struct Entry {
    name: &'static str,
    name_zh: Option<&'static str>,
    vehicle_type: Option<&'static str>,
    source: &'static str,
}

static TABLE: LazyLock<HashMap<&'static str, Entry>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    // Later files override earlier ones: the secondary world map first, so that vPIC wins
    // over it, and the China overlay last, so that it wins over both.
    for (text, source) in [(WORLD, "vininfo"), (VPIC, "vpic"), (CHINA, "china-overlay")] {
        // A 3-character "xx9" row (some lists name one small maker by it) would be
        // unreachable and wrong for the others: only 6-character keys identify them.
        for row in parse(text).filter(|r| !(r.0.len() == 3 && r.0.ends_with('9'))) {
            map.insert(
                row.0,
                Entry {
                    name: row.1,
                    name_zh: row.2,
                    vehicle_type: row.3,
                    source,
                },
            );
        }
    }
    for row in parse(NA_HEAVY) {
        let entry = map.entry(row.0).or_insert(Entry {
            name: row.1,
            name_zh: None,
            vehicle_type: None,
            source: "na-heavy",
        });
        entry.vehicle_type = Some(HEAVY_TRUCK);
        entry.name_zh = entry.name_zh.or(row.2);
    }
    map
});

type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// Rows of a table file; malformed rows are skipped here and caught by the tests.
fn parse(text: &'static str) -> impl Iterator<Item = Row> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let wmi = cols.next()?.trim();
            let name = cols.next()?.trim();
            let non_empty = |s: Option<&'static str>| s.map(str::trim).filter(|s| !s.is_empty());
            let zh = non_empty(cols.next());
            let vt = non_empty(cols.next());
            (valid_wmi(wmi) && !name.is_empty()).then_some((wmi, name, zh, vt))
        })
}

fn valid_wmi(w: &str) -> bool {
    (w.len() == 3 || w.len() == 6)
        && w.bytes().all(|b| {
            (b.is_ascii_uppercase() && !matches!(b, b'I' | b'O' | b'Q')) || b.is_ascii_digit()
        })
}

/// The manufacturer of a normalised 17-character VIN, if the tables know its WMI.
pub fn manufacturer_of(vin: &str) -> Option<ManufacturerInfo> {
    let wmi = vin.get(..3)?;
    let small_maker = vin.as_bytes().get(2) == Some(&b'9');
    let long = if small_maker {
        vin.get(11..14).map(|tail| format!("{wmi}{tail}"))
    } else {
        None
    };
    // A small maker is identified by all six characters: "VF9" alone is shared by every
    // small French maker, so it names none of them.
    let (key, entry) = match long.as_deref() {
        Some(k) => TABLE.get_key_value(k)?,
        None => TABLE.get_key_value(wmi)?,
    };
    Some(ManufacturerInfo {
        wmi: (*key).to_owned(),
        name: entry.name.to_owned(),
        name_zh: entry.name_zh.map(str::to_owned),
        vehicle_type: entry.vehicle_type.map(str::to_owned),
        source: entry.source,
    })
}

/// Rows per table, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStats {
    pub vpic: usize,
    pub world: usize,
    pub china: usize,
    pub na_heavy: usize,
    /// Distinct WMIs after merging.
    pub merged: usize,
}

pub fn table_stats() -> TableStats {
    TableStats {
        vpic: parse(VPIC).count(),
        world: parse(WORLD).count(),
        china: parse(CHINA).count(),
        na_heavy: parse(NA_HEAVY).count(),
        merged: TABLE.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check_file(text: &'static str, file: &str, max_cols: usize) -> usize {
        let mut seen = HashSet::new();
        let mut rows = 0;
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_end();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(
                cols.len() >= 2 && cols.len() <= max_cols,
                "{file}:{}: {l:?}",
                n + 1
            );
            assert!(
                valid_wmi(cols[0]),
                "{file}:{}: bad WMI {:?}",
                n + 1,
                cols[0]
            );
            assert!(!cols[1].trim().is_empty(), "{file}:{}: no name", n + 1);
            assert!(
                seen.insert(cols[0]),
                "{file}:{}: duplicate WMI {}",
                n + 1,
                cols[0]
            );
            rows += 1;
        }
        rows
    }

    #[test]
    fn tables_parse_without_duplicates() {
        let vpic = check_file(VPIC, "wmi_vpic.tsv", 6);
        let world = check_file(WORLD, "wmi_world.tsv", 4);
        let china = check_file(CHINA, "wmi_china.tsv", 5);
        let heavy = check_file(NA_HEAVY, "wmi_na_heavy.tsv", 5);
        let stats = table_stats();
        assert_eq!(
            (stats.vpic, stats.world, stats.china, stats.na_heavy),
            (vpic, world, china, heavy)
        );
        for line in NA_HEAVY
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.get(3), Some(&HEAVY_TRUCK), "{line:?}");
            assert!(
                cols.get(4).is_some_and(|s| !s.is_empty()),
                "no source: {line:?}"
            );
        }
        assert!(vpic >= 800, "vPIC rows: {vpic}");
        assert!(stats.merged >= 1200, "merged WMIs: {}", stats.merged);
        let l_rows = parse(CHINA).filter(|r| r.0.starts_with('L')).count();
        assert!(l_rows >= 150, "China overlay has {l_rows} L* WMIs");
        // The major makers all carry their Chinese names (some small motorcycle makers
        // could not be confirmed and are left without one rather than guessed).
        let named = parse(CHINA).filter(|r| r.2.is_some()).count();
        assert!(named >= 120, "{named} China rows with a Chinese name");
        // Every China row cites at least one source in its fifth column.
        for line in CHINA
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let src = line.split('\t').nth(4).unwrap_or("").trim();
            assert!(!src.is_empty(), "no source for {line:?}");
        }
    }

    #[test]
    fn lookups() {
        let m = manufacturer_of("LSVAG2180E2100010").expect("SAIC-VW");
        assert_eq!(m.source, "china-overlay");
        assert_eq!(m.name_zh.as_deref(), Some("上汽大众"));
        let m = manufacturer_of("WP0AA2978BL012976").expect("Porsche");
        assert!(m.name.contains("Porsche"), "{m:?}");
        assert_eq!(m.source, "vpic");
        let m = manufacturer_of("1HGCM82633A004352").expect("Honda");
        assert_eq!((m.name.as_str(), m.source), ("Honda", "vpic"));
        // Škoda is not in the US register: the world map knows it.
        let m = manufacturer_of("TMBJJ7NE8L0123456").expect("Skoda");
        assert_eq!(m.source, "vininfo");
        // vPIC calls the Shanghai GM plant "GM"; the overlay wins for L*.
        let m = manufacturer_of("LSGGF53W0BH123456").expect("SAIC-GM");
        assert_eq!(m.source, "china-overlay");
        assert_eq!(m.name_zh.as_deref(), Some("上汽通用"));
        let m = manufacturer_of("LRW3E7FA5MC123456").expect("Tesla Shanghai");
        assert!(m.name.contains("Tesla"), "{m:?}");
        // Geely's second WMI, the one most of its cars carry.
        // China's second range.
        let m = manufacturer_of("HXMAA1234RA123456").expect("Xiaomi");
        assert_eq!(m.name_zh.as_deref(), Some("小米汽车"));
        let m = manufacturer_of("LB37622Z9KX123456").expect("Geely");
        assert_eq!(m.name_zh.as_deref(), Some("吉利汽车"));
        assert!(manufacturer_of("ZZZAA2978BL012976").is_none());
        // Heavy-truck makers: vPIC's name kept, the type made precise; missing ones added.
        let m = manufacturer_of("1XKYD49X8HJ123456").expect("Kenworth");
        assert_eq!(
            (m.name.as_str(), m.vehicle_type.as_deref(), m.source),
            ("Kenworth", Some(HEAVY_TRUCK), "vpic")
        );
        let m = manufacturer_of("1HTMMAAN23H601246").expect("International");
        assert_eq!(
            (m.source, m.vehicle_type.as_deref()),
            ("na-heavy", Some(HEAVY_TRUCK))
        );
        for (vin, zh) in [
            ("LK6ADAE15ME534998", "上汽通用五菱"),
            ("LFZ63AL45MD004265", "零跑汽车"),
            ("LNNBDDEH2TG042271", "奇瑞汽车"),
        ] {
            assert_eq!(
                manufacturer_of(vin).and_then(|m| m.name_zh),
                Some(zh.to_owned()),
                "{vin}"
            );
        }
        // Li Auto's current WMI, and BYD's new-energy one (cars too, not only buses).
        assert_eq!(
            manufacturer_of("HLX13B176S1200049").and_then(|m| m.name_zh),
            Some("理想汽车".to_owned())
        );
        assert_eq!(
            manufacturer_of("LC0C76C41R4095092").and_then(|m| m.vehicle_type),
            None
        );
        // Small makers: only the 6-character key identifies them.
        assert!(
            manufacturer_of("VF9AB12C18M111123").is_none(),
            "not Bugatti"
        );
        assert!(manufacturer_of("1G9AA1234PA111123").is_none());
    }
}
