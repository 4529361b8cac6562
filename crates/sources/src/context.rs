//! What every source of a process shares, built once from the process's metrics: the
//! vendor HTTP clients' context (vendor metrics, W3C trace context on every request) and
//! the per-source ask counter.
//!
//! Connectors build their `VendorClient` from [`SourceContext::client`], so trace
//! propagation and vendor metrics come with being a source: there is no per-connector
//! switch to forget.

use std::sync::Arc;

use connector::client::ClientContext;
use connector::metrics::VendorMetrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `source_asks_total{source, state}`: how each source's asks ended.
pub(crate) type AskCounter = Family<[(&'static str, String); 2], Counter>;

#[derive(Debug, Clone)]
pub struct SourceContext {
    client: ClientContext,
    pub(crate) asks: AskCounter,
}

impl SourceContext {
    /// The context of a process whose metrics are `metrics` (families registered once
    /// however many services share the process).
    pub fn new(metrics: &kit::metrics::Metrics) -> Self {
        let vendor = metrics.shared(VendorMetrics::register);
        let asks = metrics.shared(register_asks);
        Self {
            client: ClientContext::new(vendor, Some(Arc::new(kit::telemetry::inject_current))),
            asks,
        }
    }

    /// A context whose metrics go nowhere (unit tests, tools); trace context still flows.
    pub fn detached() -> Self {
        Self {
            client: ClientContext::new(
                VendorMetrics::noop(),
                Some(Arc::new(kit::telemetry::inject_current)),
            ),
            asks: AskCounter::default(),
        }
    }

    /// The HTTP client context every connector of this process builds its client with.
    pub fn client(&self) -> &ClientContext {
        &self.client
    }
}

fn register_asks(registry: &mut Registry) -> AskCounter {
    let asks = AskCounter::default();
    registry.register(
        "source_asks",
        "Asks of each source (vendor, callback store) by outcome state: ok, not_found, failed, timeout, skipped, pending",
        asks.clone(),
    );
    asks
}
