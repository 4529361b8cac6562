//! The fact builder: what each source stated about a field, merged under the service's
//! `MergePolicy`, as the proto fact with its alternatives; every disputed field is also
//! recorded for the response's `disagreements`.

use contracts::axle::common::v1::{
    Alternative, BoolFact, DateFact, Disagreement, Int32Fact, Money, MoneyFact, Provenance,
    StringFact,
};
use merge::{Candidate, MergePolicy};

use crate::{agreement, confidence, money};

/// What one source said about one field, with the provenance the fact carries if it wins.
/// The source is `provenance.source`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stated<V> {
    pub value: V,
    pub provenance: Provenance,
    /// The source's confidence in `[0, 1]`.
    pub confidence: f32,
}

impl<V> Stated<V> {
    pub fn new(value: V, provenance: Provenance, confidence: f32) -> Self {
        Self {
            value,
            provenance,
            confidence,
        }
    }

    pub fn source(&self) -> &str {
        &self.provenance.source
    }
}

/// How a stated value may take part in a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// An ordinary value: ranked by its source's priority.
    Admissible,
    /// Not proven wrong, but not to be trusted here (e.g. a source describing another
    /// vehicle): ranks after every admissible value, its confidence capped at
    /// [`confidence::INADMISSIBLE`], and it is never counted as agreement: it stays
    /// listed as an alternative.
    Demoted,
    /// Axle's local rules prove the value wrong: like `Demoted`, and its alternative says
    /// why (`Alternative.rejected_reason`, e.g. "VIN_INVALID").
    Rejected(&'static str),
}

impl Admission {
    fn admissible(self) -> bool {
        self == Self::Admissible
    }
}

/// The merged value of one field, before it becomes a proto fact.
struct Chosen<V> {
    value: V,
    confidence: f32,
    provenance: Provenance,
    alternatives: Vec<Alternative>,
}

/// Builds a response's facts under one merge policy and collects its disagreements.
#[derive(Debug)]
pub struct Facts<'p> {
    policy: &'p MergePolicy,
    disagreements: Vec<Disagreement>,
}

impl<'p> Facts<'p> {
    pub fn new(policy: &'p MergePolicy) -> Self {
        Self {
            policy,
            disagreements: Vec::new(),
        }
    }

    pub fn policy(&self) -> &'p MergePolicy {
        self.policy
    }

    /// The disagreements recorded so far, in the order the fields were built.
    pub fn disagreements(&self) -> &[Disagreement] {
        &self.disagreements
    }

    pub fn into_disagreements(self) -> Vec<Disagreement> {
        self.disagreements
    }

    /// A text field under the agreement rule (`agreement`): placeholders are no answer,
    /// and values in another script than the leading one are left out.
    pub fn text(&mut self, field: &str, stated: Vec<Stated<String>>) -> Option<StringFact> {
        self.text_with(field, stated, |_| Admission::Admissible)
    }

    /// [`Facts::text`] with values ranked by `admission` first (see [`Admission`]).
    pub fn text_with(
        &mut self,
        field: &str,
        stated: Vec<Stated<String>>,
        admission: impl Fn(&Stated<String>) -> Admission,
    ) -> Option<StringFact> {
        let stated = self.comparable_texts(field, stated, &admission);
        self.merge(
            field,
            stated,
            |a: &String, b: &String| agreement::same_text(a, b),
            Clone::clone,
            admission,
        )
        .map(|c| StringFact {
            value: c.value,
            confidence: c.confidence,
            provenance: Some(c.provenance),
            alternatives: c.alternatives,
        })
    }

    /// A date field: values in ISO 8601 where they read as a date (else as sent: an
    /// unreadable date is passed on, not dropped); a date agrees with itself at less
    /// precision ("2022-03" and "2022-03-18").
    pub fn date(&mut self, field: &str, stated: Vec<Stated<String>>) -> Option<DateFact> {
        self.date_with(field, stated, |_| Admission::Admissible)
    }

    /// [`Facts::date`] with values ranked by `admission` first.
    pub fn date_with(
        &mut self,
        field: &str,
        stated: Vec<Stated<String>>,
        admission: impl Fn(&Stated<String>) -> Admission,
    ) -> Option<DateFact> {
        let stated = stated
            .into_iter()
            .map(|mut s| {
                if let Some(iso) = domain::dates::iso_date(&s.value) {
                    s.value = iso;
                }
                s
            })
            .collect();
        let stated = self.comparable_texts(field, stated, &admission);
        self.merge(
            field,
            stated,
            |a: &String, b: &String| agreement::same_date(a, b),
            Clone::clone,
            admission,
        )
        .map(|c| DateFact {
            value: c.value,
            confidence: c.confidence,
            provenance: Some(c.provenance),
            alternatives: c.alternatives,
        })
    }

    pub fn int(&mut self, field: &str, stated: Vec<Stated<i32>>) -> Option<Int32Fact> {
        self.merge(
            field,
            stated,
            |a, b| a == b,
            ToString::to_string,
            |_| Admission::Admissible,
        )
        .map(|c| Int32Fact {
            value: c.value,
            confidence: c.confidence,
            provenance: Some(c.provenance),
            alternatives: c.alternatives,
        })
    }

    pub fn boolean(&mut self, field: &str, stated: Vec<Stated<bool>>) -> Option<BoolFact> {
        self.merge(
            field,
            stated,
            |a, b| a == b,
            ToString::to_string,
            |_| Admission::Admissible,
        )
        .map(|c| BoolFact {
            value: c.value,
            confidence: c.confidence,
            provenance: Some(c.provenance),
            alternatives: c.alternatives,
        })
    }

    /// A price: prices within one unit of their currency agree; alternatives read
    /// "CNY 129900.00".
    pub fn money(&mut self, field: &str, stated: Vec<Stated<Money>>) -> Option<MoneyFact> {
        self.merge(field, stated, money::same_price, money::display, |_| {
            Admission::Admissible
        })
        .map(|c| MoneyFact {
            value: Some(c.value),
            confidence: c.confidence,
            provenance: Some(c.provenance),
            alternatives: c.alternatives,
        })
    }

    /// Placeholders out; then only the texts in the leading value's script (the value
    /// that would win on admission and priority) take part.
    fn comparable_texts(
        &self,
        field: &str,
        stated: Vec<Stated<String>>,
        admission: &impl Fn(&Stated<String>) -> Admission,
    ) -> Vec<Stated<String>> {
        let mut stated: Vec<Stated<String>> = stated
            .into_iter()
            .filter(|s| !agreement::is_placeholder(&s.value))
            .collect();
        let order = self.policy.order_for(field);
        let rank = |s: &Stated<String>| {
            (
                !admission(s).admissible(),
                order
                    .iter()
                    .position(|o| o == s.source())
                    .unwrap_or(order.len()),
            )
        };
        if let Some(lead) = stated.iter().min_by_key(|s| rank(s)) {
            let lead_cjk = agreement::has_cjk(&lead.value);
            stated.retain(|s| agreement::has_cjk(&s.value) == lead_cjk);
        }
        stated
    }

    /// The merge every fact goes through: the policy's priority order, admission first,
    /// confidence capped for values that are not admissible, alternatives rendered with
    /// `render`, a disagreement recorded when any source differs.
    fn merge<V: Clone>(
        &mut self,
        field: &str,
        stated: Vec<Stated<V>>,
        same: impl Fn(&V, &V) -> bool,
        render: impl Fn(&V) -> String,
        admission: impl Fn(&Stated<V>) -> Admission,
    ) -> Option<Chosen<V>> {
        let candidates: Vec<Candidate<(Stated<V>, Admission)>> = stated
            .into_iter()
            .map(|s| {
                let a = admission(&s);
                let c = if a.admissible() {
                    s.confidence
                } else {
                    s.confidence.min(confidence::INADMISSIBLE)
                };
                Candidate::new(s.provenance.source.clone(), (s, a), c)
            })
            .collect();
        let m = self.policy.merge_admissible(
            field,
            candidates,
            // A value that is not admissible is never evidence: even when it reads like
            // the chosen one, it stays visible as an alternative instead of raising the
            // confidence (a source describing another vehicle confirms nothing).
            |a, b| a.1.admissible() && b.1.admissible() && same(&a.0.value, &b.0.value),
            |v| v.1.admissible(),
        )?;
        let alternatives: Vec<Alternative> = m
            .alternatives
            .iter()
            .map(|c| Alternative {
                value: render(&c.value.0.value),
                provenance: Some(c.value.0.provenance.clone()),
                confidence: c.confidence,
                rejected_reason: match c.value.1 {
                    Admission::Rejected(why) => why.to_owned(),
                    Admission::Admissible | Admission::Demoted => String::new(),
                },
            })
            .collect();
        let (chosen, _) = m.value;
        if !alternatives.is_empty() {
            self.disagreements.push(Disagreement {
                field: field.to_owned(),
                chosen_source: m.source.clone(),
                chosen_value: render(&chosen.value),
                values: alternatives.clone(),
            });
        }
        Some(Chosen {
            value: chosen.value,
            confidence: m.confidence,
            provenance: chosen.provenance,
            alternatives,
        })
    }
}

#[cfg(test)]
mod tests;
