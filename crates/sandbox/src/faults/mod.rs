//! Fault rules, without HTTP: what a rule says (`rule`), its header form
//! (`header`), whether it applies to a request (`matching`), its random draws
//! (`draw`) and the rule book that holds the active rules (`book`). The HTTP layer
//! that carries a plan out is `crate::inject`.
//!
//! Rules come from configuration (`[[faults]]`), from the admin API
//! (`/_sandbox/faults`), or from one request's `x-sandbox-fault` header. For a request
//! without the header, every matching rule is drawn in order: the latencies of the rules
//! that fire add up, and the first firing rule that has an action decides the action.
//! The header replaces the rules for its request. One seeded RNG makes probabilities and
//! latency draws reproducible for a given request sequence.

pub(crate) mod book;
pub(crate) mod draw;
mod header;
pub(crate) mod matching;
mod rule;

#[cfg(test)]
mod tests;

pub use header::parse_fault_header;
pub use rule::{CallbackFault, FaultAction, FaultRule, Latency};
