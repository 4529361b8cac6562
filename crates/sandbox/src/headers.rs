//! The two headers that are the sandbox's own protocol, not any vendor's.

/// Header present on every sandbox response (and on the callbacks it sends);
/// connectors map it to provenance "sandbox".
pub const SANDBOX_HEADER: &str = "x-axle-sandbox";
/// Per-request fault header (see [`crate::faults::parse_fault_header`] for the syntax).
pub const FAULT_HEADER: &str = "x-sandbox-fault";
