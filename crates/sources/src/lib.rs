//! Vendors as sources.
//!
//! A source is anything a service asks about a query and that may answer: a vendor
//! connector (synchronous or by callback), a store of earlier answers. Every source
//! implements [`Source`]: its name, what one call costs, whether asking twice is
//! harmless, and `ask(query, deadline)`, which always ends in an answer or not plus the
//! source's [`SourceStatus`] (a vendor failure is a status, never an RPC error).
//!
//! A service keeps its sources in a [`SourceList`] built from configuration, in priority
//! order ([`arrange`]: configured ranks, then the cheaper first), and asks them with its
//! configured [`Strategy`] (all at once, priority fallback, or fallback with a hedge after
//! the asked source's recent p95 latency); the list works for any number of sources. What every source needs comes with the list, not per
//! connector: each ask is bounded by the request's deadline, runs in a `source.ask` span
//! (vendor HTTP calls made inside carry its W3C trace context, see [`context`]; a failed
//! or timed-out ask marks the span as an error), and is counted in
//! `source_asks_total{source,state}` and timed in `source_ask_seconds{source}` (see
//! [`metrics`]); vendor calls, attempts and spend are counted by `connector` per call.
//!
//! How far a source's values are trusted is its own configuration (`confidence`), carried
//! in its answers: the flows do not need it, the merge does.

pub mod context;
mod disabled;
mod flow;
mod latency;
pub mod metrics;
mod order;
pub mod status;
mod vendor;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use contracts::axle::common::v1::{Money, Provenance, SourceStatus};

pub use context::SourceContext;
pub use disabled::Disabled;
pub use flow::{HedgeDelays, OVERRUN, SourceList, Strategy};
pub use order::{OrderError, arrange, check_policy};
pub use vendor::{money, price, provenance};

/// A boxed future, as a trait object's async method returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a source said for one query: its answer when it had one, and always its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked<A> {
    pub answer: Option<A>,
    pub status: SourceStatus,
}

impl<A> Asked<A> {
    pub fn answered(answer: A, status: SourceStatus) -> Self {
        Self {
            answer: Some(answer),
            status,
        }
    }

    /// No answer (failed, no record, pending, skipped): the status says which.
    pub fn nothing(status: SourceStatus) -> Self {
        Self {
            answer: None,
            status,
        }
    }

    /// A synchronous vendor call as an ask: on success the answer `make` builds from the
    /// value and its provenance (source, sandbox label, fetch time, cost), with an OK
    /// status carrying attempts, latency and cost; on failure no answer and the status
    /// the failure maps to (logged at the level it deserves).
    pub fn from_call<T>(
        source: &str,
        result: Result<connector::client::Outcome<T>, connector::client::CallFailure>,
        started: Instant,
        make: impl FnOnce(T, Provenance) -> A,
    ) -> Self {
        match result {
            Ok(outcome) => {
                let provenance = provenance(source, &outcome);
                let status = status::answered(source, &outcome);
                Self::answered(make(outcome.value, provenance), status)
            }
            Err(err) => {
                err.log(source, "vendor call");
                Self::nothing(status::from_failure(source, &err, started.elapsed()))
            }
        }
    }

    /// Answers and statuses of a flow's asks, each in priority order.
    pub fn split(asked: Vec<Self>) -> (Vec<A>, Vec<SourceStatus>) {
        let mut answers = Vec::with_capacity(asked.len());
        let mut statuses = Vec::with_capacity(asked.len());
        for a in asked {
            answers.extend(a.answer);
            statuses.push(a.status);
        }
        (answers, statuses)
    }
}

/// One source of answers to queries of type `Q`, answering with `A`.
///
/// Implementations do not time, trace or count their asks: [`SourceList`] does that the
/// same way for all of them.
pub trait Source<Q: ?Sized, A>: Send + Sync + fmt::Debug {
    /// The name in provenance, statuses, metrics and the merge configuration.
    fn name(&self) -> &str;

    /// What one billed call costs, when a price is configured.
    fn cost(&self) -> Option<Money> {
        None
    }

    /// Whether a second request for the same query is safe: a read that creates no job
    /// at the vendor, so a flow may hedge or repeat it. It may still be billed per call
    /// (see [`Source::cost`]): a flow that hedges weighs that too. An async submission
    /// that creates a paid job is not repeatable.
    fn repeatable(&self) -> bool;

    /// Asks the source, within `deadline`.
    fn ask<'a>(&'a self, query: &'a Q, deadline: Option<Instant>) -> BoxFuture<'a, Asked<A>>;

    /// An answer available without a new charge (stored from an earlier paid call), for
    /// flows that decide not to ask this source. `None`: nothing stored, or no store.
    fn stored<'a>(&'a self, _query: &'a Q) -> BoxFuture<'a, Option<Asked<A>>> {
        Box::pin(async { None })
    }
}
