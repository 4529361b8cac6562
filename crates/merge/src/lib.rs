//! Pure per-field priority merge.
//!
//! Several sources (local tables, vendors) may state the same fact. Configuration names,
//! per field, the order in which sources are trusted; the highest-priority source that
//! answered wins, lower-priority answers that differ are kept as alternatives, and the
//! confidence of the chosen value reflects how much the sources agreed.
//!
//! No I/O and no async: every service that merges (vin, plate, aggregator) calls this,
//! through the facts crate, which also decides when two texts agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One source's statement about one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<V> {
    /// Source name as it appears in provenance and in the priority configuration.
    pub source: String,
    pub value: V,
    /// The source's own confidence in `[0, 1]`; values outside are clamped.
    pub confidence: f32,
}

impl<V> Candidate<V> {
    pub fn new(source: impl Into<String>, value: V, confidence: f32) -> Self {
        Self {
            source: source.into(),
            value,
            confidence,
        }
    }
}

/// The merged value of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<V> {
    pub value: V,
    /// Source whose value was chosen.
    pub source: String,
    /// The chosen source's own confidence, as it reported it.
    pub source_confidence: f32,
    /// Confidence after taking the other sources into account.
    pub confidence: f32,
    /// Other sources that said the same thing (evidence for the value).
    pub agreeing: Vec<String>,
    /// Lower-priority sources that said something else, in priority order.
    pub alternatives: Vec<Candidate<V>>,
}

impl<V> Merged<V> {
    /// True when at least one source contradicted the chosen value.
    pub fn disputed(&self) -> bool {
        !self.alternatives.is_empty()
    }
}

/// Per-field source order, from configuration.
///
/// ```toml
/// default = ["connapi", "local"]
/// [fields]
/// model_year = ["local", "connapi"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MergePolicy {
    /// Order used for every field not listed in `fields`.
    pub default: Vec<String>,
    /// Field name -> source order, highest priority first.
    pub fields: BTreeMap<String, Vec<String>>,
}

impl MergePolicy {
    pub fn new(default: &[&str]) -> Self {
        Self {
            default: default.iter().map(|s| (*s).to_owned()).collect(),
            fields: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn with_field(mut self, field: &str, order: &[&str]) -> Self {
        self.fields.insert(
            field.to_owned(),
            order.iter().map(|s| (*s).to_owned()).collect(),
        );
        self
    }

    /// The source order for `field`.
    pub fn order_for(&self, field: &str) -> &[String] {
        self.fields.get(field).unwrap_or(&self.default)
    }

    /// Merges the candidates for `field` under this policy, comparing values with `same`.
    pub fn merge<V: Clone>(
        &self,
        field: &str,
        candidates: Vec<Candidate<V>>,
        same: impl Fn(&V, &V) -> bool,
    ) -> Option<Merged<V>> {
        merge_field(self.order_for(field), candidates, same)
    }

    /// Like [`MergePolicy::merge`], but values that fail `admissible` (a VIN that breaks
    /// its check digit, a date that does not parse) rank after every admissible value
    /// whatever their source's priority. They stay visible as alternatives, and they win
    /// only when no source said anything admissible.
    pub fn merge_admissible<V: Clone>(
        &self,
        field: &str,
        candidates: Vec<Candidate<V>>,
        same: impl Fn(&V, &V) -> bool,
        admissible: impl Fn(&V) -> bool,
    ) -> Option<Merged<V>> {
        merge_field_admissible(self.order_for(field), candidates, same, admissible)
    }
}

/// Rank of a source in `order`; sources the configuration does not name come after every
/// named one, so an unconfigured new vendor can fill gaps but never overrides.
fn rank(order: &[String], source: &str) -> usize {
    order
        .iter()
        .position(|s| s == source)
        .unwrap_or(order.len())
}

/// Merges one field.
///
/// * The winner is the candidate whose source ranks highest in `order`; ties (same rank,
///   e.g. two unlisted sources) keep the input order, so the result is deterministic.
/// * When every candidate agrees with the winner, the sources are treated as independent
///   evidence: `1 - Π(1 - cᵢ)` (noisy-or), capped at 0.99 because agreement of vendors that
///   may share an upstream is never proof.
/// * When some disagree, the winner's own confidence is scaled by its share of the total
///   confidence: `c_w · support / total`, where `support` sums the agreeing candidates.
///   Disagreement therefore never raises confidence above what the winner claimed alone.
pub fn merge_field<V: Clone>(
    order: &[String],
    candidates: Vec<Candidate<V>>,
    same: impl Fn(&V, &V) -> bool,
) -> Option<Merged<V>> {
    merge_field_admissible(order, candidates, same, |_| true)
}

/// [`merge_field`] where inadmissible values rank after all admissible ones (see
/// [`MergePolicy::merge_admissible`]). An inadmissible value that equals the winner still
/// counts as agreement: the comparison is on the value, not on how it was checked.
pub fn merge_field_admissible<V: Clone>(
    order: &[String],
    mut candidates: Vec<Candidate<V>>,
    same: impl Fn(&V, &V) -> bool,
    admissible: impl Fn(&V) -> bool,
) -> Option<Merged<V>> {
    if candidates.is_empty() {
        return None;
    }
    for c in &mut candidates {
        c.confidence = clamp01(c.confidence);
    }
    // Stable sort keeps input order among equal keys.
    candidates.sort_by_cached_key(|c| (!admissible(&c.value), rank(order, &c.source)));
    let mut iter = candidates.into_iter();
    let winner = iter.next()?;

    let mut agreeing = Vec::new();
    let mut alternatives = Vec::new();
    let mut support = winner.confidence;
    let mut total = winner.confidence;
    let mut all_doubt = 1.0 - winner.confidence;
    for c in iter {
        total += c.confidence;
        if same(&winner.value, &c.value) {
            support += c.confidence;
            all_doubt *= 1.0 - c.confidence;
            agreeing.push(c.source);
        } else {
            alternatives.push(c);
        }
    }

    let confidence = if alternatives.is_empty() {
        if agreeing.is_empty() {
            winner.confidence
        } else {
            (1.0 - all_doubt).clamp(winner.confidence, 0.99_f32.max(winner.confidence))
        }
    } else if total > 0.0 {
        winner.confidence * support / total
    } else {
        0.0
    };

    Some(Merged {
        value: winner.value,
        source: winner.source,
        source_confidence: winner.confidence,
        confidence: clamp01(confidence),
        agreeing,
        alternatives,
    })
}

fn clamp01(x: f32) -> f32 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn empty_gives_none() {
        assert!(merge_field::<i32>(&order(&["a"]), vec![], |a, b| a == b).is_none());
    }

    #[test]
    fn highest_priority_wins_even_when_listed_last() {
        let m = merge_field(
            &order(&["vendor", "local"]),
            vec![
                Candidate::new("local", 2010, 0.6),
                Candidate::new("vendor", 2011, 0.9),
            ],
            |a, b| a == b,
        )
        .expect("merged");
        assert_eq!(m.value, 2011);
        assert_eq!(m.source, "vendor");
        assert_eq!(m.alternatives.len(), 1);
        assert_eq!(m.alternatives[0].source, "local");
        assert!(m.disputed());
        // 0.9 * 0.9 / 1.5
        assert!((m.confidence - 0.54).abs() < 1e-6);
    }

    #[test]
    fn agreement_raises_confidence_with_a_cap() {
        let m = merge_field(
            &order(&["a", "b"]),
            vec![Candidate::new("a", "x", 0.8), Candidate::new("b", "x", 0.5)],
            |a, b| a == b,
        )
        .expect("merged");
        assert!((m.confidence - 0.9).abs() < 1e-6);
        assert_eq!(m.agreeing, vec!["b".to_owned()]);
        let m = merge_field(
            &order(&["a", "b"]),
            vec![
                Candidate::new("a", "x", 0.95),
                Candidate::new("b", "x", 0.95),
            ],
            |a, b| a == b,
        )
        .expect("merged");
        assert!((m.confidence - 0.99).abs() < 1e-6);
    }

    #[test]
    fn unlisted_sources_rank_after_listed_ones() {
        let m = merge_field(
            &order(&["local"]),
            vec![
                Candidate::new("new", 1, 1.0),
                Candidate::new("local", 2, 0.1),
            ],
            |a, b| a == b,
        )
        .expect("merged");
        assert_eq!(m.source, "local");
    }

    #[test]
    fn policy_per_field_overrides_default() {
        let policy = MergePolicy::new(&["connapi", "local"]).with_field("model_year", &["local"]);
        assert_eq!(policy.order_for("brand"), ["connapi", "local"]);
        assert_eq!(policy.order_for("model_year"), ["local"]);
        let parsed: MergePolicy = toml::from_str(
            "default = [\"connapi\", \"local\"]\n[fields]\nmodel_year = [\"local\"]\n",
        )
        .expect("parses");
        assert_eq!(parsed, policy);
        assert!(toml::from_str::<MergePolicy>("defaults = []").is_err());
    }

    #[test]
    fn nan_confidence_is_treated_as_zero() {
        let m = merge_field(
            &order(&["a"]),
            vec![Candidate::new("a", 1, f32::NAN)],
            |a, b| a == b,
        )
        .expect("merged");
        assert!(m.confidence.abs() < f32::EPSILON);
    }

    #[test]
    fn inadmissible_value_loses_to_a_lower_priority_admissible_one() {
        // Odd numbers play the VIN that fails its check digit.
        let m = merge_field_admissible(
            &order(&["top", "second"]),
            vec![
                Candidate::new("top", 1, 0.9),
                Candidate::new("second", 2, 0.8),
            ],
            |a, b| a == b,
            |v| v % 2 == 0,
        )
        .expect("merged");
        assert_eq!((m.value, m.source.as_str()), (2, "second"));
        assert_eq!(m.alternatives.len(), 1);
        assert_eq!(m.alternatives[0].source, "top");
    }

    #[test]
    fn inadmissible_value_wins_only_when_nothing_else_was_said() {
        let m = merge_field_admissible(
            &order(&["top", "second"]),
            vec![
                Candidate::new("second", 3, 0.8),
                Candidate::new("top", 1, 0.9),
            ],
            |a, b| a == b,
            |v| v % 2 == 0,
        )
        .expect("merged");
        assert_eq!((m.value, m.source.as_str()), (1, "top"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SOURCES: [&str; 4] = ["a", "b", "c", "d"];

        fn candidates() -> impl Strategy<Value = Vec<Candidate<u8>>> {
            prop::collection::vec(
                (0..SOURCES.len(), 0u8..3, 0.0f32..=1.0)
                    .prop_map(|(s, v, c)| Candidate::new(SOURCES[s], v, c)),
                1..6,
            )
        }

        proptest! {
            #[test]
            fn winner_is_highest_ranked_and_confidence_bounded(cands in candidates()) {
                let order = order(&["b", "a", "d"]);
                let m = merge_field(&order, cands.clone(), |a, b| a == b).expect("non-empty");
                let best = cands.iter().map(|c| rank(&order, &c.source)).min().expect("non-empty");
                prop_assert_eq!(rank(&order, &m.source), best);
                prop_assert!((0.0..=1.0).contains(&m.confidence));
                if m.disputed() {
                    prop_assert!(m.confidence <= m.source_confidence + 1e-6);
                } else {
                    prop_assert!(m.confidence + 1e-6 >= m.source_confidence);
                }
                // Every input is accounted for exactly once.
                prop_assert_eq!(1 + m.agreeing.len() + m.alternatives.len(), cands.len());
                prop_assert!(m.alternatives.iter().all(|c| c.value != m.value));
            }

            #[test]
            fn admissible_values_always_beat_inadmissible_ones(cands in candidates()) {
                let order = order(&["b", "a", "d"]);
                let ok = |v: &u8| *v != 0;
                let m = merge_field_admissible(&order, cands.clone(), |a, b| a == b, ok)
                    .expect("non-empty");
                let any_ok = cands.iter().any(|c| ok(&c.value));
                prop_assert_eq!(ok(&m.value), any_ok);
                // Among the admissible (or, failing that, all) candidates, priority rules.
                let best = cands.iter().filter(|c| !any_ok || ok(&c.value))
                    .map(|c| rank(&order, &c.source)).min().expect("non-empty");
                prop_assert_eq!(rank(&order, &m.source), best);
                prop_assert_eq!(1 + m.agreeing.len() + m.alternatives.len(), cands.len());
            }

            #[test]
            fn result_does_not_depend_on_input_order_when_ranks_are_distinct(
                vals in prop::collection::vec((0u8..3, 0.0f32..=1.0), 4)
            ) {
                let order = order(&SOURCES);
                let cands: Vec<_> = vals.iter().enumerate()
                    .map(|(i, (v, c))| Candidate::new(SOURCES[i], *v, *c)).collect();
                let mut reversed = cands.clone();
                reversed.reverse();
                let m1 = merge_field(&order, cands, |a, b| a == b).expect("non-empty");
                let m2 = merge_field(&order, reversed, |a, b| a == b).expect("non-empty");
                prop_assert_eq!(m1.value, m2.value);
                prop_assert_eq!(m1.source, m2.source);
                prop_assert!((m1.confidence - m2.confidence).abs() < 1e-5);
            }
        }
    }
}
