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
    /// Not proven wrong, but not to be trusted here, for the reason given (e.g.
    /// "OTHER_VEHICLE": the source describes another vehicle).
    Demoted(&'static str),
    /// Axle's local rules prove the value wrong, for the reason given (e.g. "VIN_INVALID").
    Rejected(&'static str),
}

impl Admission {
    fn admissible(self) -> bool {
        self == Self::Admissible
    }

    fn reason(self) -> &'static str {
        match self {
            Self::Admissible => "",
            Self::Demoted(why) | Self::Rejected(why) => why,
        }
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

    /// The disagreements recorded so far, in the order the fields were built.
    pub fn disagreements(&self) -> &[Disagreement] {
        &self.disagreements
    }

    pub fn into_disagreements(self) -> Vec<Disagreement> {
        self.disagreements
    }

    /// A text field under the text-agreement rule (`agreement::same_text`); placeholders
    /// are no answer.
    pub fn text(&mut self, field: &str, stated: Vec<Stated<String>>) -> Option<StringFact> {
        self.text_by(
            field,
            stated,
            |_| Admission::Admissible,
            agreement::same_text,
        )
    }

    /// [`Facts::text`] with values ranked by `admission` first (see [`Admission`]).
    pub fn text_with(
        &mut self,
        field: &str,
        stated: Vec<Stated<String>>,
        admission: impl Fn(&Stated<String>) -> Admission,
    ) -> Option<StringFact> {
        self.text_by(field, stated, admission, agreement::same_text)
    }

    /// A text field whose values agree by `same` (a code-table rule such as
    /// `agreement::same_usage`, or `agreement::same_wan_yuan`).
    pub fn text_by(
        &mut self,
        field: &str,
        stated: Vec<Stated<String>>,
        admission: impl Fn(&Stated<String>) -> Admission,
        same: fn(&str, &str) -> bool,
    ) -> Option<StringFact> {
        let stated = answers(stated);
        self.merge(
            field,
            stated,
            |a: &String, b: &String| same(a, b),
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

    /// A name in a source's own words (brand, model, engine ...) where each source's whole
    /// record is returned beside the merged one: like [`Facts::text`], but values in
    /// another script than the leading value's are left out of the field (an English
    /// register name can neither confirm nor contradict a Chinese catalogue name).
    pub fn name(&mut self, field: &str, stated: Vec<Stated<String>>) -> Option<StringFact> {
        let mut stated = answers(stated);
        let order = self.policy.order_for(field);
        let rank = |s: &Stated<String>| {
            order
                .iter()
                .position(|o| o == s.source())
                .unwrap_or(order.len())
        };
        if let Some(lead) = stated
            .iter()
            .min_by_key(|s| rank(s))
            .map(|s| s.value.clone())
        {
            stated.retain(|s| agreement::comparable(&s.value, &lead));
        }
        self.text(field, stated)
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
        let stated = answers(stated);
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
        self.int_with(field, stated, |_| Admission::Admissible)
    }

    /// [`Facts::int`] with values ranked by `admission` first.
    pub fn int_with(
        &mut self,
        field: &str,
        stated: Vec<Stated<i32>>,
        admission: impl Fn(&Stated<i32>) -> Admission,
    ) -> Option<Int32Fact> {
        self.merge(field, stated, |a, b| a == b, ToString::to_string, admission)
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

    /// The merge every fact goes through: the policy's priority order, admission first,
    /// confidence capped for values that are not admissible, alternatives rendered with
    /// `render`, a disagreement recorded when any source differs.
    ///
    /// A value that is not admissible is never evidence: it cannot raise the chosen
    /// value's confidence. One that says the same as an admissible chosen value
    /// contradicts nothing either, so it is left out; one that differs stays visible as
    /// an alternative with its reason.
    fn merge<V: Clone>(
        &mut self,
        field: &str,
        stated: Vec<Stated<V>>,
        same: impl Fn(&V, &V) -> bool,
        render: impl Fn(&V) -> String,
        admission: impl Fn(&Stated<V>) -> Admission,
    ) -> Option<Chosen<V>> {
        let mut candidates: Vec<Candidate<(Stated<V>, Admission)>> = stated
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
        let evidence = |a: &(Stated<V>, Admission), b: &(Stated<V>, Admission)| {
            a.1.admissible() && b.1.admissible() && same(&a.0.value, &b.0.value)
        };
        let admissible = |v: &(Stated<V>, Admission)| v.1.admissible();
        let first =
            self.policy
                .merge_admissible(field, candidates.clone(), evidence, admissible)?;
        let m = if first.value.1.admissible() {
            let winner = first.value.0.value;
            candidates.retain(|c| c.value.1.admissible() || !same(&c.value.0.value, &winner));
            self.policy
                .merge_admissible(field, candidates, evidence, admissible)?
        } else {
            first
        };
        let alternatives: Vec<Alternative> = m
            .alternatives
            .iter()
            .map(|c| Alternative {
                value: render(&c.value.0.value),
                provenance: Some(c.value.0.provenance.clone()),
                confidence: c.confidence,
                rejected_reason: c.value.1.reason().to_owned(),
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

/// The statements that say something: placeholders ("-", "暂无") are no answer.
fn answers(stated: Vec<Stated<String>>) -> Vec<Stated<String>> {
    stated
        .into_iter()
        .filter(|s| !agreement::is_placeholder(&s.value))
        .collect()
}

#[cfg(test)]
mod tests;
