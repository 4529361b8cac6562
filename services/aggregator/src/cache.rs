//! Answers kept in-process (moka), one entry per downstream RPC and request message,
//! with a time to live per field class, and one call per key for concurrent identical
//! queries (coalescing): N requests for the same VIN at once make one vendor call.
//!
//! * Only whole answers are kept: the service answered and each of its vendors answered
//!   or said "no record". A failed, late or pending vendor is not remembered (the next
//!   query asks again), but concurrent callers share that one outcome.
//! * "No record" everywhere is kept only briefly (`negative_ttl`): a vehicle just
//!   registered should not stay unknown for hours.
//! * An answer served from here (or shared from another request's call) costs this
//!   request nothing: its statuses say `from_cache` with the answer's age, so it is no
//!   paid call.
//! * With `cache.redis` configured, a local miss asks the Redis shared by the replicas
//!   ([`crate::shared`]) before calling, and whole answers are written there too.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::CacheConfig;
use crate::outcome::{Answer, Done};
use crate::plan::Step;
use crate::shared::{SharedCache, SharedCacheError};
use crate::table;
use contracts::axle::common::v1::{SourceState, SourceStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    step: Step,
    /// The request message, encoded: identical queries are identical bytes.
    request: Vec<u8>,
}

#[derive(Debug)]
struct Entry {
    done: Done,
    stored_at: Instant,
    ttl: Duration,
}

impl Entry {
    /// The kept answer as served now: marked as from the cache, with its age and what
    /// is left of its time.
    fn served(&self) -> Done {
        let age = self.stored_at.elapsed();
        from_cache(&self.done, age, Some(self.ttl.saturating_sub(age)))
    }
}

/// Per-entry TTL: the entry's own.
struct EntryTtl;

impl moka::Expiry<Key, Arc<Entry>> for EntryTtl {
    fn expire_after_create(
        &self,
        _key: &Key,
        value: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    rpc: &'static str,
    /// `hit` (kept answer), `remote` (kept in the Redis shared by the replicas), `miss`
    /// (asked), `shared` (joined an identical call in flight).
    outcome: &'static str,
}

/// `aggregator_cache_lookups_total{rpc,outcome}`.
#[derive(Clone, Default)]
struct CacheMetrics {
    lookups: Family<Labels, Counter>,
}

/// The cache of one aggregator.
#[derive(Clone)]
pub struct AnswerCache {
    config: CacheConfig,
    cache: moka::future::Cache<Key, Arc<Entry>>,
    shared: Option<SharedCache>,
    metrics: CacheMetrics,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("config", &self.config)
            .field("entries", &self.cache.entry_count())
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl AnswerCache {
    pub fn new(
        config: CacheConfig,
        metrics: &kit::metrics::Metrics,
    ) -> Result<Self, SharedCacheError> {
        let shared = if config.enabled && !config.redis.url.is_empty() {
            Some(SharedCache::new(&config.redis, metrics)?)
        } else {
            None
        };
        let cache = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .expire_after(EntryTtl)
            .build();
        let metrics = metrics.shared(|r| {
            let m = CacheMetrics::default();
            r.register(
                "aggregator_cache_lookups",
                "Downstream answers looked up in the aggregator's cache, by RPC and outcome (hit, remote, miss, shared)",
                m.lookups.clone(),
            );
            m
        });
        Ok(Self {
            config,
            cache,
            shared,
            metrics,
        })
    }

    /// Counts a lookup, and says on the step's span what the cache did.
    fn count(&self, step: Step, outcome: &'static str) {
        tracing::Span::current().record("cache", outcome);
        self.metrics
            .lookups
            .get_or_create(&Labels {
                rpc: step.rpc(),
                outcome,
            })
            .inc();
    }

    /// A kept answer for `request` of `step`, marked as served from the cache.
    pub async fn kept(&self, step: Step, request: &[u8]) -> Option<Done> {
        if !self.config.enabled {
            return None;
        }
        let key = Key {
            step,
            request: request.to_vec(),
        };
        if let Some(entry) = self.cache.get(&key).await {
            self.count(step, "hit");
            return Some(entry.served());
        }
        let stored = self.shared.as_ref()?.get(step, request).await?;
        // Another version's rules may differ: what is not whole here is not served.
        let ttl = kept_for(&self.config, &stored.done)?;
        self.count(step, "remote");
        // Kept here too for what is left of its time, as this replica would have.
        let ttl = ttl.saturating_sub(stored.age);
        let served = from_cache(&stored.done, stored.age, Some(ttl));
        if !ttl.is_zero() {
            let stored_at = Instant::now()
                .checked_sub(stored.age)
                .unwrap_or_else(Instant::now);
            self.cache
                .insert(
                    key,
                    Arc::new(Entry {
                        done: stored.done,
                        stored_at,
                        ttl,
                    }),
                )
                .await;
        }
        Some(served)
    }

    /// `call`'s outcome, shared with every identical query in flight, and kept when it is
    /// a whole answer. A caller that joins a call in flight waits at most until
    /// `deadline`.
    pub async fn answer(
        &self,
        step: Step,
        request: Vec<u8>,
        deadline: Instant,
        call: impl Future<Output = Done> + Send + 'static,
    ) -> Done {
        let key = Key { step, request };
        let led = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let init = {
            let led = led.clone();
            let config = self.config.clone();
            let shared = self.shared.clone();
            let request = key.request.clone();
            async move {
                led.store(true, Ordering::Relaxed);
                // The call runs as a task of its own: polled from the scheduler, not
                // nested in the cache's (large, in a debug build) futures, and aborted
                // when every caller waiting for it has gone.
                let task = tokio::spawn(tracing::Instrument::instrument(
                    call,
                    tracing::Span::current(),
                ));
                let _abort = AbortOnDrop(task.abort_handle());
                let done = task.await.unwrap_or_else(|e| Done {
                    step,
                    status: SourceStatus {
                        source: step.service().name().to_owned(),
                        state: SourceState::Failed as i32,
                        code: tonic::Code::Internal as i32,
                        reason: "INTERNAL".to_owned(),
                        message: format!("{}: the call failed inside the aggregator", step.rpc()),
                        ..SourceStatus::default()
                    },
                    answer: {
                        tracing::error!(rpc = step.rpc(), error = %e, "downstream call task failed");
                        Answer::Nothing
                    },
                    fresh_for: None,
                });
                match kept_for(&config, &done) {
                    Some(ttl) => {
                        if let Some(shared) = &shared {
                            shared.put(step, &request, &done, ttl);
                        }
                        Ok(Arc::new(Entry {
                            done,
                            stored_at: Instant::now(),
                            ttl,
                        }))
                    }
                    None => Err(done),
                }
            }
        };
        // With the cache off, entries are still made (so that concurrent callers share
        // one call) but expire at once.
        let outcome = tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline),
            self.cache.try_get_with(key.clone(), init),
        )
        .await;
        let mine = led.load(Ordering::Relaxed);
        let done = match outcome {
            Err(_) => {
                return Done {
                    step,
                    status: kit::client::source_status::timed_out(
                        step.service().name(),
                        started.elapsed(),
                    ),
                    answer: Answer::Nothing,
                    fresh_for: None,
                };
            }
            Ok(Ok(entry)) if mine => entry.done.clone(),
            Ok(Ok(entry)) => {
                self.count(step, "shared");
                entry.served()
            }
            Ok(Err(done)) if mine => (*done).clone(),
            Ok(Err(done)) => {
                self.count(step, "shared");
                // Shared, but not kept: nothing to keep a response built on it for.
                from_cache(&done, Duration::ZERO, None)
            }
        };
        if mine {
            self.count(step, "miss");
            if !self.config.enabled {
                self.cache.invalidate(&key).await;
            }
        }
        done
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long `done` is kept: `negative_ttl` for a "no record" answer, its step's TTL for
/// an answer, `None` when it may not be kept.
fn kept_for(config: &CacheConfig, done: &Done) -> Option<Duration> {
    Some(if keepable(done)? {
        config.negative_ttl
    } else {
        config.ttl(done.step)
    })
}

/// Whether `done` may be kept: `Some(true)` for a "no record" answer (kept briefly),
/// `Some(false)` for an answer, `None` when something in it failed or is missing.
fn keepable(done: &Done) -> Option<bool> {
    if done.status.state != SourceState::Ok as i32 {
        return None;
    }
    let vendors = vendor_statuses(&done.answer)?;
    let whole = vendors.iter().all(|s| {
        matches!(
            SourceState::try_from(s.state),
            Ok(SourceState::Ok | SourceState::NotFound | SourceState::Skipped)
        ) && !s.from_cache
    });
    if !whole {
        return None;
    }
    let answered = vendors
        .iter()
        .any(|s| s.state == SourceState::Ok as i32 && s.source != crate::profile::LOCAL);
    let asked_vendors = vendors.iter().any(|s| s.source != crate::profile::LOCAL);
    Some(asked_vendors && !answered)
}

/// The vendor statuses inside an answer (empty for the local RPCs); `None` without one.
fn vendor_statuses(a: &Answer) -> Option<&[SourceStatus]> {
    match a {
        Answer::Nothing => None,
        Answer::ParsePlate(_) | Answer::ValidateVin(_) => Some(&[]),
        Answer::DecodeVin(r) => Some(&r.sources),
        Answer::Lookup(r) => Some(&r.sources),
        Answer::Violations(r) => Some(&r.sources),
        Answer::Recognize(r) => r.response.as_ref().map(|r| r.sources.as_slice()),
    }
}

fn vendor_statuses_mut(a: &mut Answer) -> Option<&mut Vec<SourceStatus>> {
    match a {
        Answer::Nothing | Answer::ParsePlate(_) | Answer::ValidateVin(_) => None,
        Answer::DecodeVin(r) => Some(&mut r.sources),
        Answer::Lookup(r) => Some(&mut r.sources),
        Answer::Violations(r) => Some(&mut r.sources),
        Answer::Recognize(r) => r.response.as_mut().map(|r| &mut r.sources),
    }
}

/// `done` as served again `age` after it was made: no new call, no new charge;
/// `fresh_for`: how much longer it is kept, when it is.
fn from_cache(done: &Done, age: Duration, fresh_for: Option<Duration>) -> Done {
    let mut d = done.clone();
    d.fresh_for = fresh_for;
    let mark = |s: &mut SourceStatus| {
        s.from_cache = true;
        s.cache_age = Some(table::proto_duration(age));
    };
    mark(&mut d.status);
    if let Some(list) = vendor_statuses_mut(&mut d.answer) {
        list.iter_mut().for_each(mark);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::vin::v1::DecodeVinResponse;
    use std::sync::atomic::AtomicU32;

    fn status(source: &str, state: SourceState) -> SourceStatus {
        SourceStatus {
            source: source.to_owned(),
            state: state as i32,
            ..SourceStatus::default()
        }
    }

    fn decoded(vendor: SourceState) -> Done {
        Done {
            step: Step::DecodeVin,
            status: status("vin-service", SourceState::Ok),
            answer: Answer::DecodeVin(Box::new(DecodeVinResponse {
                sources: vec![status("local", SourceState::Ok), status("connapi", vendor)],
                ..DecodeVinResponse::default()
            })),
            fresh_for: None,
        }
    }

    fn cache() -> AnswerCache {
        AnswerCache::new(CacheConfig::default(), &kit::metrics::Metrics::new()).expect("no Redis")
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn only_whole_answers_are_kept_and_no_record_briefly() {
        assert_eq!(keepable(&decoded(SourceState::Ok)), Some(false));
        assert_eq!(keepable(&decoded(SourceState::NotFound)), Some(true));
        assert_eq!(keepable(&decoded(SourceState::Failed)), None);
        assert_eq!(keepable(&decoded(SourceState::Timeout)), None);
        assert_eq!(keepable(&decoded(SourceState::Pending)), None);
        let mut late = decoded(SourceState::Ok);
        late.status.state = SourceState::Timeout as i32;
        assert_eq!(keepable(&late), None);
    }

    #[tokio::test]
    async fn a_kept_answer_is_served_marked_from_cache() {
        let c = cache();
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let first = c
            .answer(Step::DecodeVin, b"vin".to_vec(), far(), async move {
                counted.fetch_add(1, Ordering::SeqCst);
                decoded(SourceState::Ok)
            })
            .await;
        assert!(!first.status.from_cache);
        let again = c.kept(Step::DecodeVin, b"vin").await.expect("kept");
        assert!(again.status.from_cache && again.status.cache_age.is_some());
        let Answer::DecodeVin(r) = &again.answer else {
            panic!("decode")
        };
        assert!(r.sources.iter().all(|s| s.from_cache), "no new charge");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(c.kept(Step::DecodeVin, b"other").await.is_none());
        assert!(c.kept(Step::ValidateVin, b"vin").await.is_none(), "per RPC");
    }

    #[tokio::test]
    async fn a_failed_answer_is_not_kept() {
        let c = cache();
        let d = c
            .answer(Step::DecodeVin, b"vin".to_vec(), far(), async {
                decoded(SourceState::Failed)
            })
            .await;
        assert!(!d.status.from_cache);
        assert!(c.kept(Step::DecodeVin, b"vin").await.is_none());
    }

    #[tokio::test]
    async fn concurrent_identical_queries_share_one_call() {
        let c = cache();
        let calls = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = c.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                c.answer(Step::DecodeVin, b"vin".to_vec(), far(), async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // Not keepable: shared in flight all the same.
                    decoded(SourceState::Failed)
                })
                .await
            }));
        }
        let mut shared = 0;
        for t in tasks {
            if t.await.expect("task").status.from_cache {
                shared += 1;
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(shared, 7);
    }

    #[tokio::test]
    async fn a_joining_caller_waits_no_longer_than_its_deadline() {
        let c = cache();
        let leader = {
            let c = c.clone();
            tokio::spawn(async move {
                c.answer(Step::DecodeVin, b"vin".to_vec(), far(), async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    decoded(SourceState::Ok)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let d = c
            .answer(
                Step::DecodeVin,
                b"vin".to_vec(),
                Instant::now() + Duration::from_millis(50),
                async { decoded(SourceState::Ok) },
            )
            .await;
        assert!(started.elapsed() < Duration::from_millis(300));
        assert_eq!(d.status.state, SourceState::Timeout as i32);
        assert!(!leader.await.expect("leader").status.from_cache);
    }
}
