//! The rule book and matching as a whole: composition, `times`, determinism, and
//! properties over generated rules and requests.

use std::time::Duration;

use proptest::prelude::*;

use super::book::FaultBook;
use super::matching::{Compare, Matcher, ParamFact, RequestFacts, matches};
use super::{FaultAction, FaultRule, Latency, parse_fault_header};

const KEY: Matcher = Matcher {
    name: "key",
    compare: Compare::Exact,
};
const VIN: Matcher = Matcher {
    name: "vin",
    compare: Compare::Loose,
};

const PLATE: Matcher = Matcher {
    name: "plate",
    compare: Compare::Loose,
};

fn connapi_facts(key: Option<&str>, vin: Option<&str>) -> Vec<ParamFact> {
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

#[test]
fn rules_compose_and_respect_times() {
    let rules = vec![
        FaultRule {
            latency: Some(Latency::Fixed { ms: 5 }),
            ..FaultRule::default()
        },
        FaultRule {
            vin: Some("lsv".into()),
            times: Some(1),
            action: Some(FaultAction::Reset {}),
            ..FaultRule::default()
        },
        FaultRule {
            action: Some(FaultAction::VendorCode {
                code: 501,
                msg: None,
            }),
            ..FaultRule::default()
        },
    ];
    let mut book = FaultBook::new(rules, 1).expect("valid");
    let params = connapi_facts(None, Some(" LSV "));
    let ctx = RequestFacts {
        vendor: "connapi",
        endpoint: "/api/vin/get",
        params: &params,
    };
    let first = book.plan(&ctx, None);
    assert_eq!(first.delay, Duration::from_millis(5));
    assert_eq!(first.action, Some(FaultAction::Reset {}));
    let second = book.plan(&ctx, None);
    assert_eq!(
        second.action,
        Some(FaultAction::VendorCode {
            code: 501,
            msg: None
        })
    );
    assert_eq!(book.fired(), [2, 1, 1]);
}

#[test]
fn the_header_rule_replaces_the_book_for_its_request() {
    let mut book = FaultBook::new(
        vec![FaultRule {
            action: Some(FaultAction::Reset {}),
            ..FaultRule::default()
        }],
        1,
    )
    .expect("valid");
    let ctx = RequestFacts {
        vendor: "platecb",
        endpoint: "/platecb/api/query",
        params: &[],
    };
    let header = parse_fault_header("delay=3").expect("parses");
    let plan = book.plan(&ctx, Some(&header));
    assert_eq!(
        (plan.delay, plan.action, plan.fired),
        (
            Duration::from_millis(3),
            None,
            vec!["x-sandbox-fault".to_owned()]
        )
    );
    assert_eq!(book.fired(), [0], "the header counts towards no rule");
}

#[test]
fn an_invalid_rule_is_named_by_position() {
    let err = FaultBook::new(
        vec![
            FaultRule::default(),
            FaultRule {
                probability: 2.0,
                ..FaultRule::default()
            },
        ],
        1,
    )
    .expect_err("invalid");
    assert!(err.starts_with("fault rule #1: probability"), "{err}");
}

fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("[ a-zA-Z0-9]{0,6}").expect("regex")
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

prop_compose! {
    fn any_rule()(
        vendor in prop::option::of(prop::sample::select(vec!["connapi", "platecb", "xiaoshibao", "apistore"])),
        path_prefix in prop::option::of(prop::sample::select(vec!["/", "/api", "/api/vin/get", "/v1", "/pyi"])),
        key in opt_text(),
        vin in opt_text(),
        plate in opt_text(),
        probability in 0.0..=1.0f64,
        times in prop::option::of(0u64..4),
        latency in prop::option::of((0u64..50).prop_map(|ms| Latency::Fixed { ms })),
        code in prop::option::of(400i64..700),
    ) -> FaultRule {
        FaultRule {
            name: None,
            vendor: vendor.map(str::to_owned),
            path_prefix: path_prefix.map(str::to_owned),
            key,
            vin,
            plate,
            image_md5: None,
            probability,
            times,
            latency,
            action: code.map(|code| FaultAction::VendorCode { code, msg: None }),
        }
    }
}

prop_compose! {
    fn any_request()(
        vendor in prop::sample::select(vec!["connapi", "platecb", "xiaoshibao", "apistore"]),
        endpoint in prop::sample::select(vec!["/api/vin/get", "/v1/vehicle/query", "/platecb/api/query", "/pyi/65/173"]),
        key in opt_text(),
        vin in opt_text(),
        plate in opt_text(),
    ) -> (&'static str, &'static str, Vec<ParamFact>) {
        let params = match vendor {
            "connapi" => connapi_facts(key.as_deref(), vin.as_deref()),
            "platecb" | "apistore" => vec![ParamFact { matcher: PLATE, value: plate }],
            _ => Vec::new(),
        };
        (vendor, endpoint, params)
    }
}

proptest! {
    /// Removing a matcher never turns a match into a miss.
    #[test]
    fn fewer_matchers_never_match_less(rule in any_rule(), (vendor, endpoint, params) in any_request()) {
        let req = RequestFacts { vendor, endpoint, params: &params };
        if matches(&rule, &req) {
            for looser in [
                FaultRule { vendor: None, ..rule.clone() },
                FaultRule { path_prefix: None, ..rule.clone() },
                FaultRule { key: None, ..rule.clone() },
                FaultRule { vin: None, ..rule.clone() },
                FaultRule { plate: None, ..rule.clone() },
            ] {
                prop_assert!(matches(&looser, &req));
            }
        }
    }

    /// A loose (VIN) comparison ignores ASCII case and surrounding spaces; an exact (key)
    /// comparison ignores nothing.
    #[test]
    fn compare_modes(s in "[ a-zA-Z0-9]{0,8}") {
        let shouted = format!("  {} ", s.to_ascii_uppercase());
        prop_assert!(Compare::Loose.same(&s, &shouted));
        prop_assert!(Compare::Loose.same(&shouted, &s));
        prop_assert!(Compare::Exact.same(&s, &s));
        prop_assert_eq!(Compare::Exact.same(&s, &shouted), s == shouted);
    }

    /// A rule fires at most `times` times, never with probability 0, on every matching
    /// request with probability 1, and the same seed gives the same plans.
    #[test]
    fn the_book_keeps_its_promises(
        rules in prop::collection::vec(any_rule(), 0..5),
        requests in prop::collection::vec(any_request(), 1..20),
        seed in any::<u64>(),
    ) {
        let mut book = FaultBook::new(rules.clone(), seed).expect("generated rules are valid");
        let mut twin = FaultBook::new(rules.clone(), seed).expect("valid");
        for (vendor, endpoint, params) in &requests {
            let req = RequestFacts { vendor, endpoint, params };
            let before = book.fired().to_vec();
            let plan = book.plan(&req, None);
            prop_assert_eq!(&plan, &twin.plan(&req, None));
            for (i, rule) in rules.iter().enumerate() {
                let fired_now = book.fired()[i] > before[i];
                if rule.probability == 0.0 || !matches(rule, &req) {
                    prop_assert!(!fired_now);
                }
                let a_free_action_slot = rule.latency.is_some() || rule.action.is_none();
                if rule.probability >= 1.0
                    && matches(rule, &req)
                    && rule.times.is_none_or(|t| before[i] < t)
                    && a_free_action_slot
                {
                    prop_assert!(fired_now);
                }
            }
        }
        for (i, rule) in rules.iter().enumerate() {
            prop_assert!(rule.times.is_none_or(|t| book.fired()[i] <= t));
        }
    }

    /// The header parser answers every input with a rule or a reason, never a panic, and
    /// whatever it accepts is a valid rule.
    #[test]
    fn header_parsing_never_panics(text in "\\PC{0,40}") {
        if let Ok(rule) = parse_fault_header(&text) {
            prop_assert!(rule.validate().is_ok());
        }
    }

    /// Directive text round-trips into the rule it describes.
    #[test]
    fn header_directives_round_trip(
        ms in 0u64..10_000,
        code in -5i64..100_000,
        p in prop::sample::select(vec![0.0, 0.25, 0.5, 1.0]),
    ) {
        let rule = parse_fault_header(&format!("delay={ms}; code={code}; p={p}")).expect("valid");
        prop_assert_eq!(rule.latency, Some(Latency::Fixed { ms }));
        prop_assert_eq!(rule.action, Some(FaultAction::VendorCode { code, msg: None }));
        prop_assert!((rule.probability - p).abs() < f64::EPSILON);
    }
}
