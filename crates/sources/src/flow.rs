//! Asking a service's sources: all at once, or in priority order until one answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::common::v1::SourceState;
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::context::SourceContext;
use crate::metrics::{STATES, SourceHandles};
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

/// How long past the caller's deadline a source may still answer before the flow cuts it
/// off. Sources bound their own work by the deadline (and an async vendor reports
/// PENDING at it); the margin lets that answer win the race with the cut. Services' own
/// deadlines keep a reserve below the caller's (`kit::deadline::with_reserve`), so the
/// response still goes out in time.
pub const OVERRUN: Duration = Duration::from_millis(20);

/// A service's sources in priority order, with the strategy that asks them.
pub struct SourceList<Q: ?Sized, A> {
    sources: Vec<(Arc<dyn Source<Q, A>>, SourceHandles)>,
    strategy: Strategy,
}

impl<Q: ?Sized, A> std::fmt::Debug for SourceList<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceList")
            .field(
                "sources",
                &self
                    .sources
                    .iter()
                    .map(|(s, _)| s.name())
                    .collect::<Vec<_>>(),
            )
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl<Q: ?Sized + Sync, A: Send> SourceList<Q, A> {
    pub fn new(
        sources: Vec<Arc<dyn Source<Q, A>>>,
        strategy: Strategy,
        ctx: &SourceContext,
    ) -> Self {
        let sources = sources
            .into_iter()
            .map(|s| {
                let handles = ctx.metrics.handles(s.name());
                (s, handles)
            })
            .collect();
        Self { sources, strategy }
    }

    /// Asks per the strategy; one [`Asked`] per source, in priority order, whatever
    /// happened to it. No source's answer is awaited past `deadline` (plus [`OVERRUN`]):
    /// a source still running then is reported TIMEOUT.
    pub async fn ask(&self, query: &Q, deadline: Option<Instant>) -> Vec<Asked<A>> {
        match self.strategy {
            Strategy::Parallel => {
                join_all(
                    self.sources
                        .iter()
                        .map(|(s, h)| ask_one(s.as_ref(), h, query, deadline)),
                )
                .await
            }
            Strategy::Fallback => {
                let mut out = Vec::with_capacity(self.sources.len());
                let mut rest = self.sources.iter();
                for (s, h) in rest.by_ref() {
                    let asked = ask_one(s.as_ref(), h, query, deadline).await;
                    let answered = asked.answer.is_some();
                    out.push(asked);
                    if answered {
                        break;
                    }
                }
                // Not asked (that would be paid), but an answer one has stored costs
                // nothing: looked up together, within the same deadline.
                out.extend(
                    join_all(rest.map(|(s, h)| not_needed(s.as_ref(), h, query, deadline))).await,
                );
                out
            }
        }
    }
}

/// One ask, bounded, traced, timed and counted the same way for every source.
async fn ask_one<Q: ?Sized, A>(
    source: &dyn Source<Q, A>,
    handles: &SourceHandles,
    query: &Q,
    deadline: Option<Instant>,
) -> Asked<A> {
    let span = span(source.name(), "ask");
    let started = Instant::now();
    let asked = bounded(source.name(), deadline, source.ask(query, deadline))
        .instrument(span.clone())
        .await;
    finish(asked, &span, handles, started)
}

/// A source the fallback did not need: its stored answer if it has one (free), else
/// SKIPPED.
async fn not_needed<Q: ?Sized, A>(
    source: &dyn Source<Q, A>,
    handles: &SourceHandles,
    query: &Q,
    deadline: Option<Instant>,
) -> Asked<A> {
    let span = span(source.name(), "stored");
    let started = Instant::now();
    let stored = async {
        source.stored(query).await.unwrap_or_else(|| {
            Asked::nothing(status::skipped(
                source.name(),
                "not needed: a higher-priority source answered (fallback strategy)",
            ))
        })
    };
    let asked = bounded(source.name(), deadline, stored)
        .instrument(span.clone())
        .await;
    finish(asked, &span, handles, started)
}

fn span(source: &str, kind: &'static str) -> tracing::Span {
    tracing::info_span!(
        "source.ask",
        otel.name = format!("source.ask {source}"),
        source,
        kind,
        state = tracing::field::Empty,
        "otel.status_code" = tracing::field::Empty,
    )
}

/// `fut`, or TIMEOUT once `deadline` + [`OVERRUN`] has passed.
async fn bounded<A>(
    source: &str,
    deadline: Option<Instant>,
    fut: impl std::future::Future<Output = Asked<A>>,
) -> Asked<A> {
    let Some(deadline) = deadline else {
        return fut.await;
    };
    match tokio::time::timeout_at((deadline + OVERRUN).into(), fut).await {
        Ok(asked) => asked,
        Err(_) => {
            tracing::warn!(source, "source overran the request's deadline: cut off");
            Asked::nothing(status::timed_out(source))
        }
    }
}

/// Latency, span state and metrics of a finished ask.
fn finish<A>(
    mut asked: Asked<A>,
    span: &tracing::Span,
    handles: &SourceHandles,
    started: Instant,
) -> Asked<A> {
    let took = started.elapsed();
    let state = SourceState::try_from(asked.status.state).unwrap_or(SourceState::Unspecified);
    // A source that was not called (disabled, not needed, over budget) took no time
    // worth reporting.
    let called = !matches!(state, SourceState::Skipped | SourceState::SkippedByBudget);
    if asked.status.latency.is_none() && called {
        asked.status = status::with_latency(asked.status, took);
    }
    let i = state_index(state);
    span.record("state", STATES[i]);
    if matches!(state, SourceState::Failed | SourceState::Timeout) {
        span.record("otel.status_code", "ERROR");
    }
    handles.asks[i].inc();
    if called {
        handles.seconds.observe(took.as_secs_f64());
    }
    asked
}

fn state_index(state: SourceState) -> usize {
    match state {
        SourceState::Ok => 0,
        SourceState::NotFound => 1,
        SourceState::Failed => 2,
        SourceState::Timeout => 3,
        SourceState::Skipped => 4,
        SourceState::Pending => 5,
        SourceState::Unspecified => 6,
        SourceState::SkippedByBudget => 7,
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

#[cfg(test)]
mod tests;
