//! Whether a rule applies to a request, and whether it could apply to any vendor at
//! all: pure functions over what the HTTP layer and the vendor read from the request.
//!
//! A rule's generic matchers (`vendor`, `path_prefix`) are decided here. Its parameter
//! matchers (`key`, `vin`) are decided with the vendor's help: each vendor declares the
//! parameters rules may match on and how it compares them ([`Matcher`]), and reads their
//! values from a request ([`ParamFact`]). A vendor without such a parameter never
//! matches a rule that names it.

use super::rule::FaultRule;

/// How a vendor compares a rule's value for one of its parameters with the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// Byte for byte (identifiers such as API keys).
    Exact,
    /// Trimmed and ASCII case-insensitive (VINs, which vendors match leniently).
    Loose,
}

impl Compare {
    pub(crate) fn same(self, want: &str, got: &str) -> bool {
        match self {
            Self::Exact => want == got,
            Self::Loose => want.trim().eq_ignore_ascii_case(got.trim()),
        }
    }
}

/// A request parameter a vendor lets rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub(crate) name: &'static str,
    pub(crate) compare: Compare,
}

/// One such parameter's value in a request; `None` when the request lacks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamFact {
    pub(crate) matcher: Matcher,
    pub(crate) value: Option<String>,
}

/// What a rule can see of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts<'a> {
    pub(crate) vendor: &'a str,
    /// The path as documented (a vendor's alias prefix removed).
    pub(crate) endpoint: &'a str,
    pub(crate) params: &'a [ParamFact],
}

/// Whether every matcher the rule sets holds for the request.
pub(crate) fn matches(rule: &FaultRule, req: &RequestFacts<'_>) -> bool {
    rule.vendor
        .as_deref()
        .is_none_or(|v| Compare::Loose.same(v, req.vendor))
        && rule
            .path_prefix
            .as_deref()
            .is_none_or(|p| req.endpoint.starts_with(p))
        && rule.param_matchers().all(|(name, want)| {
            req.params
                .iter()
                .find(|f| f.matcher.name == name)
                .and_then(|f| {
                    f.value
                        .as_deref()
                        .map(|got| f.matcher.compare.same(want, got))
                })
                .unwrap_or(false)
        })
}

/// Refuses a rule that could never match: a vendor name no vendor has (a typo would
/// otherwise silently inject nothing), or a parameter matcher that neither the named
/// vendor nor, without a name, any vendor has. `vendors` lists each vendor's name and
/// its parameter matchers.
pub(crate) fn check_reachable(
    rule: &FaultRule,
    vendors: &[(&str, &[Matcher])],
) -> Result<(), String> {
    let names = || {
        vendors
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let candidates: Vec<&(&str, &[Matcher])> = match rule.vendor.as_deref() {
        None => vendors.iter().collect(),
        Some(want) => {
            let found: Vec<_> = vendors
                .iter()
                .filter(|(n, _)| Compare::Loose.same(want, n))
                .collect();
            if found.is_empty() {
                return Err(format!("no vendor `{want}` (vendors: {})", names()));
            }
            found
        }
    };
    for (param, _) in rule.param_matchers() {
        if candidates
            .iter()
            .any(|(_, ms)| ms.iter().any(|m| m.name == param))
        {
            continue;
        }
        let with_param: Vec<&str> = vendors
            .iter()
            .filter(|(_, ms)| ms.iter().any(|m| m.name == param))
            .map(|(n, _)| *n)
            .collect();
        let owners = if with_param.is_empty() {
            "none".to_owned()
        } else {
            with_param.join(", ")
        };
        return Err(match rule.vendor.as_deref() {
            Some(v) => format!(
                "vendor `{}` has no `{param}` parameter to match on (vendors that have one: {owners})",
                v.trim()
            ),
            None => format!("no vendor has a `{param}` parameter to match on"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Matcher = Matcher {
        name: "key",
        compare: Compare::Exact,
    };
    const VIN: Matcher = Matcher {
        name: "vin",
        compare: Compare::Loose,
    };

    fn facts(key: Option<&str>, vin: Option<&str>) -> Vec<ParamFact> {
        vec![
            ParamFact {
                matcher: KEY,
                value: key.map(str::to_owned),
            },
            ParamFact {
                matcher: VIN,
                value: vin.map(str::to_owned),
            },
        ]
    }

    fn req<'a>(vendor: &'a str, endpoint: &'a str, params: &'a [ParamFact]) -> RequestFacts<'a> {
        RequestFacts {
            vendor,
            endpoint,
            params,
        }
    }

    #[test]
    fn an_empty_rule_matches_everything() {
        let rule = FaultRule::default();
        assert!(matches(&rule, &req("connapi", "/api/vin/get", &[])));
        assert!(matches(&rule, &req("x", "/", &facts(None, None))));
    }

    #[test]
    fn vendor_and_path_prefix() {
        let rule = FaultRule {
            vendor: Some(" ConnAPI ".into()),
            path_prefix: Some("/api/vin".into()),
            ..FaultRule::default()
        };
        assert!(matches(&rule, &req("connapi", "/api/vin/get", &[])));
        assert!(!matches(&rule, &req("platecb", "/api/vin/get", &[])));
        assert!(!matches(&rule, &req("connapi", "/v1/vehicle/query", &[])));
    }

    #[test]
    fn parameters_compare_the_vendors_way() {
        let rule = FaultRule {
            key: Some("K".into()),
            vin: Some("lsv".into()),
            ..FaultRule::default()
        };
        let hit = facts(Some("K"), Some(" LSV "));
        assert!(matches(&rule, &req("connapi", "/", &hit)));
        // key is exact: case and spaces matter.
        assert!(!matches(
            &rule,
            &req("connapi", "/", &facts(Some("k"), Some("LSV")))
        ));
        assert!(!matches(
            &rule,
            &req("connapi", "/", &facts(Some(" K"), Some("LSV")))
        ));
        // A parameter the request lacks, or a vendor without the parameter: no match.
        assert!(!matches(
            &rule,
            &req("connapi", "/", &facts(Some("K"), None))
        ));
        assert!(!matches(&rule, &req("xiaoshibao", "/", &[])));
    }

    #[test]
    fn reachability_names_the_fix() {
        let vendors: &[(&str, &[Matcher])] = &[("connapi", &[KEY, VIN]), ("platecb", &[])];
        let rule = |vendor: Option<&str>, vin: Option<&str>| FaultRule {
            vendor: vendor.map(str::to_owned),
            vin: vin.map(str::to_owned),
            ..FaultRule::default()
        };
        assert!(check_reachable(&rule(None, None), vendors).is_ok());
        assert!(check_reachable(&rule(Some("CONNAPI"), Some("x")), vendors).is_ok());
        assert!(check_reachable(&rule(None, Some("x")), vendors).is_ok());
        let err = check_reachable(&rule(Some("conapi"), None), vendors).expect_err("typo");
        assert_eq!(err, "no vendor `conapi` (vendors: connapi, platecb)");
        let err = check_reachable(&rule(Some("platecb"), Some("x")), vendors).expect_err("no vin");
        assert_eq!(
            err,
            "vendor `platecb` has no `vin` parameter to match on (vendors that have one: connapi)"
        );
        let err = check_reachable(&rule(None, Some("x")), &vendors[1..]).expect_err("nobody");
        assert_eq!(err, "no vendor has a `vin` parameter to match on");
    }
}
