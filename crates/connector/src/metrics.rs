//! Per-vendor Prometheus metrics: calls by outcome, attempts, latency, money spent.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels2 = [(&'static str, String); 2];
type Labels3 = [(&'static str, String); 3];

/// Cheap to clone; all clones update the same series.
#[derive(Debug, Clone)]
pub struct VendorMetrics {
    calls: Family<Labels3, Counter>,
    attempts: Family<Labels2, Counter>,
    retries: Family<Labels2, Counter>,
    duration: Family<Labels2, Histogram>,
    spend: Family<Labels2, Counter<f64, AtomicU64>>,
    errors: Family<Labels2, Counter>,
}

impl VendorMetrics {
    /// Registers the families in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::unregistered();
        registry.register(
            "vendor_calls",
            "Vendor calls by final outcome (ok, not_found, vendor_error, timeout, rate_limited, unavailable, transport_error, malformed, deadline_exceeded, rejected)",
            m.calls.clone(),
        );
        registry.register(
            "vendor_attempts",
            "HTTP attempts made to vendors, retries included",
            m.attempts.clone(),
        );
        registry.register(
            "vendor_retries",
            "Retries made to vendors after a retryable failure",
            m.retries.clone(),
        );
        registry.register(
            "vendor_call_duration_seconds",
            "Duration of vendor calls, retries and backoff included",
            m.duration.clone(),
        );
        registry.register(
            "vendor_spend",
            "Money spent on billable vendor calls, in the currency of the label",
            m.spend.clone(),
        );
        registry.register(
            "vendor_errors",
            "Vendor answers that were an error code, by what the code means (kind: invalid_request, quota_exhausted, permission_missing, account_problem ... need the operator)",
            m.errors.clone(),
        );
        m
    }

    /// Metrics that go nowhere (tests, tools).
    pub fn noop() -> Self {
        Self::unregistered()
    }

    fn unregistered() -> Self {
        Self {
            calls: Family::default(),
            attempts: Family::default(),
            retries: Family::default(),
            // 1 ms .. ~32 s: vendors are slow and we want their tail.
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 16))
            }),
            spend: Family::default(),
            errors: Family::default(),
        }
    }

    pub(crate) fn record_call(
        &self,
        vendor: &str,
        operation: &str,
        outcome: &str,
        attempts: u32,
        seconds: f64,
    ) {
        let vo = [
            ("vendor", vendor.to_owned()),
            ("operation", operation.to_owned()),
        ];
        self.calls
            .get_or_create(&[
                ("vendor", vendor.to_owned()),
                ("operation", operation.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.attempts.get_or_create(&vo).inc_by(u64::from(attempts));
        if attempts > 1 {
            self.retries
                .get_or_create(&vo)
                .inc_by(u64::from(attempts - 1));
        }
        self.duration.get_or_create(&vo).observe(seconds);
    }

    pub(crate) fn record_vendor_error(&self, vendor: &str, kind: crate::VendorErrorKind) {
        self.errors
            .get_or_create(&[
                ("vendor", vendor.to_owned()),
                ("kind", kind.label().to_owned()),
            ])
            .inc();
    }

    pub(crate) fn record_spend(&self, vendor: &str, currency: &str, amount: f64) {
        self.spend
            .get_or_create(&[
                ("vendor", vendor.to_owned()),
                ("currency", currency.to_owned()),
            ])
            .inc_by(amount);
    }
}
