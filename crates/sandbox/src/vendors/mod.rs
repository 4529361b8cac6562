//! The simulated vendors and the one list that registers them.
//!
//! Adding a vendor to the sandbox: a file (or folder) here implementing
//! `crate::vendor::Vendor` with a `register` constructor, its `mod` line below, and
//! its line in `REGISTRY`. Routing, fault injection, call counting, `/_sandbox/info`
//! and `/_sandbox/reset` follow from the registry.

pub mod apihz;
pub mod apistore;
pub mod connapi;
pub mod platecb;
pub mod platform;
pub mod xiaoshibao;

use std::sync::Arc;

use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::faults::matching::{Matcher, check_reachable};
use crate::faults::{FaultAction, FaultRule};
use crate::vendor::Vendor;

type Register = fn(&SandboxConfig) -> Result<Arc<dyn Vendor>, SandboxError>;

/// Every simulated vendor.
const REGISTRY: &[Register] = &[
    connapi::register,
    xiaoshibao::register,
    platecb::register,
    apistore::register,
    apihz::register,
];

/// The vendors built from one configuration.
#[derive(Debug, Clone)]
pub(crate) struct Registry(Arc<[Arc<dyn Vendor>]>);

impl Registry {
    /// Builds every registered vendor; fails on the first that cannot start, or on two
    /// vendors with one name (their rules and counts would mix).
    pub(crate) fn build(cfg: &SandboxConfig) -> Result<Self, SandboxError> {
        let vendors = REGISTRY
            .iter()
            .map(|register| register(cfg))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, v) in vendors.iter().enumerate() {
            if vendors[..i].iter().any(|w| w.name() == v.name()) {
                return Err(SandboxError::Config(format!(
                    "two sandbox vendors are named {}",
                    v.name()
                )));
            }
        }
        Ok(Self(vendors.into()))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<dyn Vendor>> {
        self.0.iter()
    }

    /// Refuses a fault rule that names no registered vendor, or a parameter its vendor
    /// (or, without a vendor, every vendor) lacks, or a `callback` action for a vendor
    /// that answers by no callback: such a rule would never fire (or never show).
    pub(crate) fn check_rule(&self, rule: &FaultRule) -> Result<(), String> {
        let vendors: Vec<(&str, &[Matcher])> = self
            .iter()
            .map(|v| (v.name(), v.fault_matchers()))
            .collect();
        check_reachable(rule, &vendors)?;
        if matches!(rule.action, Some(FaultAction::Callback { .. })) {
            let with_callbacks: Vec<&str> = self
                .iter()
                .filter(|v| v.delivers_callbacks())
                .map(|v| v.name())
                .collect();
            let named = rule.vendor.as_deref().map(str::trim);
            if !named.is_some_and(|n| with_callbacks.iter().any(|c| c.eq_ignore_ascii_case(n))) {
                return Err(format!(
                    "a callback fault needs `vendor` set to one that answers by callback ({})",
                    with_callbacks.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// [`Registry::check_rule`] for a list, naming the rule by its position.
    pub(crate) fn check_rules(&self, rules: &[FaultRule]) -> Result<(), String> {
        for (i, rule) in rules.iter().enumerate() {
            self.check_rule(rule)
                .map_err(|e| format!("fault rule #{i}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
