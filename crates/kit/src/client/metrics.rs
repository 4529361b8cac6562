//! The client side's metrics: the breaker's state and refusals, and retries.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::breaker::BreakerState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Service {
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Retry {
    service: String,
    /// `granted` (made), `denied` (the budget was spent) or `transparent` (made outside
    /// the budget: the service refused the call unprocessed while stopping).
    outcome: &'static str,
}

/// What became of one retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryOutcome {
    Granted,
    Denied,
    Transparent,
}

impl RetryOutcome {
    pub(crate) fn of(granted: bool) -> Self {
        if granted { Self::Granted } else { Self::Denied }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Transparent => "transparent",
        }
    }
}

/// The families, registered once per process.
#[derive(Clone, Default)]
pub(crate) struct ClientMetrics {
    state: Family<Service, Gauge>,
    rejected: Family<Service, Counter>,
    retries: Family<Retry, Counter>,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetrics").finish_non_exhaustive()
    }
}

impl ClientMetrics {
    pub(crate) fn get(metrics: &crate::metrics::Metrics) -> Self {
        metrics.shared(|r| {
            let m = Self::default();
            r.register(
                "client_breaker_state",
                "Circuit breaker of each downstream Axle service: 0 closed, 1 open, 2 half-open",
                m.state.clone(),
            );
            r.register(
                "client_breaker_rejected",
                "Calls not made because the service's circuit breaker was open",
                m.rejected.clone(),
            );
            r.register(
                "client_retries",
                "Retries: of calls safe to repeat, granted or denied by the retry budget; \
                 transparent, of calls a stopping service refused before running them",
                m.retries.clone(),
            );
            m
        })
    }

    /// The service's series, at zero until something happens: a counter that appears
    /// only with its first event makes `rate()` blind to that event, and panels and
    /// alerts on it empty until then.
    pub(crate) fn known(&self, service: &str) {
        self.state(service, BreakerState::Closed);
        let _ = self.rejected.get_or_create(&Service {
            service: service.to_owned(),
        });
        for outcome in [
            RetryOutcome::Granted,
            RetryOutcome::Denied,
            RetryOutcome::Transparent,
        ] {
            let _ = self.retries.get_or_create(&Retry {
                service: service.to_owned(),
                outcome: outcome.label(),
            });
        }
    }

    pub(crate) fn state(&self, service: &str, state: BreakerState) {
        self.state
            .get_or_create(&Service {
                service: service.to_owned(),
            })
            .set(state.gauge());
    }

    pub(crate) fn rejected(&self, service: &str) {
        self.rejected
            .get_or_create(&Service {
                service: service.to_owned(),
            })
            .inc();
    }

    pub(crate) fn retry(&self, service: &str, outcome: RetryOutcome) {
        self.retries
            .get_or_create(&Retry {
                service: service.to_owned(),
                outcome: outcome.label(),
            })
            .inc();
    }
}
