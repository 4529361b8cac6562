//! Shared server state: the configuration, the fault rule book, call counts and the
//! vendors.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::calls::CallBook;
use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::faults::book::FaultBook;
use crate::sync::lock;
use crate::vendors::Registry;

/// Cheap to clone; one per server.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: SandboxConfig,
    faults: Mutex<FaultBook>,
    calls: Mutex<CallBook>,
    vendors: Registry,
}

impl AppState {
    /// Loads fixtures and validates the configuration; fails fast instead of serving a
    /// half-configured vendor.
    pub fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let vendors = Registry::build(config)?;
        vendors
            .check_rules(&config.faults)
            .map_err(SandboxError::Config)?;
        let faults =
            FaultBook::new(config.faults.clone(), config.seed).map_err(SandboxError::Config)?;
        Ok(Self(Arc::new(Inner {
            config: config.clone(),
            faults: Mutex::new(faults),
            calls: Mutex::new(CallBook::default()),
            vendors,
        })))
    }

    /// Back to the state right after start: configured fault rules, a reseeded RNG,
    /// zero call counts, and every vendor's own reset.
    pub fn reset(&self) {
        let cfg = &self.0.config;
        *self.faults() = FaultBook::new(cfg.faults.clone(), cfg.seed)
            // The configured rules were validated when the state was built.
            .unwrap_or_else(|_| FaultBook::empty(cfg.seed));
        *self.calls() = CallBook::default();
        for v in self.0.vendors.iter() {
            v.reset();
        }
    }

    /// Requests `vendor` has received since start or the last reset, counted on arrival:
    /// unlike `GET /_sandbox/calls` (by outcome, recorded when answered) it includes calls
    /// the client dropped before the answer (a hedge's loser), which a real vendor would
    /// still bill. For in-process tools such as `axle bench`.
    pub fn calls_of(&self, vendor: &str) -> u64 {
        self.calls().arrived_at(vendor)
    }

    /// Replaces the fault rules, reseeding the RNG with the configured seed, as
    /// `POST /_sandbox/faults` does: for in-process tools such as `axle bench`.
    pub fn set_faults(&self, rules: Vec<crate::faults::FaultRule>) -> Result<(), String> {
        self.vendors().check_rules(&rules)?;
        let book = FaultBook::new(rules, self.config().seed)?;
        *self.faults() = book;
        Ok(())
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.0.config
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultBook> {
        lock(&self.0.faults)
    }

    pub(crate) fn calls(&self) -> MutexGuard<'_, CallBook> {
        lock(&self.0.calls)
    }

    pub(crate) fn vendors(&self) -> &Registry {
        &self.0.vendors
    }
}
