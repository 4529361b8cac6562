//! Counts of vendor calls by vendor, endpoint and outcome, so tests can assert "the
//! vendor was called exactly once" or "the retry hit the 503 twice".

use std::collections::BTreeMap;

use serde::Serialize;

/// Outcome labels besides vendor codes (which are recorded as their decimal text).
pub(crate) mod outcome {
    pub(crate) const RESET: &str = "reset";
    pub(crate) const MALFORMED: &str = "malformed";
    pub(crate) fn http_status(status: u16) -> String {
        format!("http_{status}")
    }
}

#[derive(Debug, Default)]
pub(crate) struct CallBook {
    counts: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    total: u64,
    /// Requests per vendor counted on arrival, before any injected delay: a call the
    /// client gave up on (a hedge's loser, a timeout) has no outcome but was still made,
    /// and a real vendor would bill it.
    arrived: BTreeMap<String, u64>,
}

/// `GET /_sandbox/calls` body: `{"total": n, "calls": {vendor: {endpoint: {outcome: n}}},
/// "arrived": {vendor: n}}`. `arrived` counts a request when it comes in, so a caller can
/// tell that its request reached the vendor while the vendor is still (slowly) answering.
#[derive(Debug, Serialize)]
pub(crate) struct CallsReport<'a> {
    total: u64,
    calls: &'a BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    arrived: &'a BTreeMap<String, u64>,
}

impl CallBook {
    pub(crate) fn record(&mut self, vendor: &str, endpoint: &str, outcome: &str) {
        *self
            .counts
            .entry(vendor.to_owned())
            .or_default()
            .entry(endpoint.to_owned())
            .or_default()
            .entry(outcome.to_owned())
            .or_default() += 1;
        self.total += 1;
    }

    pub(crate) fn arrive(&mut self, vendor: &str) {
        *self.arrived.entry(vendor.to_owned()).or_default() += 1;
    }

    pub(crate) fn arrived_at(&self, vendor: &str) -> u64 {
        self.arrived.get(vendor).copied().unwrap_or(0)
    }

    pub(crate) fn report(&self) -> CallsReport<'_> {
        CallsReport {
            total: self.total,
            calls: &self.counts,
            arrived: &self.arrived,
        }
    }
}
