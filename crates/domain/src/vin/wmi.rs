//! WMI -> manufacturer, from two data files embedded at build time.
//!
//! `data/wmi_global.tsv` holds the world's makers; `data/wmi_china.tsv` is the China
//! overlay (the NHTSA register lacks most domestic `L*` makers) and wins on conflicts.
//! Both are `WMI<TAB>English name<TAB>Chinese name<TAB>vehicle type`, `#` comments; their
//! headers say where the facts come from and when they were read.

use std::collections::HashMap;
use std::sync::LazyLock;

const GLOBAL: &str = include_str!("../../data/wmi_global.tsv");
const CHINA: &str = include_str!("../../data/wmi_china.tsv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManufacturerInfo {
    /// The WMI as matched: 3 characters, or 6 (positions 1-3 + 12-14) for makers of
    /// fewer than 1000 vehicles a year, whose third character is 9.
    pub wmi: String,
    pub name: String,
    pub name_zh: Option<String>,
    pub vehicle_type: Option<String>,
    /// "global" or "china-overlay": which table said so.
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
    // Later files override earlier ones: the China overlay is loaded last.
    for (text, source) in [(GLOBAL, "global"), (CHINA, "china-overlay")] {
        for row in parse(text) {
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
    let (key, entry) = long
        .as_deref()
        .and_then(|k| TABLE.get_key_value(k))
        .or_else(|| TABLE.get_key_value(wmi))?;
    Some(ManufacturerInfo {
        wmi: (*key).to_owned(),
        name: entry.name.to_owned(),
        name_zh: entry.name_zh.map(str::to_owned),
        vehicle_type: entry.vehicle_type.map(str::to_owned),
        source: entry.source,
    })
}

/// (rows in the global table, rows in the China overlay): for tests and diagnostics.
pub fn table_stats() -> (usize, usize) {
    (parse(GLOBAL).count(), parse(CHINA).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn check_file(text: &'static str, file: &str) -> usize {
        let mut seen = HashSet::new();
        let mut rows = 0;
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_end();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(
                cols.len() >= 2 && cols.len() <= 4,
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
        let global = check_file(GLOBAL, "wmi_global.tsv");
        let china = check_file(CHINA, "wmi_china.tsv");
        assert_eq!(table_stats(), (global, china));
        let l_rows = parse(CHINA).filter(|r| r.0.starts_with('L')).count();
        assert!(l_rows >= 150, "China overlay has {l_rows} L* WMIs");
        assert!(
            parse(CHINA).all(|r| r.2.is_some()),
            "every China row has a Chinese name"
        );
    }

    #[test]
    fn lookups() {
        let m = manufacturer_of("LSVAG2180E2100010").expect("SAIC-VW");
        assert_eq!(m.source, "china-overlay");
        assert_eq!(m.name_zh.as_deref(), Some("上汽大众"));
        let m = manufacturer_of("WP0AA2978BL012976").expect("Porsche");
        assert!(m.name.contains("Porsche"), "{m:?}");
        assert!(manufacturer_of("1HGCM82633A004352").is_some());
        assert!(manufacturer_of("ZZZAA2978BL012976").is_none());
    }
}
