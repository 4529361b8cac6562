//! connapi's fixture data: the file format (`fixtures/connapi.json`, and
//! `connapi.extra_fixtures`), loading with clear errors, and the VIN normalisation the
//! lookups and the loader share.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SandboxError;

const EMBEDDED: &str = include_str!("../../../fixtures/connapi.json");

/// The fixture file format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(rename = "_notice", default)]
    _notice: Option<String>,
    #[serde(default)]
    vehicles: Vec<VehicleFixture>,
    #[serde(default)]
    special: Vec<SpecialVin>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VehicleFixture {
    vin: String,
    /// What this fixture exercises (documentation only).
    #[serde(default)]
    note: String,
    /// Exactly what the vendor puts under `data.result`.
    pub(super) result: Value,
}

/// A VIN for which the vendor always fails with `code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpecialVin {
    vin: String,
    #[serde(default)]
    note: String,
    pub(super) code: i64,
    #[serde(default)]
    pub(super) msg: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Entry {
    Vehicle(VehicleFixture),
    Special(SpecialVin),
}

/// One fixture as listed by `GET /_sandbox/info`.
#[derive(Debug, Serialize)]
pub(super) struct FixtureInfo {
    vin: String,
    note: String,
    code: i64,
}

/// Fixtures by normalised VIN.
#[derive(Debug)]
pub(super) struct Fixtures(HashMap<String, Entry>);

impl Fixtures {
    /// The embedded fixtures, then `extra` (a file or a directory of `*.json` files,
    /// in name order) overriding them VIN by VIN.
    pub(super) fn load(extra: Option<&Path>) -> Result<Self, SandboxError> {
        let mut map = HashMap::new();
        load_text(EMBEDDED, "embedded fixtures/connapi.json", &mut map)?;
        if let Some(extra) = extra {
            load_extra(extra, &mut map)?;
        }
        Ok(Self(map))
    }

    pub(super) fn get(&self, vin: &str) -> Option<&Entry> {
        self.0.get(vin)
    }

    pub(super) fn list(&self) -> Vec<FixtureInfo> {
        let mut list: Vec<FixtureInfo> = self
            .0
            .values()
            .map(|e| match e {
                Entry::Vehicle(v) => FixtureInfo {
                    vin: v.vin.clone(),
                    note: v.note.clone(),
                    code: 200,
                },
                Entry::Special(s) => FixtureInfo {
                    vin: s.vin.clone(),
                    note: s.note.clone(),
                    code: s.code,
                },
            })
            .collect();
        list.sort_by(|a, b| a.vin.cmp(&b.vin));
        list
    }
}

/// Trimmed and upper-cased like the vendor's lenient matching; `None` for input that
/// cannot be a VIN at all (the vendor's 403). Odd but plausible input is still looked up,
/// and simply is not found.
pub(super) fn normalize_vin(vin: &str) -> Option<String> {
    let v = vin.trim().to_ascii_uppercase();
    let plausible = !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then_some(v)
}

fn load_text(
    text: &str,
    origin: &str,
    into: &mut HashMap<String, Entry>,
) -> Result<(), SandboxError> {
    let fail = |detail: String| SandboxError::Fixture {
        origin: origin.to_owned(),
        detail,
    };
    let file: FixtureFile = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let mut seen = HashSet::new();
    let entries = file
        .vehicles
        .into_iter()
        .map(Entry::Vehicle)
        .chain(file.special.into_iter().map(Entry::Special));
    for entry in entries {
        let vin = match &entry {
            Entry::Vehicle(v) => {
                if !v.result.is_object() {
                    return Err(fail(format!("{}: result must be a JSON object", v.vin)));
                }
                &v.vin
            }
            Entry::Special(s) => &s.vin,
        };
        let norm = normalize_vin(vin).ok_or_else(|| fail(format!("unusable VIN {vin:?}")))?;
        if norm != *vin {
            return Err(fail(format!("VIN {vin:?} must be written as {norm:?}")));
        }
        if !seen.insert(norm.clone()) {
            return Err(fail(format!("VIN {vin} listed twice")));
        }
        into.insert(norm, entry);
    }
    Ok(())
}

fn load_extra(path: &Path, into: &mut HashMap<String, Entry>) -> Result<(), SandboxError> {
    let io_fail = |p: &Path, e: std::io::Error| SandboxError::Fixture {
        origin: p.display().to_string(),
        detail: e.to_string(),
    };
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| io_fail(path, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        // Sorted, so overrides between extra files are deterministic.
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| io_fail(&file, e))?;
        load_text(&text, &file.display().to_string(), into)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fixtures_load() {
        let f = Fixtures::load(None).expect("embedded fixtures are valid");
        assert!(f.0.len() >= 30, "{} fixtures", f.0.len());
        assert!(matches!(
            f.get("WP0AA2978BL012976"),
            Some(Entry::Vehicle(_))
        ));
    }

    #[test]
    fn vin_shape() {
        assert_eq!(normalize_vin(" lsv123 ").as_deref(), Some("LSV123"));
        assert_eq!(normalize_vin(""), None);
        assert_eq!(normalize_vin("WP0AA2978BL012976;DROP"), None);
        assert_eq!(normalize_vin(&"A".repeat(40)), None);
    }

    #[test]
    fn bad_fixture_files_are_refused_with_their_origin() {
        let mut m = HashMap::new();
        for (text, says) in [
            ("{", "EOF"),
            (
                r#"{"vehicles": [{"vin": "lsv1", "result": {}}]}"#,
                "must be written as \"LSV1\"",
            ),
            (
                r#"{"vehicles": [{"vin": "LSV1", "result": 1}]}"#,
                "JSON object",
            ),
            (
                r#"{"vehicles": [{"vin": "LSV1", "result": {}}], "special": [{"vin": "LSV1", "code": 500}]}"#,
                "listed twice",
            ),
        ] {
            let err = load_text(text, "t.json", &mut m)
                .expect_err(text)
                .to_string();
            assert!(err.contains("t.json") && err.contains(says), "{err}");
        }
    }
}
