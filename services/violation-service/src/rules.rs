//! GetCityRules, and the city rules as the contract types them.

use contracts::axle::violation::v1 as pb;
use domain::violation::{
    Basis, CityRule, Combine, LookupError, PlateTypes, Requirement, RuleTable,
};
use kit::error::{ApiError, FieldViolation};

/// A rule as the contract says it, with the sources it cites.
pub fn to_proto(rule: &CityRule, table: &RuleTable) -> pb::CityRule {
    pb::CityRule {
        prefix: rule.prefix.clone(),
        city: rule.city.clone(),
        division_code: rule.division_code.clone(),
        plate_types: match &rule.plate_types {
            PlateTypes::All => Vec::new(),
            PlateTypes::Only(codes) => codes.clone(),
        },
        engine_number: Some(requirement(rule.engine_number)),
        vin: Some(requirement(rule.vin)),
        either: rule.combine == Combine::Either,
        basis: match rule.basis {
            Basis::Sourced => pb::RuleBasis::Sourced,
            Basis::Default => pb::RuleBasis::Default,
            Basis::Override => pb::RuleBasis::Override,
        } as i32,
        sources: rule
            .sources
            .iter()
            .filter_map(|id| table.source(id))
            .map(|s| pb::RuleSource {
                id: s.id.clone(),
                name: s.name.clone(),
                date: s.date.clone(),
                location: s.location.clone(),
            })
            .collect(),
        note: rule.note.clone().unwrap_or_default(),
    }
}

fn requirement(r: Requirement) -> pb::NumberRequirement {
    match r {
        Requirement::NotRequired => pb::NumberRequirement {
            kind: pb::RequirementKind::NotRequired as i32,
            last_chars: 0,
        },
        Requirement::LastChars(n) => pb::NumberRequirement {
            kind: pb::RequirementKind::LastChars as i32,
            last_chars: i32::from(n),
        },
        Requirement::Full => pb::NumberRequirement {
            kind: pb::RequirementKind::Full as i32,
            last_chars: 0,
        },
    }
}

/// Answers GetCityRules from `table`.
pub fn get(
    table: &RuleTable,
    req: &pb::GetCityRulesRequest,
) -> Result<pb::GetCityRulesResponse, ApiError> {
    let plate_type = Some(req.plate_type.trim()).filter(|t| !t.is_empty());
    if let Some(t) = plate_type
        && domain::plate::plate_type(t).is_none()
    {
        return Err(ApiError::invalid_argument(
            "plate_type",
            &format!(
                "{t:?} is not a 号牌种类 code (GA 24.7: 01 large, 02 small, 52 small new-energy ...)"
            ),
        ));
    }
    let mut resp = pb::GetCityRulesResponse {
        table_version: table.version().to_owned(),
        supported: true,
        ..pb::GetCityRulesResponse::default()
    };
    let every_type = |prefix: &str| -> Vec<pb::CityRule> {
        table
            .rules()
            .iter()
            .filter(|r| r.prefix == prefix)
            .map(|r| to_proto(r, table))
            .collect()
    };
    match &req.city {
        Some(pb::get_city_rules_request::City::Plate(plate)) => {
            let plate = plate.trim();
            // A prefix alone ("粤B") names the authority: its rules as listed.
            let normalized = domain::plate::normalize(plate).plate;
            if normalized.chars().count() == 2 {
                let prefix = normalized;
                let rules: Vec<pb::CityRule> = match plate_type {
                    Some(t) => table
                        .for_prefix(&prefix, Some(t))
                        .map(|r| to_proto(r, table))
                        .into_iter()
                        .collect(),
                    None => every_type(&prefix),
                };
                if rules.is_empty() {
                    let known = prefix.chars().next().and_then(|p| {
                        prefix
                            .chars()
                            .nth(1)
                            .and_then(|l| domain::plate::authority_of(p, l))
                    });
                    let Some(a) = known else {
                        return Err(ApiError::invalid_argument(
                            "plate",
                            &format!(
                                "{prefix:?} is not a province and issuing-authority letter, e.g. 粤B"
                            ),
                        ));
                    };
                    resp.rules = vec![to_proto(
                        &CityRule::default_for(&prefix, a.city, a.division_code),
                        table,
                    )];
                } else {
                    resp.rules = rules;
                }
                return Ok(resp);
            }
            match table.for_plate(plate, plate_type) {
                Ok(found) => {
                    resp.rules = vec![to_proto(&found.rule, table)];
                }
                Err(LookupError::NotCovered { reason, .. }) => {
                    resp.supported = false;
                    resp.unsupported_reason = reason;
                }
                Err(e) => {
                    return Err(ApiError::InvalidArgument {
                        violations: vec![FieldViolation {
                            field: "plate".to_owned(),
                            description: e.to_string(),
                            reason: "PLATE_FORMAT".to_owned(),
                        }],
                        reason: "INVALID_PLATE",
                        metadata: Vec::new(),
                    });
                }
            }
        }
        Some(pb::get_city_rules_request::City::DivisionCode(code)) => {
            let code = code.trim();
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid_argument(
                    "division_code",
                    &format!("{code:?} is not a GB/T 2260 code: six digits, e.g. 440300"),
                ));
            }
            resp.rules = table
                .for_division_code(code, plate_type)
                .into_iter()
                .map(|r| to_proto(r, table))
                .collect();
            if resp.rules.is_empty() {
                return Err(ApiError::NotFound {
                    resource: format!("division_code {code}"),
                    message: format!(
                        "no issuing authority with division code {code} is in the table (version {}); \
                         ask by plate prefix, e.g. 粤B",
                        table.version()
                    ),
                });
            }
        }
        None => {
            return Err(ApiError::invalid_argument(
                "city",
                "give a plate (or its prefix, e.g. 粤B) or a division_code",
            ));
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use pb::get_city_rules_request::City;

    use super::*;

    fn table() -> &'static RuleTable {
        domain::violation::embedded().expect("embedded")
    }

    fn ask(city: City, plate_type: &str) -> Result<pb::GetCityRulesResponse, ApiError> {
        get(
            table(),
            &pb::GetCityRulesRequest {
                city: Some(city),
                plate_type: plate_type.to_owned(),
            },
        )
    }

    #[test]
    fn a_plate_or_its_prefix_gives_the_rule_with_its_sources() {
        let by_plate = ask(City::Plate("粤B12345".into()), "02").expect("ok");
        assert_eq!(by_plate.rules.len(), 1);
        let rule = &by_plate.rules[0];
        assert_eq!(
            (rule.prefix.as_str(), rule.city.as_str()),
            ("粤B", "深圳市")
        );
        assert_eq!(rule.basis, pb::RuleBasis::Sourced as i32);
        assert!(!rule.sources.is_empty());
        assert_eq!(by_plate.table_version, table().version());
        let by_prefix = ask(City::Plate("粤B".into()), "").expect("ok");
        assert!(by_prefix.rules.iter().any(|r| r.prefix == "粤B"));
        let by_code = ask(City::DivisionCode("440300".into()), "").expect("ok");
        assert!(by_code.rules.iter().any(|r| r.prefix == "粤B"));
    }

    #[test]
    fn military_plates_are_unsupported_and_nonsense_is_refused() {
        let r = ask(City::Plate("WJ01警1234".into()), "").expect("an answer");
        assert!(!r.supported);
        assert!(r.rules.is_empty());
        assert!(ask(City::Plate("粤".into()), "").is_err());
        assert!(ask(City::DivisionCode("44".into()), "").is_err());
        assert!(matches!(
            ask(City::DivisionCode("999999".into()), ""),
            Err(ApiError::NotFound { .. })
        ));
        assert!(ask(City::Plate("粤B12345".into()), "77").is_err());
        assert!(get(table(), &pb::GetCityRulesRequest::default()).is_err());
    }

    #[test]
    fn requirements_are_typed() {
        assert_eq!(requirement(Requirement::LastChars(6)).last_chars, 6);
        assert_eq!(
            requirement(Requirement::Full).kind,
            pb::RequirementKind::Full as i32
        );
        assert_eq!(
            requirement(Requirement::NotRequired).kind,
            pb::RequirementKind::NotRequired as i32
        );
    }
}
