//! Asking a service's sources: all at once, in priority order until one answers, or in
//! priority order with a hedge when the source asked is slow.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::common::v1::SourceState;
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::context::SourceContext;
use crate::latency::Latencies;
use crate::metrics::{STATES, SourceHandles, SourceMetrics};
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
    /// Like `fallback`, but when the source asked has not answered after about its own
    /// recent p95 latency (see [`HedgeDelays`]), a second request goes out: to the next
    /// source when it may be asked twice, else to the same source again. The first
    /// answer wins and the other request is dropped (its status: SKIPPED, reason
    /// `SOURCE_CANCELLED_HEDGE`). At most one hedge per ask, so a hedged flow costs at
    /// most one extra call, and in steady state about 5 % more calls. Sources that are not
    /// [`repeatable`](crate::Source::repeatable) (async paid submissions) are never sent
    /// a hedge, never hedged and never cancelled: they are asked as by `fallback`.
    Hedged,
}

/// Bounds of the hedge delay: the hedged flow waits for the asked source's recent p95
/// latency clamped to `[min, max]`, and `max` while the source has too few recent
/// samples for a p95 (a fresh process pays latency rather than extra vendor calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgeDelays {
    pub min: Duration,
    pub max: Duration,
}

impl Default for HedgeDelays {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(50),
            max: Duration::from_secs(1),
        }
    }
}

impl HedgeDelays {
    /// What is wrong with these bounds, for a configuration's problems list.
    pub fn problem(&self) -> Option<String> {
        if self.min.is_zero() {
            Some(
                "must be above zero: a zero delay hedges every call (twice the vendor bill)"
                    .to_owned(),
            )
        } else if self.min > self.max {
            Some(format!(
                "hedge_delay_min ({:?}) is above hedge_delay_max ({:?})",
                self.min, self.max
            ))
        } else {
            None
        }
    }

    fn delay(&self, p95: Option<Duration>) -> Duration {
        p95.map_or(self.max, |p| p.clamp(self.min, self.max))
    }
}

/// How long past the caller's deadline a source may still answer before the flow cuts it
/// off. Sources bound their own work by the deadline (and an async vendor reports
/// PENDING at it); the margin lets that answer win the race with the cut. Services' own
/// deadlines keep a reserve below the caller's (`kit::deadline::with_reserve`), so the
/// response still goes out in time.
pub const OVERRUN: Duration = Duration::from_millis(20);

/// A service's sources in priority order, with the strategy that asks them.
pub struct SourceList<Q: ?Sized, A> {
    sources: Vec<Entry<Q, A>>,
    strategy: Strategy,
    hedge: HedgeDelays,
    metrics: SourceMetrics,
}

struct Entry<Q: ?Sized, A> {
    source: Arc<dyn Source<Q, A>>,
    handles: SourceHandles,
    latencies: Latencies,
}

impl<Q: ?Sized, A> std::fmt::Debug for SourceList<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceList")
            .field(
                "sources",
                &self
                    .sources
                    .iter()
                    .map(|e| e.source.name())
                    .collect::<Vec<_>>(),
            )
            .field("strategy", &self.strategy)
            .field("hedge", &self.hedge)
            .finish_non_exhaustive()
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
            .map(|source| Entry {
                handles: ctx.metrics.handles(source.name()),
                source,
                latencies: Latencies::default(),
            })
            .collect();
        Self {
            sources,
            strategy,
            hedge: HedgeDelays::default(),
            metrics: ctx.metrics.clone(),
        }
    }

    /// The hedged flow's delay bounds, and the service whose hedges
    /// `source_hedges_total{service,source}` counts (services of one process share it).
    #[must_use]
    pub fn with_hedging(mut self, service: &str, delays: HedgeDelays) -> Self {
        self.hedge = delays;
        for e in &mut self.sources {
            e.handles.hedges = Some(self.metrics.hedges(service, e.source.name()));
        }
        self
    }

    /// Asks per the strategy; one [`Asked`] per source, in priority order, whatever
    /// happened to it. No source's answer is awaited past `deadline` (plus [`OVERRUN`]):
    /// a source still running then is reported TIMEOUT.
    pub async fn ask(&self, query: &Q, deadline: Option<Instant>) -> Vec<Asked<A>> {
        match self.strategy {
            Strategy::Parallel => {
                join_all(self.sources.iter().map(|e| ask_one(e, query, deadline))).await
            }
            Strategy::Fallback => {
                let mut out = Vec::with_capacity(self.sources.len());
                let mut rest = self.sources.iter();
                for e in rest.by_ref() {
                    let asked = ask_one(e, query, deadline).await;
                    let answered = asked.answer.is_some();
                    out.push(asked);
                    if answered {
                        break;
                    }
                }
                // Not asked (that would be paid), but an answer one has stored costs
                // nothing: looked up together, within the same deadline.
                out.extend(join_all(rest.map(|e| not_needed(e, query, deadline))).await);
                out
            }
            Strategy::Hedged => self.ask_hedged(query, deadline).await,
        }
    }

    /// The fallback with one hedge: see [`Strategy::Hedged`].
    async fn ask_hedged(&self, query: &Q, deadline: Option<Instant>) -> Vec<Asked<A>> {
        let count = self.sources.len();
        let mut out: Vec<Option<Asked<A>>> = std::iter::repeat_with(|| None).take(count).collect();
        let mut next = 0;
        let mut hedged = false;
        let mut answered = false;
        while next < count && !answered {
            let at = next;
            next += 1;
            let first = &self.sources[at];
            if hedged || !first.source.repeatable() {
                let asked = ask_one(first, query, deadline).await;
                answered = asked.answer.is_some();
                out[at] = Some(asked);
                continue;
            }
            // The hedge goes to the next source when that one may be asked twice (it may
            // be dropped), else to the same source again: a second request to a vendor is
            // likely to meet a faster path than the one stuck in its tail.
            let target = match self.sources.get(next) {
                Some(entry) if entry.source.repeatable() => next,
                _ => at,
            };
            let delay = self.hedge.delay(first.latencies.p95());
            let span_a = span(first.source.name(), "ask");
            let started_a = tokio::time::Instant::now();
            let mut ask_first = pin!(ask_in(first, &span_a, query, deadline));
            let early = tokio::select! {
                biased;
                asked = &mut ask_first => Some(asked),
                () = tokio::time::sleep(delay) => None,
            };
            if let Some(asked) = early {
                answered = asked.answer.is_some();
                out[at] = Some(asked);
                continue;
            }

            hedged = true;
            if let Some(hedges) = &first.handles.hedges {
                hedges.inc();
            }
            span_a.record("hedged", true);
            let second = &self.sources[target];
            tracing::debug!(
                source = first.source.name(),
                hedge = second.source.name(),
                ?delay,
                "no answer within the hedge delay: hedging"
            );
            let span_b = span(second.source.name(), "hedge");
            span_b.record("hedged", true);
            let started_b = tokio::time::Instant::now();
            let mut ask_hedge = pin!(ask_in(second, &span_b, query, deadline));
            if target == next {
                next += 1;
            }
            let (mut got_first, mut got_hedge) = (None::<Asked<A>>, None::<Asked<A>>);
            let has = |r: &Option<Asked<A>>| r.as_ref().is_some_and(|a| a.answer.is_some());
            // The same source asked twice: its "no record" settles the ask as its answer
            // would (the other request would say the same, only later). From another
            // source it does not: the first may still know the vehicle.
            let settles = |r: &Option<Asked<A>>| {
                has(r)
                    || (target == at
                        && r.as_ref()
                            .is_some_and(|a| a.status.state == SourceState::NotFound as i32))
            };
            // Until one settles it, or both have ended without an answer.
            while !(settles(&got_first)
                || settles(&got_hedge)
                || (got_first.is_some() && got_hedge.is_some()))
            {
                tokio::select! {
                    asked = &mut ask_first, if got_first.is_none() => got_first = Some(asked),
                    asked = &mut ask_hedge, if got_hedge.is_none() => got_hedge = Some(asked),
                }
            }
            answered = has(&got_first) || has(&got_hedge);
            // The request still running lost: dropped here (its HTTP call with it).
            let cancel = |loser: &Entry<Q, A>,
                          span: &tracing::Span,
                          started: tokio::time::Instant,
                          winner: &str| {
                // A lower bound of what the loser would have taken: keeps a slow source's
                // tail in its estimate, so that hedging does not make its own p95 look
                // better than it is.
                let took = started.elapsed();
                loser.latencies.record(took);
                let asked = finish(
                    Asked::nothing(status::cancelled_by_hedge(
                        loser.source.name(),
                        winner,
                        took,
                    )),
                    span,
                    &loser.handles,
                    Instant::now(),
                );
                span.record("state", "cancelled");
                asked
            };
            if target == at {
                // One source, two requests: its status is the winner's; the other request
                // is only seen in its span and the latency estimate.
                for (got, span, started) in [
                    (&got_first, &span_a, started_a),
                    (&got_hedge, &span_b, started_b),
                ] {
                    if got.is_none() {
                        first.latencies.record(started.elapsed());
                        span.record("state", "cancelled");
                    }
                }
                out[at] = match (got_first, got_hedge) {
                    (Some(ended), _) | (_, Some(ended)) if ended.answer.is_some() => Some(ended),
                    (got_first, got_hedge) => got_first.or(got_hedge),
                };
            } else {
                // The loop ended with an answer unless both ended: a request still running
                // is the loser.
                out[at] =
                    Some(got_first.unwrap_or_else(|| {
                        cancel(first, &span_a, started_a, second.source.name())
                    }));
                out[target] =
                    Some(got_hedge.unwrap_or_else(|| {
                        cancel(second, &span_b, started_b, first.source.name())
                    }));
            }
        }
        let rest = join_all(
            self.sources[next..]
                .iter()
                .map(|e| not_needed(e, query, deadline)),
        )
        .await;
        out.into_iter().flatten().chain(rest).collect()
    }
}

/// One ask, bounded, traced, timed and counted the same way for every source.
async fn ask_one<Q: ?Sized, A>(
    entry: &Entry<Q, A>,
    query: &Q,
    deadline: Option<Instant>,
) -> Asked<A> {
    let span = span(entry.source.name(), "ask");
    ask_in(entry, &span, query, deadline).await
}

async fn ask_in<Q: ?Sized, A>(
    entry: &Entry<Q, A>,
    span: &tracing::Span,
    query: &Q,
    deadline: Option<Instant>,
) -> Asked<A> {
    let source = entry.source.as_ref();
    let started = Instant::now();
    // Tokio's clock, so that the estimate follows paused time in tests.
    let clock = tokio::time::Instant::now();
    let asked = bounded(source.name(), deadline, source.ask(query, deadline))
        .instrument(span.clone())
        .await;
    entry.latencies.record(clock.elapsed());
    finish(asked, span, &entry.handles, started)
}

/// A source the fallback did not need: its stored answer if it has one (free), else
/// SKIPPED.
async fn not_needed<Q: ?Sized, A>(
    entry: &Entry<Q, A>,
    query: &Q,
    deadline: Option<Instant>,
) -> Asked<A> {
    let (source, handles) = (entry.source.as_ref(), &entry.handles);
    let span = span(source.name(), "stored");
    let started = Instant::now();
    let stored = async {
        source.stored(query).await.unwrap_or_else(|| {
            Asked::nothing(status::skipped(
                source.name(),
                "not needed: a higher-priority source answered (fallback or hedged strategy)",
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
        hedged = tracing::field::Empty,
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
