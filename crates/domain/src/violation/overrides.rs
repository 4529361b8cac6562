//! A deployment's corrections and additions to the table, from its configuration, merged
//! over the embedded table at start-up: no rebuild when a city changes what it asks for.

use std::fmt;

use super::requirement::{Field, Requirement};
use super::rules::{Basis, CityRule, Combine, PlateTypes, RuleTable};
use crate::plate::province_of;

/// One configured rule. Field values use the table's spellings, so a configuration file
/// and the table read alike.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverrideRow {
    /// "粤B" for one authority, or "粤" for every authority of the province.
    pub prefix: String,
    /// "" or "*" for every 号牌种类, else GA 24.7 codes separated by commas ("01").
    pub plate_types: String,
    /// "-" (not asked), a number of trailing characters, or "full".
    pub engine_number: String,
    pub vin: String,
    /// One of the two numbers is enough (both must then be asked for).
    pub either: bool,
    /// Why, for whoever reads the rule later (GetCityRules shows it).
    pub note: Option<String>,
}

/// A configured row that cannot be applied; every bad row is reported, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError {
    /// 1-based position of the row among those given (the line, for [`parse_overrides`]).
    pub row: usize,
    pub prefix: String,
    pub message: String,
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "violation city rule override {} ({}): {}",
            self.row, self.prefix, self.message
        )
    }
}

impl std::error::Error for OverrideError {}

/// Reads override rows from text in the table's row layout, without the columns only
/// compiled rows have: prefix, plate types, engine number, VIN, `both` or `either`, and an
/// optional note, separated by tabs; `#` starts a comment line.
pub fn parse_overrides(text: &str) -> Result<Vec<OverrideRow>, Vec<OverrideError>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        let error = |message: String| OverrideError {
            row: i + 1,
            prefix: cols[0].to_owned(),
            message,
        };
        if !(5..=6).contains(&cols.len()) {
            errors.push(error(format!(
                "an override has 5 or 6 tab-separated columns (prefix, plate types, engine number, VIN, both|either, note), this line {}",
                cols.len()
            )));
            continue;
        }
        let either = match cols[4] {
            "both" => false,
            "either" => true,
            other => {
                errors.push(error(format!("{other:?}: write both or either")));
                continue;
            }
        };
        rows.push(OverrideRow {
            prefix: cols[0].to_owned(),
            plate_types: cols[1].to_owned(),
            engine_number: cols[2].to_owned(),
            vin: cols[3].to_owned(),
            either,
            note: cols
                .get(5)
                .filter(|n| !n.is_empty() && **n != "-")
                .map(|n| (*n).to_owned()),
        });
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// An override row, checked, for every authority it names.
struct Checked {
    row: usize,
    targets: Vec<String>,
    plate_types: PlateTypes,
    engine_number: Requirement,
    vin: Requirement,
    combine: Combine,
    note: String,
}

impl RuleTable {
    /// This table with `rows` merged over it. An override replaces the rows of its
    /// authority whose plate types overlap its own (a row for every type replaces the row
    /// for every type; a row for "01" adds a large-vehicle rule beside it, or replaces an
    /// earlier one for 01). Overrides may not contradict one another. The version stays
    /// the table's; the rows say they are overrides.
    pub fn with_overrides(&self, rows: &[OverrideRow]) -> Result<Self, Vec<OverrideError>> {
        let mut errors = Vec::new();
        let mut checked: Vec<Checked> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            match self.check_override(i + 1, row) {
                Ok(c) => {
                    if let Some(earlier) = checked.iter().find(|e| {
                        e.plate_types_overlap(&c.plate_types)
                            && e.targets.iter().any(|t| c.targets.contains(t))
                    }) {
                        errors.push(OverrideError {
                            row: i + 1,
                            prefix: row.prefix.clone(),
                            message: format!(
                                "overlaps override {} for the same authority and plate types",
                                earlier.row
                            ),
                        });
                    } else {
                        checked.push(c);
                    }
                }
                Err(message) => errors.push(OverrideError {
                    row: i + 1,
                    prefix: row.prefix.clone(),
                    message,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut rules = self.rules.clone();
        let mut applied = 0;
        for c in &checked {
            for target in &c.targets {
                // City and code come from the authority's own row (targets are prefixes
                // the table has rows for, so one is always there).
                let Some(base) = self
                    .for_prefix(target, None)
                    .or_else(|| self.by_prefix.get(target)?.first().map(|&i| &self.rules[i]))
                    .cloned()
                else {
                    continue;
                };
                rules.retain(|r| !(&r.prefix == target && overlap(&r.plate_types, &c.plate_types)));
                rules.push(CityRule {
                    plate_types: c.plate_types.clone(),
                    engine_number: c.engine_number,
                    vin: c.vin,
                    combine: c.combine,
                    basis: Basis::Override,
                    sources: Vec::new(),
                    note: Some(c.note.clone()),
                    ..base
                });
                applied += 1;
            }
        }
        Self::build(
            self.version.clone(),
            self.sources.clone(),
            rules,
            self.overrides + applied,
        )
        .map_err(|message| {
            vec![OverrideError {
                row: 0,
                prefix: String::new(),
                message,
            }]
        })
    }

    fn check_override(&self, row: usize, o: &OverrideRow) -> Result<Checked, String> {
        let prefix = o.prefix.trim();
        let mut chars = prefix.chars();
        let province = chars.next().ok_or_else(|| {
            "no prefix: write a province and letter such as 粤B, or a province such as 粤"
                .to_owned()
        })?;
        if province_of(province).is_none() {
            return Err(format!("{province} is not a province abbreviation"));
        }
        let targets: Vec<String> = if chars.next().is_some() {
            if self.by_prefix.contains_key(prefix) {
                vec![prefix.to_owned()]
            } else {
                return Err(format!(
                    "{prefix} is not an issuing authority the plate rules know: no plate would reach this rule"
                ));
            }
        } else {
            let mut all: Vec<String> = self
                .by_prefix
                .keys()
                .filter(|p| p.starts_with(province))
                .cloned()
                .collect();
            all.sort();
            all
        };
        let plate_types = PlateTypes::parse(&o.plate_types)?;
        let engine_number =
            Requirement::parse(&o.engine_number, Field::EngineNumber).map_err(|e| e.to_string())?;
        let vin = Requirement::parse(&o.vin, Field::Vin).map_err(|e| e.to_string())?;
        let combine = if o.either {
            if !(engine_number.is_required() && vin.is_required()) {
                return Err(
                    "either needs both numbers to be asked for, one of them is not".to_owned(),
                );
            }
            Combine::Either
        } else {
            Combine::Both
        };
        Ok(Checked {
            row,
            targets,
            plate_types,
            engine_number,
            vin,
            combine,
            note: o
                .note
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "set by configuration".to_owned()),
        })
    }
}

impl Checked {
    fn plate_types_overlap(&self, other: &PlateTypes) -> bool {
        overlap(&self.plate_types, other)
    }
}

fn overlap(a: &PlateTypes, b: &PlateTypes) -> bool {
    match (a, b) {
        (PlateTypes::All, PlateTypes::All) => true,
        (PlateTypes::Only(x), PlateTypes::Only(y)) => x.iter().any(|c| y.contains(c)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
