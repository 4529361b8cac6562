//! Property tests of the fact builder: deterministic, independent of the order in which
//! sources answered, never inventing a value, alternatives exactly the disagreeing values.

use contracts::axle::common::v1::Provenance;
use facts::{Admission, Facts, Stated, agreement};
use merge::MergePolicy;
use proptest::prelude::*;

const SOURCES: [&str; 4] = ["a", "b", "c", "d"];
const WORDS: [&str; 8] = ["大众", "一汽大众", "奥迪", "A4", "A4L", "-", "BMW", "bmw "];

fn stated() -> impl Strategy<Value = Vec<Stated<String>>> {
    proptest::collection::vec((0..SOURCES.len(), 0..WORDS.len(), 0.0f32..=1.0), 0..6).prop_map(
        |v| {
            // One statement per source, as a service gives.
            let mut seen = std::collections::HashSet::new();
            v.into_iter()
                .filter(|(s, _, _)| seen.insert(*s))
                .map(|(s, w, c)| {
                    Stated::new(
                        WORDS[w].to_owned(),
                        Provenance {
                            source: SOURCES[s].to_owned(),
                            ..Provenance::default()
                        },
                        c,
                    )
                })
                .collect()
        },
    )
}

proptest! {
    #[test]
    fn text_facts_are_deterministic_order_independent_and_invent_nothing(
        input in stated(),
        rotate in 0usize..6,
    ) {
        let policy = MergePolicy::new(&["b", "a", "d", "c"]);
        let first = Facts::new(&policy).text("f", input.clone());
        let mut shuffled = input.clone();
        if !shuffled.is_empty() {
            let k = rotate % shuffled.len();
            shuffled.rotate_left(k);
            shuffled.reverse();
        }
        let second = Facts::new(&policy).text("f", shuffled);
        prop_assert_eq!(&first, &second);
        if let Some(f) = first {
            prop_assert!(input.iter().any(|s| s.value == f.value), "invented {:?}", f.value);
            prop_assert!((0.0..=1.0).contains(&f.confidence));
            prop_assert!(!agreement::is_placeholder(&f.value));
            for a in &f.alternatives {
                prop_assert!(!agreement::same_text(&a.value, &f.value));
                prop_assert!(input.iter().any(|s| s.value == a.value));
            }
        } else {
            prop_assert!(input.iter().all(|s| agreement::is_placeholder(&s.value)));
        }
    }

    #[test]
    fn agreement_is_symmetric(a in "[a-zA-Z0-9大众奥迪 -]{0,8}", b in "[a-zA-Z0-9大众奥迪 -]{0,8}") {
        prop_assert_eq!(agreement::same_text(&a, &b), agreement::same_text(&b, &a));
        prop_assert_eq!(agreement::same_date(&a, &b), agreement::same_date(&b, &a));
    }
}

proptest! {
    #[test]
    fn inadmissible_values_never_win_over_admissible_ones_nor_confirm_them(
        input in stated(),
        flags in proptest::collection::vec(0u8..3, 6),
    ) {
        let policy = MergePolicy::new(&["b", "a", "d", "c"]);
        let admission = |s: &Stated<String>| {
            let i = SOURCES.iter().position(|x| *x == s.source()).unwrap_or(0);
            match flags[i] {
                0 => Admission::Admissible,
                1 => Admission::Demoted("OTHER_VEHICLE"),
                _ => Admission::Rejected("VIN_INVALID"),
            }
        };
        let mut facts = Facts::new(&policy);
        let Some(f) = facts.text_with("f", input.clone(), admission) else {
            prop_assert!(input.iter().all(|s| agreement::is_placeholder(&s.value)));
            return Ok(());
        };
        let any_admissible = input
            .iter()
            .any(|s| !agreement::is_placeholder(&s.value) && admission(s) == Admission::Admissible);
        let chosen_source = f.provenance.as_ref().map(|p| p.source.clone()).unwrap_or_default();
        let chosen = input.iter().find(|s| s.source() == chosen_source).expect("chosen is stated");
        if any_admissible {
            prop_assert_eq!(admission(chosen), Admission::Admissible);
            // Only admissible statements may raise confidence above the winner's own.
            let admissible_agreeing = input.iter().filter(|s| {
                s.source() != chosen_source
                    && admission(s) == Admission::Admissible
                    && agreement::same_text(&s.value, &chosen.value)
            }).count();
            if admissible_agreeing == 0 {
                prop_assert!(f.confidence <= chosen.confidence.clamp(0.0, 1.0) + 1e-6);
            }
            for a in &f.alternatives {
                prop_assert!(!agreement::same_text(&a.value, &f.value), "{a:?}");
            }
        }
    }
}
