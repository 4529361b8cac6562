//! Per-source metrics: `source_asks_total{source, state}`,
//! `source_ask_seconds{source}` and `source_hedges_total{service, source}`. Registered
//! once per process; a [`SourceList`] creates each of its sources' handles once, so an
//! ask builds no label strings.
//!
//! [`SourceList`]: crate::SourceList

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `state` label values, in `SourceState` order from OK.
pub(crate) const STATES: [&str; 8] = [
    "ok",
    "not_found",
    "failed",
    "timeout",
    "skipped",
    "pending",
    "unspecified",
    "skipped_by_budget",
];

type AskLabels = [(&'static str, String); 2];
type SourceLabel = [(&'static str, String); 1];
type HedgeLabels = [(&'static str, String); 2];

/// The families (a type of their own, so `Metrics::shared` can never hand them to
/// another crate that shares a family of the same shape).
#[derive(Debug, Clone)]
pub struct SourceMetrics {
    asks: Family<AskLabels, Counter>,
    seconds: Family<SourceLabel, Histogram>,
    hedges: Family<HedgeLabels, Counter>,
}

impl Default for SourceMetrics {
    fn default() -> Self {
        Self {
            asks: Family::default(),
            hedges: Family::default(),
            // 1 ms .. 30 s: a stored answer in the first buckets, a slow vendor's
            // retries and an async vendor's wait further up.
            seconds: Family::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ])
            }),
        }
    }
}

impl SourceMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "source_asks",
            "Asks of each source (vendor, callback store) by how they ended: ok, not_found, failed, timeout, skipped, pending",
            m.asks.clone(),
        );
        registry.register(
            "source_ask_seconds",
            "Time each source took to answer an ask, its retries and waits included",
            m.seconds.clone(),
        );
        registry.register(
            "source_hedges",
            "Hedged asks: the source asked had not answered within its hedge delay, so a second request went out (strategy hedged)",
            m.hedges.clone(),
        );
        m
    }

    /// The hedge counter of `source` in `service`.
    pub(crate) fn hedges(&self, service: &str, source: &str) -> Counter {
        self.hedges
            .get_or_create(&[
                ("service", service.to_owned()),
                ("source", source.to_owned()),
            ])
            .clone()
    }

    /// One source's handles, created once.
    pub(crate) fn handles(&self, source: &str) -> SourceHandles {
        SourceHandles {
            asks: STATES.map(|state| {
                self.asks
                    .get_or_create(&[("source", source.to_owned()), ("state", state.to_owned())])
                    .clone()
            }),
            seconds: self
                .seconds
                .get_or_create(&[("source", source.to_owned())])
                .clone(),
            hedges: None,
        }
    }
}

/// One source's series.
#[derive(Debug, Clone)]
pub(crate) struct SourceHandles {
    /// By state, in the order of [`STATES`].
    pub(crate) asks: [Counter; STATES.len()],
    pub(crate) seconds: Histogram,
    /// Set by `SourceList::with_hedging`, which knows the service.
    pub(crate) hedges: Option<Counter>,
}
