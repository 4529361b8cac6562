//! Which rule applies to a plate, including the plates that name no city by their letter.

use std::borrow::Cow;
use std::fmt;

use super::rules::{CityRule, RuleTable};
use crate::plate::{PlateCategory, parse, plate_type};

/// Embassy plates (使) are issued by the Beijing traffic police, whose register a
/// violation query for them searches.
const EMBASSY_PREFIX: &str = "京A";

/// The rule that applies to a plate, and why when it is not simply the plate's authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'t> {
    pub rule: Cow<'t, CityRule>,
    /// The plate as normalised by the plate rules ("粤B12345").
    pub plate: String,
    /// The 号牌种类 the rule was chosen for: the one given, else the one the plate decides.
    pub plate_type: Option<&'static str>,
    /// Set when the rule is not the plate's own authority's: embassy plates, emergency
    /// plates, an authority without a row.
    pub reason: Option<String>,
}

/// Why no rule can be given for a plate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The plate does not parse; the plate rules' messages say where.
    InvalidPlate {
        plate: String,
        problems: Vec<String>,
    },
    /// Not a 号牌种类 code.
    UnknownPlateType(String),
    /// A plate whose vehicles are not in the public-security traffic register that
    /// violation queries search (armed-police WJ, military).
    NotCovered { plate: String, reason: String },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPlate { plate, problems } => {
                write!(f, "{plate:?} is not a valid plate: {}", problems.join("; "))
            }
            Self::UnknownPlateType(code) => write!(f, "{code:?} is not a 号牌种类 code"),
            Self::NotCovered { plate, reason } => write!(f, "{plate}: {reason}"),
        }
    }
}

impl std::error::Error for LookupError {}

impl RuleTable {
    /// The rule for a plate as typed (normalised by the plate rules) and, when the caller
    /// knows it, its 号牌种类 (`plate_type`, GA 24.7 code). The plate's authority decides,
    /// with these exceptions:
    /// - 使 embassy plates: 京A's rule, as Beijing issues them;
    /// - 港/澳 plates: 粤Z's rule, their issuing letter;
    /// - 应急 emergency plates carry a rescue team's code, not an issuing letter: the
    ///   default (both numbers in full) for their province;
    /// - WJ armed-police and military plates: [`LookupError::NotCovered`], their vehicles
    ///   are not in the register violation queries search.
    ///
    /// 学, 警, 挂, 领, 试, 超 and new-energy plates are issued by their province + letter
    /// like any other and take that authority's rule (for their 号牌种类, where a rule is
    /// per type).
    pub fn for_plate(
        &self,
        plate: &str,
        plate_type_code: Option<&str>,
    ) -> Result<Lookup<'_>, LookupError> {
        let given_type = match plate_type_code.map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(
                plate_type(code)
                    .ok_or_else(|| LookupError::UnknownPlateType(code.to_owned()))?
                    .code,
            ),
            None => None,
        };
        let report = parse(plate, None);
        let normalized = report.normalized.clone();
        if matches!(
            report.category,
            Some(PlateCategory::ArmedPolice | PlateCategory::Military)
        ) {
            return Err(LookupError::NotCovered {
                plate: normalized,
                reason: format!(
                    "{} plates are not in the public-security traffic register that violation queries search",
                    report.category.map_or("these", PlateCategory::label)
                ),
            });
        }
        if !report.valid {
            return Err(LookupError::InvalidPlate {
                plate: normalized,
                problems: report.problems.iter().map(|p| p.message.clone()).collect(),
            });
        }
        let plate_type = given_type.or(report.plate_type.map(|t| t.code));
        let found = |prefix: &str, reason: Option<String>| -> Lookup<'_> {
            let (rule, reason) = match self.for_prefix(prefix, plate_type) {
                Some(rule) => (Cow::Borrowed(rule), reason),
                None => (
                    Cow::Owned(default_for_prefix(prefix)),
                    Some(format!(
                        "the table has no rule for {prefix}: the default applies"
                    )),
                ),
            };
            Lookup {
                rule,
                plate: normalized.clone(),
                plate_type,
                reason,
            }
        };
        match (report.category, report.authority, report.province) {
            (Some(PlateCategory::Embassy), _, _) => Ok(found(
                EMBASSY_PREFIX,
                Some(format!(
                    "embassy (使) plates are issued by the Beijing traffic police: {EMBASSY_PREFIX}'s rule applies"
                )),
            )),
            (Some(PlateCategory::Emergency), _, Some(province)) => Ok(Lookup {
                rule: Cow::Owned(CityRule::default_for(
                    &province.abbreviation.to_string(),
                    province.name_zh,
                    province.division_code,
                )),
                plate: normalized.clone(),
                plate_type,
                reason: Some(
                    "emergency-rescue (应急) plates carry a rescue team's code, not an issuing letter: the default applies"
                        .to_owned(),
                ),
            }),
            (_, Some(authority), _) => Ok(found(
                &format!("{}{}", authority.province.abbreviation, authority.letter),
                None,
            )),
            // A valid plate always has an authority or is one of the cases above; kept
            // total rather than trusted.
            _ => Err(LookupError::InvalidPlate {
                plate: normalized.clone(),
                problems: vec!["the plate names no issuing authority".to_owned()],
            }),
        }
    }
}

/// The default rule for a prefix without a row, named as the plate table names it.
fn default_for_prefix(prefix: &str) -> CityRule {
    let mut chars = prefix.chars();
    let authority = match (chars.next(), chars.next()) {
        (Some(p), Some(l)) => crate::plate::authority_of(p, l),
        _ => None,
    };
    match authority {
        Some(a) => CityRule::default_for(prefix, a.city, a.division_code),
        None => CityRule::default_for(prefix, "", ""),
    }
}

#[cfg(test)]
mod tests;
