//! Shared server state: the fault book, call counters and each vendor's simulator.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::calls::CallBook;
use crate::faults::FaultBook;
use crate::vendors::connapi::Connapi;
use crate::vendors::platecb::Platecb;
use crate::vendors::xiaoshibao::Xiaoshibao;
use crate::{SandboxConfig, SandboxError};

/// Cheap to clone; one per server.
#[derive(Debug, Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: SandboxConfig,
    pub(crate) faults: Mutex<FaultBook>,
    pub(crate) calls: Mutex<CallBook>,
    pub(crate) connapi: Connapi,
    pub(crate) xiaoshibao: Xiaoshibao,
    pub(crate) platecb: Platecb,
}

impl AppState {
    /// Loads fixtures and validates the configuration; fails fast instead of serving a
    /// half-configured vendor.
    pub fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let scale = config.platecb.time_scale;
        if !(scale.is_finite() && (0.0..=1000.0).contains(&scale)) {
            return Err(SandboxError::Config(format!(
                "platecb.time_scale must be between 0 and 1000 (1 is real time), not {scale}"
            )));
        }
        let faults = FaultBook::new(config.faults.clone(), config.seed)?;
        let connapi = Connapi::new(&config.connapi, config.seed)?;
        Ok(Self(Arc::new(Inner {
            config: config.clone(),
            faults: Mutex::new(faults),
            calls: Mutex::new(CallBook::default()),
            connapi,
            xiaoshibao: Xiaoshibao::new()?,
            platecb: Platecb::new()?,
        })))
    }

    /// Back to the state right after start: configured fault rules, a reseeded RNG,
    /// zero call counts, configured balances, order numbers from the beginning.
    pub fn reset(&self) {
        *lock(&self.0.faults) = FaultBook::new(self.0.config.faults.clone(), self.0.config.seed)
            // The configured rules were validated when the state was built.
            .unwrap_or_else(|_| FaultBook::empty(self.0.config.seed));
        *lock(&self.0.calls) = CallBook::default();
        self.0.connapi.reset();
        self.0.xiaoshibao.reset();
        self.0.platecb.reset();
    }
}

/// A panic while holding a lock leaves plain counters behind, never a broken invariant
/// worth refusing every later request for.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
