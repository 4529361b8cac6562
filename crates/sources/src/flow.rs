//! Asking a service's sources: all at once, or in priority order until one answers.

use std::sync::Arc;
use std::time::Instant;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::context::SourceContext;
use crate::{Asked, Source, status};

/// How a service's sources are asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// All at once: the fastest complete answer; every source is billed.
    #[default]
    Parallel,
    /// In priority order, the next only when none before it answered (vendors cost
    /// money). A source not asked still contributes an answer it has stored for free.
    Fallback,
}

/// A service's sources in priority order, with the strategy that asks them.
pub struct SourceList<Q: ?Sized, A> {
    sources: Vec<Arc<dyn Source<Q, A>>>,
    strategy: Strategy,
    ctx: SourceContext,
}

impl<Q: ?Sized, A> std::fmt::Debug for SourceList<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceList")
            .field("sources", &self.sources)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

impl<Q: ?Sized + Sync, A: Send> SourceList<Q, A> {
    pub fn new(
        sources: Vec<Arc<dyn Source<Q, A>>>,
        strategy: Strategy,
        ctx: SourceContext,
    ) -> Self {
        Self {
            sources,
            strategy,
            ctx,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The sources, highest priority first.
    pub fn sources(&self) -> &[Arc<dyn Source<Q, A>>] {
        &self.sources
    }

    /// The source called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Source<Q, A>>> {
        self.sources.iter().find(|s| s.name() == name)
    }

    /// Asks per the strategy; one [`Asked`] per source, in priority order, whatever
    /// happened to it.
    pub async fn ask(&self, query: &Q, deadline: Option<Instant>) -> Vec<Asked<A>> {
        match self.strategy {
            Strategy::Parallel => {
                let asks = self
                    .sources
                    .iter()
                    .map(|s| self.ask_one(s.as_ref(), query, deadline));
                join_all(asks).await
            }
            Strategy::Fallback => {
                let mut out = Vec::with_capacity(self.sources.len());
                let mut answered = false;
                for s in &self.sources {
                    if answered {
                        out.push(self.not_needed(s.as_ref(), query).await);
                    } else {
                        let asked = self.ask_one(s.as_ref(), query, deadline).await;
                        answered = asked.answer.is_some();
                        out.push(asked);
                    }
                }
                out
            }
        }
    }

    /// One ask, traced, timed and counted the same way for every source.
    async fn ask_one(
        &self,
        source: &dyn Source<Q, A>,
        query: &Q,
        deadline: Option<Instant>,
    ) -> Asked<A> {
        let span = tracing::info_span!(
            "source.ask",
            source = source.name(),
            state = tracing::field::Empty
        );
        let started = Instant::now();
        let mut asked = source.ask(query, deadline).instrument(span.clone()).await;
        // A source that was not called (disabled) took no time worth reporting.
        if asked.status.latency.is_none() && asked.status.state != SourceState::Skipped as i32 {
            asked.status = status::with_latency(asked.status, started.elapsed());
        }
        let state = state_label(&asked.status);
        span.record("state", state);
        self.ctx
            .asks
            .get_or_create(&[
                ("source", source.name().to_owned()),
                ("state", state.to_owned()),
            ])
            .inc();
        asked
    }

    /// A source the fallback did not need: its stored answer if it has one (free), else
    /// SKIPPED.
    async fn not_needed(&self, source: &dyn Source<Q, A>, query: &Q) -> Asked<A> {
        if let Some(stored) = source.stored(query).await {
            return stored;
        }
        Asked::nothing(status::skipped(
            source.name(),
            "not needed: a higher-priority source answered (fallback strategy)",
        ))
    }
}

fn state_label(s: &SourceStatus) -> &'static str {
    match SourceState::try_from(s.state).unwrap_or(SourceState::Unspecified) {
        SourceState::Ok => "ok",
        SourceState::NotFound => "not_found",
        SourceState::Failed => "failed",
        SourceState::Timeout => "timeout",
        SourceState::Skipped => "skipped",
        SourceState::Pending => "pending",
        SourceState::Unspecified => "unspecified",
    }
}

/// Runs the futures concurrently, results in input order (a few sources: no need for a
/// dependency).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A configured source that is switched off: always SKIPPED, so a response still lists
/// it and says why.
#[derive(Debug)]
pub struct Disabled {
    name: String,
}

impl Disabled {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }
}

impl<Q: ?Sized + Sync, A> Source<Q, A> for Disabled {
    fn name(&self) -> &str {
        &self.name
    }

    fn repeatable(&self) -> bool {
        true
    }

    fn confidence(&self) -> f32 {
        0.0
    }

    fn ask<'a>(&'a self, _: &'a Q, _: Option<Instant>) -> crate::BoxFuture<'a, Asked<A>> {
        let why = format!(
            "{} is disabled in this deployment's configuration",
            self.name
        );
        Box::pin(async move { Asked::nothing(status::skipped(&self.name, &why)) })
    }
}

#[cfg(test)]
mod tests;

/// Puts `sources` (as a service's registry built them) in the configured priority
/// `order`; sources the order does not name follow, in registry order, so a new vendor
/// works before anyone ranks it. A name in `order` that no source has is an error naming
/// the known ones (a typo must not silently drop a vendor).
pub fn arrange<Q: ?Sized, A>(
    sources: Vec<Arc<dyn Source<Q, A>>>,
    order: &[String],
) -> Result<Vec<Arc<dyn Source<Q, A>>>, String> {
    let known: Vec<String> = sources.iter().map(|s| s.name().to_owned()).collect();
    for (i, name) in order.iter().enumerate() {
        if !known.contains(name) {
            return Err(format!(
                "unknown source {name:?} in the configured order (known: {})",
                known.join(", ")
            ));
        }
        if order[..i].contains(name) {
            return Err(format!(
                "source {name:?} is listed twice in the configured order"
            ));
        }
    }
    let mut sources = sources;
    // Stable: unnamed sources keep their registry order after the named ones.
    sources.sort_by_key(|s| {
        order
            .iter()
            .position(|o| o == s.name())
            .unwrap_or(order.len())
    });
    Ok(sources)
}
