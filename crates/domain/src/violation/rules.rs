//! The per-city rule table: one row per issuing authority (province + letter), parsed once
//! from the embedded `violation_city_rules.tsv`, with its version and sources.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use super::requirement::{Field, Requirement};
use crate::plate::{authority_of, plate_type, province_of};

const DATA: &str = include_str!("../../data/violation_city_rules.tsv");

/// A public source the table was compiled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What rows cite, e.g. "juhe2019".
    pub id: String,
    pub name: String,
    /// The date or version of what the source says, e.g. "2019-04-03".
    pub date: String,
    /// Where it was read.
    pub location: String,
}

/// Why a rule says what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Compiled from the sources the rule cites.
    Sourced,
    /// No source covers the authority: the conservative default (both numbers in full).
    Default,
    /// Set by the deployment's configuration over the table.
    Override,
}

impl Basis {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sourced => "sourced",
            Self::Default => "default",
            Self::Override => "override",
        }
    }
}

/// When both numbers are asked for: must a query carry both, or does either one do?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Both,
    Either,
}

/// The 号牌种类 a rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlateTypes {
    All,
    /// GA 24.7 codes, e.g. `01` for large vehicles.
    Only(Vec<String>),
}

impl PlateTypes {
    pub fn covers(&self, code: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(codes) => codes.iter().any(|c| c == code),
        }
    }

    /// Parses `*` or comma-separated GA 24.7 codes; an unknown code is named.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec == "*" || spec.is_empty() {
            return Ok(Self::All);
        }
        let mut codes = Vec::new();
        for code in spec.split(',').map(str::trim) {
            if plate_type(code).is_none() {
                return Err(format!(
                    "{code:?} is not a 号牌种类 code (GA 24.7: 01 large, 02 small, 52 small new-energy ...)"
                ));
            }
            if !codes.iter().any(|c| c == code) {
                codes.push(code.to_owned());
            }
        }
        Ok(Self::Only(codes))
    }

    pub fn spec(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Only(codes) => codes.join(","),
        }
    }

    fn overlaps(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::All, Self::All) => true,
            (Self::Only(a), Self::Only(b)) => a.iter().any(|c| b.contains(c)),
            _ => false,
        }
    }
}

/// What a violation query for one authority's plates needs besides the plate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityRule {
    /// Province + letter ("粤B"), or the province alone for a rule that no letter decides
    /// (emergency-rescue plates).
    pub prefix: String,
    /// The issuing authority's city, Chinese ("深圳市").
    pub city: String,
    /// Its GB/T 2260 code ("440300").
    pub division_code: String,
    pub plate_types: PlateTypes,
    pub engine_number: Requirement,
    pub vin: Requirement,
    pub combine: Combine,
    pub basis: Basis,
    /// Ids of the [`Source`]s the rule was compiled from (empty for the default and for
    /// overrides).
    pub sources: Vec<String>,
    /// How the sources were merged, where they disagreed, or why an override was made.
    pub note: Option<String>,
}

impl CityRule {
    /// The conservative default for an authority no source covers: both numbers in full,
    /// because a whole number carries every tail any city asks for, so a query built from
    /// it is never rejected for a missing number, whatever the city really needs.
    pub fn default_for(prefix: &str, city: &str, division_code: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            city: city.to_owned(),
            division_code: division_code.to_owned(),
            plate_types: PlateTypes::All,
            engine_number: Requirement::Full,
            vin: Requirement::Full,
            combine: Combine::Both,
            basis: Basis::Default,
            sources: Vec::new(),
            note: Some(
                "no source covers this authority: the default asks for both numbers in full"
                    .to_owned(),
            ),
        }
    }

    /// How messages name the rule's authority: "粤B (深圳市)".
    pub fn label(&self) -> String {
        format!("{} ({})", self.prefix, self.city)
    }

    pub fn requirement(&self, field: Field) -> Requirement {
        match field {
            Field::EngineNumber => self.engine_number,
            Field::Vin => self.vin,
        }
    }
}

/// A malformed table (the embedded one, or one a deployment supplies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// 1-based line number; 0 for the table as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "violation city rules: {}", self.message)
        } else {
            write!(
                f,
                "violation city rules, line {}: {}",
                self.line, self.message
            )
        }
    }
}

impl std::error::Error for TableError {}

/// The rule table: its version, its sources and one or more rules per authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTable {
    pub(super) version: String,
    pub(super) sources: Vec<Source>,
    pub(super) rules: Vec<CityRule>,
    /// prefix -> indices into `rules`.
    pub(super) by_prefix: HashMap<String, Vec<usize>>,
    pub(super) overrides: usize,
}

static EMBEDDED: LazyLock<Result<RuleTable, TableError>> = LazyLock::new(|| RuleTable::parse(DATA));

/// The table compiled into the binary, parsed on first use. An error here is a build
/// defect (the tests parse the same text), returned rather than panicking so that a
/// service reports it at start-up.
pub fn embedded() -> Result<&'static RuleTable, &'static TableError> {
    EMBEDDED.as_ref()
}

fn err(line: usize, message: impl Into<String>) -> TableError {
    TableError {
        line,
        message: message.into(),
    }
}

impl RuleTable {
    /// Parses a table in the embedded file's format (see its header).
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut version = None;
        let mut sources: Vec<Source> = Vec::new();
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            match cols[0] {
                "@version" => {
                    let [_, v] = cols[..] else {
                        return Err(err(n, "@version takes one value"));
                    };
                    if version.replace(v.to_owned()).is_some() {
                        return Err(err(n, "a second @version"));
                    }
                }
                "@source" => {
                    let [_, id, name, date, location] = cols[..] else {
                        return Err(err(n, "@source takes id, name, date, location"));
                    };
                    if sources.iter().any(|s| s.id == id) {
                        return Err(err(n, format!("source {id} declared twice")));
                    }
                    sources.push(Source {
                        id: id.to_owned(),
                        name: name.to_owned(),
                        date: date.to_owned(),
                        location: location.to_owned(),
                    });
                }
                _ => rules.push(parse_row(n, &cols, &sources)?),
            }
        }
        let version = version.ok_or_else(|| err(0, "no @version line"))?;
        Self::build(version, sources, rules, 0).map_err(|m| err(0, m))
    }

    pub(super) fn build(
        version: String,
        sources: Vec<Source>,
        rules: Vec<CityRule>,
        overrides: usize,
    ) -> Result<Self, String> {
        let mut by_prefix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let slot = by_prefix.entry(rule.prefix.clone()).or_default();
            if let Some(&j) = slot
                .iter()
                .find(|&&j| rules[j].plate_types.overlaps(&rule.plate_types))
            {
                return Err(format!(
                    "{} has two rules for plate types {} and {}",
                    rule.prefix,
                    rules[j].plate_types.spec(),
                    rule.plate_types.spec()
                ));
            }
            slot.push(i);
        }
        Ok(Self {
            version,
            sources,
            rules,
            by_prefix,
            overrides,
        })
    }

    /// The table's version: the date it was compiled.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    pub fn rules(&self) -> &[CityRule] {
        &self.rules
    }

    /// How many rows configuration replaced or added.
    pub fn override_count(&self) -> usize {
        self.overrides
    }

    /// The rule for plates of `prefix` ("粤B") and, when known, 号牌种类 `plate_type`: a rule
    /// for that type first, else the rule for every type. `None` when the table has no row
    /// for the prefix.
    pub fn for_prefix(&self, prefix: &str, plate_type: Option<&str>) -> Option<&CityRule> {
        let rows = self.by_prefix.get(prefix)?;
        let rule = |i: &usize| &self.rules[*i];
        plate_type
            .and_then(|t| {
                rows.iter()
                    .map(rule)
                    .find(|r| r.plate_types != PlateTypes::All && r.plate_types.covers(t))
            })
            .or_else(|| {
                rows.iter()
                    .map(rule)
                    .find(|r| r.plate_types == PlateTypes::All)
            })
    }

    /// Every rule for authorities with GB/T 2260 code `code` (a municipality's letters
    /// share one code), for 号牌种类 `plate_type` as in [`RuleTable::for_prefix`].
    pub fn for_division_code(&self, code: &str, plate_type: Option<&str>) -> Vec<&CityRule> {
        let mut prefixes: Vec<&str> = Vec::new();
        for r in self.rules.iter().filter(|r| r.division_code == code) {
            if !prefixes.contains(&r.prefix.as_str()) {
                prefixes.push(&r.prefix);
            }
        }
        prefixes
            .into_iter()
            .filter_map(|p| self.for_prefix(p, plate_type))
            .collect()
    }
}

fn parse_row(n: usize, cols: &[&str], sources: &[Source]) -> Result<CityRule, TableError> {
    let [
        prefix,
        city,
        code,
        types,
        engine,
        vin,
        combine,
        basis,
        cited,
        note,
    ] = cols[..]
    else {
        return Err(err(
            n,
            format!("a rule has 10 columns, this line {}", cols.len()),
        ));
    };
    let mut chars = prefix.chars();
    let (Some(province), Some(letter), None) = (chars.next(), chars.next(), chars.next()) else {
        return Err(err(n, format!("{prefix:?} is not a province + letter")));
    };
    if province_of(province).is_none() {
        return Err(err(n, format!("{province} is not a province abbreviation")));
    }
    // The row must name an authority the plate parser knows, with the same city and
    // code, so a lookup by plate and a lookup by code reach the same row.
    let Some(authority) = authority_of(province, letter) else {
        return Err(err(n, format!("{prefix} is not an issuing authority")));
    };
    if authority.city != city || authority.division_code != code {
        return Err(err(
            n,
            format!(
                "{prefix} is {} ({}) in the plate table, not {city} ({code})",
                authority.city, authority.division_code
            ),
        ));
    }
    let plate_types = PlateTypes::parse(types).map_err(|m| err(n, m))?;
    let engine_number =
        Requirement::parse(engine, Field::EngineNumber).map_err(|e| err(n, e.to_string()))?;
    let vin = Requirement::parse(vin, Field::Vin).map_err(|e| err(n, e.to_string()))?;
    let combine = match combine {
        "both" => Combine::Both,
        "either" if engine_number.is_required() && vin.is_required() => Combine::Either,
        "either" => {
            return Err(err(
                n,
                "either needs both numbers to be asked for, one of them is not",
            ));
        }
        other => return Err(err(n, format!("{other:?}: write both or either"))),
    };
    let basis = match basis {
        "sourced" => Basis::Sourced,
        "default" => Basis::Default,
        other => return Err(err(n, format!("{other:?}: write sourced or default"))),
    };
    let cited: Vec<String> = if cited == "-" {
        Vec::new()
    } else {
        cited.split(',').map(str::to_owned).collect()
    };
    if let Some(unknown) = cited
        .iter()
        .find(|id| !sources.iter().any(|s| &s.id == *id))
    {
        return Err(err(
            n,
            format!("source {unknown} is not declared by @source"),
        ));
    }
    match (basis, cited.is_empty()) {
        (Basis::Sourced, true) => return Err(err(n, "a sourced rule cites no source")),
        (Basis::Default, false) => return Err(err(n, "a default rule cites sources")),
        _ => {}
    }
    Ok(CityRule {
        prefix: prefix.to_owned(),
        city: city.to_owned(),
        division_code: code.to_owned(),
        plate_types,
        engine_number,
        vin,
        combine,
        basis,
        sources: cited,
        note: (note != "-" && !note.is_empty()).then(|| note.to_owned()),
    })
}

#[cfg(test)]
mod tests;
