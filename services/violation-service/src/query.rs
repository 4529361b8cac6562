//! QueryViolations' checks before anything is paid for: the plate parses, the 号牌种类 is
//! given or decided by the plate and its colour (and does not contradict the plate), and
//! the engine number and VIN satisfy the city's rule. Every failure is INVALID_ARGUMENT
//! with field violations a program can act on.

use domain::plate::{PlateReport, PlateType, plate_type};
use domain::violation::{CityRule, LookupError, RuleTable, check};
use kit::error::{ApiError, FieldViolation};

use crate::report::ViolationQuery;

/// A request that passed: what to send, and what the caller is told about it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub query: ViolationQuery,
    pub plate_type: PlateType,
    pub rule: CityRule,
    pub notes: Vec<String>,
}

/// Checks a request (`color` already converted; `None` when not given).
pub fn plan(
    table: &RuleTable,
    plate: &str,
    color: Option<domain::plate::PlateColor>,
    given_type: &str,
    engine_number: &str,
    vin: &str,
) -> Result<Planned, ApiError> {
    let report = domain::plate::parse(plate, color);
    if !report.valid {
        return Err(invalid_plate(&report));
    }
    let plate_type = choose_type(&report, given_type.trim())?;
    let lookup = match table.for_plate(&report.normalized, Some(plate_type.code)) {
        Ok(l) => l,
        Err(LookupError::NotCovered { plate, reason }) => {
            return Err(bad(
                "plate",
                &format!("{plate}: {reason}; no violation query is possible"),
                "PLATE_NOT_COVERED",
                "PLATE_NOT_COVERED",
            ));
        }
        Err(e) => {
            return Err(bad(
                "plate",
                &e.to_string(),
                "PLATE_FORMAT",
                "INVALID_PLATE",
            ));
        }
    };
    let checked = check(&lookup.rule, engine_number, vin).map_err(|violations| {
        ApiError::InvalidArgument {
            violations: violations
                .iter()
                .map(|v| FieldViolation {
                    field: v.field.name().to_owned(),
                    description: v.description.clone(),
                    reason: "CITY_RULE_NOT_MET".to_owned(),
                })
                .collect(),
            reason: "CITY_RULE_NOT_MET",
            metadata: vec![
                ("prefix".to_owned(), lookup.rule.prefix.clone()),
                ("plate_type".to_owned(), plate_type.code.to_owned()),
                (
                    "engine_number_required".to_owned(),
                    lookup.rule.engine_number.spec(),
                ),
                ("vin_required".to_owned(), lookup.rule.vin.spec()),
            ],
        }
    })?;
    let mut notes = Vec::new();
    notes.extend(lookup.reason.clone());
    notes.extend(checked.notes);
    Ok(Planned {
        query: ViolationQuery {
            plate: lookup.plate.clone(),
            plate_type: plate_type.code.to_owned(),
            engine_number: checked.engine_number.unwrap_or_default(),
            vin: checked.vin.unwrap_or_default(),
        },
        plate_type,
        rule: lookup.rule.into_owned(),
        notes,
    })
}

/// The 号牌种类 to send: the one given, when the plate allows it; else the one the plate
/// (and colour) decide.
fn choose_type(report: &PlateReport, given: &str) -> Result<PlateType, ApiError> {
    let possible: Vec<PlateType> = report
        .plate_type
        .into_iter()
        .chain(report.candidates.iter().copied())
        .collect();
    let list = |types: &[PlateType]| {
        types
            .iter()
            .map(|t| format!("{} {}", t.code, t.name_zh))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    if !given.is_empty() {
        let Some(t) = plate_type(given) else {
            return Err(bad(
                "plate_type",
                &format!(
                    "{given:?} is not a 号牌种类 code (GA 24.7: 01 large, 02 small, 51/52 new-energy ...)"
                ),
                "PLATE_TYPE_UNKNOWN",
                "INVALID_PLATE_TYPE",
            ));
        };
        if possible.is_empty() || possible.iter().any(|p| p.code == t.code) {
            return Ok(t);
        }
        return Err(bad(
            "plate_type",
            &format!(
                "{} ({}) contradicts the plate {}, which is {}",
                t.code,
                t.name_zh,
                report.normalized,
                list(&possible)
            ),
            "PLATE_TYPE_CONTRADICTS_PLATE",
            "INVALID_PLATE_TYPE",
        ));
    }
    if let Some(t) = report.plate_type {
        return Ok(t);
    }
    Err(bad(
        "color",
        &format!(
            "the plate {} may be {}: give its colour (blue: 02, yellow: 01 for an ordinary \
             plate) or plate_type",
            report.normalized,
            list(&possible)
        ),
        "PLATE_TYPE_UNDECIDED",
        "PLATE_TYPE_UNDECIDED",
    ))
}

fn bad(field: &str, description: &str, violation: &str, reason: &'static str) -> ApiError {
    ApiError::InvalidArgument {
        violations: vec![FieldViolation {
            field: field.to_owned(),
            description: description.to_owned(),
            reason: violation.to_owned(),
        }],
        reason,
        metadata: Vec::new(),
    }
}

/// A plate that cannot exist: no vendor is paid for it.
fn invalid_plate(report: &PlateReport) -> ApiError {
    let mut violations: Vec<FieldViolation> = report
        .problems
        .iter()
        .map(|p| FieldViolation {
            field: if p.about_color { "color" } else { "plate" }.to_owned(),
            description: if p.position == 0 {
                p.message.clone()
            } else {
                format!(
                    "position {}: {} (expected {})",
                    p.position, p.message, p.expected
                )
            },
            reason: if !report.supported {
                "PLATE_UNSUPPORTED"
            } else if p.about_color {
                "PLATE_COLOR_MISMATCH"
            } else {
                "PLATE_FORMAT"
            }
            .to_owned(),
        })
        .collect();
    if violations.is_empty() {
        violations.push(FieldViolation {
            field: "plate".to_owned(),
            description: "is not a plate in any format in use".to_owned(),
            reason: "PLATE_FORMAT".to_owned(),
        });
    }
    ApiError::InvalidArgument {
        violations,
        reason: if report.supported {
            "INVALID_PLATE"
        } else {
            "UNSUPPORTED_PLATE"
        },
        metadata: vec![("normalized_plate".to_owned(), report.normalized.clone())],
    }
}

#[cfg(test)]
mod tests {
    use domain::plate::PlateColor;

    use super::*;

    fn table() -> &'static RuleTable {
        domain::violation::embedded().expect("embedded table")
    }

    fn violations(e: ApiError) -> Vec<FieldViolation> {
        match e {
            ApiError::InvalidArgument { violations, .. } => violations,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_seed_example_passes_as_the_vendor_wants_it() {
        let p = plan(
            table(),
            "粤aj44e6",
            Some(PlateColor::Blue),
            "",
            "ad50eg081600062",
            "lnbscc3h8gf308384",
        )
        .expect("passes");
        assert_eq!(p.query.plate, "粤AJ44E6");
        assert_eq!(p.query.plate_type, "02");
        assert_eq!(p.plate_type.name_zh, "小型汽车号牌");
        assert!(
            p.query.engine_number.is_empty()
                || p.query
                    .engine_number
                    .chars()
                    .all(|c| !c.is_ascii_lowercase()),
            "{:?}",
            p.query
        );
        assert!(
            p.query.vin.is_empty() || p.query.vin.ends_with("308384"),
            "{:?}",
            p.query
        );
    }

    #[test]
    fn an_ordinary_plate_needs_its_colour_or_type() {
        let v = violations(
            plan(
                table(),
                "粤B12345",
                None,
                "",
                "AD50EG081600062",
                "LNBSCC3H8GF308384",
            )
            .expect_err("undecided"),
        );
        assert_eq!(v[0].field, "color");
        assert!(v[0].description.contains("01"), "{}", v[0].description);
        assert!(v[0].description.contains("02"), "{}", v[0].description);
        let yellow = plan(
            table(),
            "粤B12345",
            Some(PlateColor::Yellow),
            "",
            "AD50EG081600062",
            "LNBSCC3H8GF308384",
        )
        .expect("yellow decides");
        assert_eq!(yellow.query.plate_type, "01");
        let given = plan(
            table(),
            "粤B12345",
            None,
            "02",
            "AD50EG081600062",
            "LNBSCC3H8GF308384",
        )
        .expect("given");
        assert_eq!(given.query.plate_type, "02");
    }

    #[test]
    fn a_type_that_contradicts_the_plate_names_both() {
        let v = violations(
            plan(
                table(),
                "粤B12345",
                None,
                "52",
                "AD50EG081600062",
                "LNBSCC3H8GF308384",
            )
            .expect_err("contradiction"),
        );
        assert_eq!(
            (v[0].field.as_str(), v[0].reason.as_str()),
            ("plate_type", "PLATE_TYPE_CONTRADICTS_PLATE")
        );
        assert!(v[0].description.contains("52"), "{}", v[0].description);
        assert!(
            v[0].description.contains("粤B12345"),
            "{}",
            v[0].description
        );
        let v =
            violations(plan(table(), "粤B12345", None, "00", "", "").expect_err("unknown code"));
        assert_eq!(v[0].reason, "PLATE_TYPE_UNKNOWN");
    }

    #[test]
    fn a_missing_number_names_the_field_and_the_city() {
        let v = violations(
            plan(table(), "粤B12345", Some(PlateColor::Blue), "", "", "").expect_err("nothing"),
        );
        assert!(!v.is_empty());
        for f in &v {
            assert!(
                ["engine_number", "vin"].contains(&f.field.as_str()),
                "{f:?}"
            );
            assert!(f.description.contains("粤B"), "{f:?}");
            assert_eq!(f.reason, "CITY_RULE_NOT_MET");
        }
    }

    #[test]
    fn impossible_and_uncovered_plates_are_refused() {
        let v = violations(plan(table(), "粤B1234", None, "", "", "").expect_err("short"));
        assert_eq!(v[0].field, "plate");
        let v = violations(plan(table(), "WJ01警1234", None, "", "", "").expect_err("wj"));
        assert_eq!(v[0].field, "plate");
    }
}
