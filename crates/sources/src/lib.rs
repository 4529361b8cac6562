//! Vendors as sources.
//!
//! A source is anything a service asks about a query and that may answer: a vendor
//! connector (synchronous or by callback), a store of earlier answers. Every source
//! implements [`Source`]: its name, what one call costs, whether asking twice is
//! harmless, and `ask(query, deadline)`, which always ends in an answer or not plus the
//! source's [`SourceStatus`] (a vendor failure is a status, never an RPC error).
//!
//! A service keeps its sources in a [`SourceList`] built from configuration, in priority
//! order, and asks them with its configured [`Strategy`]; the list works for any number of
//! sources. What every source needs comes with the list, not per connector: each ask runs
//! in a `source.ask` span (vendor HTTP calls made inside carry its W3C trace context, see
//! [`context`]), is timed, and is counted in `source_asks_total{source,state}`;
//! vendor calls, attempts and spend are counted by `connector` per call.

pub mod context;
mod flow;
pub mod status;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Instant, SystemTime};

use contracts::axle::common::v1::{Money, Provenance, SourceStatus};

pub use context::SourceContext;
pub use flow::{Disabled, SourceList, Strategy, arrange};

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

    /// Whether asking twice for the same query is harmless (a read, not a paid job), so
    /// a flow may hedge or repeat it.
    fn repeatable(&self) -> bool;

    /// How far this source's values are trusted, from its configuration (`[0, 1]`); a
    /// vendor that states a confidence per answer may use that instead.
    fn confidence(&self) -> f32;

    /// Asks the source, within `deadline`.
    fn ask<'a>(&'a self, query: &'a Q, deadline: Option<Instant>) -> BoxFuture<'a, Asked<A>>;

    /// An answer available without a new charge (stored from an earlier paid call), for
    /// flows that decide not to ask this source. `None`: nothing stored, or no store.
    fn stored<'a>(&'a self, _query: &'a Q) -> BoxFuture<'a, Option<Asked<A>>> {
        Box::pin(async { None })
    }
}

/// `axle.common.v1.Money` for what a vendor call cost.
pub fn money(cost: &connector::client::Cost) -> Money {
    facts::money::from_decimal(&cost.currency, cost.amount)
}

/// The configured price of one billed call of a vendor, for `Source::cost`.
pub fn price(http: &connector::config::HttpClientConfig) -> Option<Money> {
    http.cost_per_call
        .as_ref()
        .map(|c| facts::money::from_decimal(&c.currency, c.amount))
}

/// The provenance of a vendor's answer fetched now: source, sandbox label, cost.
pub fn provenance<T>(source: &str, outcome: &connector::client::Outcome<T>) -> Provenance {
    Provenance {
        source: source.to_owned(),
        sandbox: outcome.sandbox,
        fetched_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        cost: outcome.cost.as_ref().map(money),
        ..Provenance::default()
    }
}
