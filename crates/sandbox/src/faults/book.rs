//! The rule book: the active rules, how often each fired, and the one seeded RNG. It
//! turns a request's facts into a [`Plan`]; carrying the plan out is the HTTP layer's job.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use super::draw::{fires, sample};
use super::matching::{RequestFacts, matches};
use super::rule::{FaultAction, FaultRule};

/// The drawn outcome for one request.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) delay: Duration,
    pub(crate) action: Option<FaultAction>,
    /// Labels of the rules that fired, for the debug log.
    pub(crate) fired: Vec<String>,
}

/// Label of the per-request header rule in [`Plan::fired`].
const HEADER_LABEL: &str = "x-sandbox-fault";

/// The active rules, how often each fired, and the RNG.
#[derive(Debug)]
pub(crate) struct FaultBook {
    seed: u64,
    rules: Vec<FaultRule>,
    fired: Vec<u64>,
    rng: StdRng,
}

/// `GET /_sandbox/faults` body; `rules` can be posted back as is.
#[derive(Debug, Serialize)]
pub(crate) struct FaultsReport<'a> {
    seed: u64,
    rules: &'a [FaultRule],
    /// How many times each rule (same index) fired since it was set.
    fired: &'a [u64],
}

impl FaultBook {
    /// A book of `rules` with a freshly seeded RNG; refuses an invalid rule, naming it
    /// by its position.
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> Result<Self, String> {
        for (i, r) in rules.iter().enumerate() {
            r.validate().map_err(|e| format!("fault rule #{i}: {e}"))?;
        }
        Ok(Self {
            seed,
            fired: vec![0; rules.len()],
            rules,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    pub(crate) fn empty(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
            fired: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    pub(crate) fn report(&self) -> FaultsReport<'_> {
        FaultsReport {
            seed: self.seed,
            rules: &self.rules,
            fired: &self.fired,
        }
    }

    /// Draws the faults for one request. Without `header`, every matching rule is drawn
    /// in order: the latencies of the rules that fire add up, and the first firing rule
    /// with an action decides the action. `header` (the per-request rule) replaces the
    /// book's rules for this request and counts towards none of them.
    pub(crate) fn plan(&mut self, req: &RequestFacts<'_>, header: Option<&FaultRule>) -> Plan {
        let mut plan = Plan::default();
        if let Some(rule) = header {
            if matches(rule, req) && fires(&mut self.rng, rule.probability) {
                apply(&mut plan, rule, &mut self.rng, HEADER_LABEL);
            }
            return plan;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let exhausted = rule.times.is_some_and(|t| self.fired[i] >= t);
            // A second action cannot apply, so such a rule neither draws nor counts.
            let redundant =
                rule.latency.is_none() && rule.action.is_some() && plan.action.is_some();
            if exhausted
                || redundant
                || !matches(rule, req)
                || !fires(&mut self.rng, rule.probability)
            {
                continue;
            }
            self.fired[i] += 1;
            let label = rule.name.clone().unwrap_or_else(|| format!("rule#{i}"));
            apply(&mut plan, rule, &mut self.rng, &label);
        }
        plan
    }

    #[cfg(test)]
    pub(crate) fn fired(&self) -> &[u64] {
        &self.fired
    }
}

fn apply(plan: &mut Plan, rule: &FaultRule, rng: &mut StdRng, label: &str) {
    if let Some(l) = rule.latency {
        plan.delay += sample(l, rng);
    }
    if plan.action.is_none() {
        plan.action.clone_from(&rule.action);
    }
    plan.fired.push(label.to_owned());
}
