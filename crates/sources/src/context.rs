//! What every source of a process shares, built once from the process's metrics: the
//! vendor HTTP clients' context (vendor metrics, W3C trace context on every request) and
//! the per-source metrics.
//!
//! Connectors build their `VendorClient` from [`SourceContext::client`], so trace
//! propagation and vendor metrics come with being a source: there is no per-connector
//! switch to forget.

use std::sync::Arc;

use connector::client::ClientContext;
use connector::metrics::VendorMetrics;

use crate::metrics::SourceMetrics;

#[derive(Debug, Clone)]
pub struct SourceContext {
    client: ClientContext,
    pub(crate) metrics: SourceMetrics,
}

impl SourceContext {
    /// The context of a process whose metrics are `metrics` (families registered once
    /// however many services share the process).
    pub fn new(metrics: &kit::metrics::Metrics) -> Self {
        let vendor = metrics.shared(VendorMetrics::register);
        Self {
            client: ClientContext::new(vendor, Some(Arc::new(kit::telemetry::inject_current))),
            metrics: metrics.shared(SourceMetrics::register),
        }
    }

    /// A context whose metrics go nowhere (unit tests, tools); trace context still flows.
    pub fn detached() -> Self {
        Self {
            client: ClientContext::new(
                VendorMetrics::noop(),
                Some(Arc::new(kit::telemetry::inject_current)),
            ),
            metrics: SourceMetrics::default(),
        }
    }

    /// Tells the vendor clients built from now on when the process begins to stop (see
    /// `connector::client::ClientContext::stopping_on`).
    #[must_use]
    pub fn stopping_on(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.client = self.client.stopping_on(stopping);
        self
    }

    /// The HTTP client context every connector of this process builds its client with.
    pub fn client(&self) -> &ClientContext {
        &self.client
    }
}
