//! The answer cache shared by replicas, in Redis (optional, `cache.redis.url`).
//!
//! Behind the in-process cache: a local miss asks Redis before any service is called,
//! and a whole answer (the same rule as in-process) is written to Redis with the same
//! TTL, so that a vehicle one replica paid for is free on every other.
//!
//! Redis is an optimisation, never a dependency: every operation is bounded by
//! `timeout`, and after a failure Redis is left alone for `pause_after_error`, so that a
//! dead or slow Redis costs a request at most one `timeout` per pause, not one per call.
//! Writes are sent in the background; a failed write is counted, nothing else.
//!
//! Keys are `{key_prefix}{rpc}:{sha256 of the request message}`: the request (plates,
//! VINs) does not appear in Redis's key space, and no crafted request can collide with
//! another's. The values are the answers as the services gave them to the aggregator,
//! identifiers unmasked: Redis holds personal data and is protected like PostgreSQL
//! (docs/operations.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use contracts::axle::common::v1::SourceStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prost::Message as _;
use sha2::Digest as _;

use crate::config::RedisConfig;
use crate::outcome::{Answer, Done};
use crate::plan::Step;

/// Format of the stored values; a value of another version is a miss.
const FORMAT: u8 = 1;

/// An answer read back from Redis, with the time it was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub done: Done,
    /// How old the answer is (by the writer's clock).
    pub age: Duration,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    op: &'static str,
    /// get: `hit`, `miss`, `error`, `timeout`, `corrupt`, `paused`; set: `ok`, `error`,
    /// `timeout`, `paused`.
    outcome: &'static str,
}

/// Redis behind the in-process cache.
#[derive(Clone)]
pub struct SharedCache {
    conn: redis::aio::ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    pause: Duration,
    /// Until when (ms since `epoch`) Redis is left alone after a failure.
    paused_until: Arc<AtomicU64>,
    epoch: Instant,
    ops: Family<Labels, Counter>,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("SharedCache")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the shared cache could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cache.redis.url: {0}")]
pub struct SharedCacheError(String);

impl SharedCache {
    /// Connects lazily: the aggregator starts (and serves) while Redis is down.
    pub fn new(
        config: &RedisConfig,
        metrics: &kit::metrics::Metrics,
    ) -> Result<Self, SharedCacheError> {
        let client = redis::Client::open(config.url.expose().as_str())
            // The crate's message names the problem, not the URL.
            .map_err(|e| SharedCacheError(format!("not a Redis URL ({})", e.category())))?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(2)
            .set_max_delay(config.pause_after_error);
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|e| SharedCacheError(e.category().to_owned()))?;
        let ops = metrics.shared(|r| {
            let ops = Family::<Labels, Counter>::default();
            r.register(
                "aggregator_shared_cache_operations",
                "Operations on the Redis cache shared by aggregator replicas, by op (get, set) and outcome",
                ops.clone(),
            );
            ops
        });
        Ok(Self {
            conn,
            prefix: config.key_prefix.as_str().into(),
            timeout: config.timeout,
            pause: config.pause_after_error,
            paused_until: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            ops,
        })
    }

    fn count(&self, op: &'static str, outcome: &'static str) {
        self.ops.get_or_create(&Labels { op, outcome }).inc();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn paused(&self) -> bool {
        self.now_ms() < self.paused_until.load(Ordering::Relaxed)
    }

    fn failed(&self) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(self.pause.as_millis()).unwrap_or(u64::MAX));
        self.paused_until.store(until, Ordering::Relaxed);
    }

    fn key(&self, step: Step, request: &[u8]) -> String {
        let digest = sha2::Sha256::digest(request);
        format!("{}{}:{}", self.prefix, step.rpc(), hex::encode(digest))
    }

    /// The answer another replica (or this one) stored, if any and readable in time.
    pub async fn get(&self, step: Step, request: &[u8]) -> Option<Stored> {
        if self.paused() {
            self.count("get", "paused");
            return None;
        }
        let key = self.key(step, request);
        let mut conn = self.conn.clone();
        let read = tokio::time::timeout(self.timeout, async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
        })
        .await;
        match read {
            Err(_) => {
                self.failed();
                self.count("get", "timeout");
                None
            }
            Ok(Err(e)) => {
                self.failed();
                self.count("get", "error");
                tracing::warn!(kind = %e.category(), "shared cache: read failed; Redis paused");
                None
            }
            Ok(Ok(None)) => {
                self.count("get", "miss");
                None
            }
            Ok(Ok(Some(bytes))) => {
                if let Some(stored) = decode(step, &bytes, SystemTime::now()) {
                    self.count("get", "hit");
                    Some(stored)
                } else {
                    self.count("get", "corrupt");
                    tracing::warn!(rpc = step.rpc(), "shared cache: unreadable value ignored");
                    None
                }
            }
        }
    }

    /// Stores `done` for `ttl`, in the background.
    pub fn put(&self, step: Step, request: &[u8], done: &Done, ttl: Duration) {
        if self.paused() {
            self.count("set", "paused");
            return;
        }
        let Some(value) = encode(done, SystemTime::now()) else {
            return;
        };
        let key = self.key(step, request);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let this = self.clone();
        tokio::spawn(async move {
            let mut conn = this.conn.clone();
            let write = tokio::time::timeout(this.timeout, async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
            match write {
                Ok(Ok(())) => this.count("set", "ok"),
                Ok(Err(e)) => {
                    this.failed();
                    this.count("set", "error");
                    tracing::warn!(kind = %e.category(), "shared cache: write failed; Redis paused");
                }
                Err(_) => {
                    this.failed();
                    this.count("set", "timeout");
                }
            }
        });
    }
}

/// Which response an answer holds, as stored.
fn kind(answer: &Answer) -> Option<u8> {
    Some(match answer {
        // A photo's reading is never kept (the key would be the photo).
        Answer::Nothing | Answer::Recognize(_) => return None,
        Answer::ParsePlate(_) => 1,
        Answer::ValidateVin(_) => 2,
        Answer::DecodeVin(_) => 3,
        Answer::Lookup(_) => 4,
        Answer::Violations(_) => 5,
    })
}

/// `[FORMAT][stored at: ms since the Unix epoch, u64 LE][kind][status, length-delimited]
/// [response, length-delimited]`: a value cut short never reads as an answer. `None` for a step that brought nothing back (never kept).
fn encode(done: &Done, now: SystemTime) -> Option<Vec<u8>> {
    let kind = kind(&done.answer)?;
    let at = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut out = Vec::with_capacity(256);
    out.push(FORMAT);
    out.extend_from_slice(&at.to_le_bytes());
    out.push(kind);
    done.status.encode_length_delimited(&mut out).ok()?;
    match &done.answer {
        Answer::Nothing | Answer::Recognize(_) => return None,
        Answer::ParsePlate(r) => r.encode_length_delimited(&mut out),
        Answer::ValidateVin(r) => r.encode_length_delimited(&mut out),
        Answer::DecodeVin(r) => r.encode_length_delimited(&mut out),
        Answer::Lookup(r) => r.encode_length_delimited(&mut out),
        Answer::Violations(r) => r.encode_length_delimited(&mut out),
    }
    .ok()?;
    Some(out)
}

/// The answer in `bytes`, if it is one of `step`'s in this format.
fn decode(step: Step, bytes: &[u8], now: SystemTime) -> Option<Stored> {
    let (&format, rest) = bytes.split_first()?;
    if format != FORMAT || rest.len() < 9 {
        return None;
    }
    let (at, rest) = rest.split_at(8);
    let at = u64::from_le_bytes(at.try_into().ok()?);
    let (&kind, mut rest) = rest.split_first()?;
    let status = SourceStatus::decode_length_delimited(&mut rest).ok()?;
    let answer = match (step, kind) {
        (Step::ParsePlate, 1) => Answer::ParsePlate(Box::new(whole(&mut rest)?)),
        (Step::ValidateVin, 2) => Answer::ValidateVin(Box::new(whole(&mut rest)?)),
        (Step::DecodeVin, 3) => Answer::DecodeVin(Box::new(whole(&mut rest)?)),
        (Step::LookupVehicle, 4) => Answer::Lookup(Box::new(whole(&mut rest)?)),
        (Step::QueryViolations, 5) => Answer::Violations(Box::new(whole(&mut rest)?)),
        _ => return None,
    };
    if !rest.is_empty() {
        return None;
    }
    let stored_at = UNIX_EPOCH + Duration::from_millis(at);
    // A writer's clock ahead of ours: the answer is new, not from the future.
    let age = now.duration_since(stored_at).unwrap_or(Duration::ZERO);
    Some(Stored {
        done: Done {
            step,
            status,
            answer,
            fresh_for: None,
        },
        age,
    })
}

/// A length-delimited message that is all there (prost would take a cut one).
fn whole<M: prost::Message + Default>(rest: &mut &[u8]) -> Option<M> {
    let len = usize::try_from(prost::encoding::decode_varint(rest).ok()?).ok()?;
    if rest.len() < len {
        return None;
    }
    let (message, tail) = rest.split_at(len);
    *rest = tail;
    M::decode(message).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::common::v1::SourceState;
    use contracts::axle::vin::v1::DecodeVinResponse;
    use proptest::prelude::*;

    fn decoded() -> Done {
        Done {
            step: Step::DecodeVin,
            status: SourceStatus {
                source: "vin-service".to_owned(),
                state: SourceState::Ok as i32,
                ..SourceStatus::default()
            },
            answer: Answer::DecodeVin(Box::new(DecodeVinResponse {
                sources: vec![SourceStatus {
                    source: "connapi".to_owned(),
                    state: SourceState::Ok as i32,
                    ..SourceStatus::default()
                }],
                ..DecodeVinResponse::default()
            })),
            fresh_for: None,
        }
    }

    #[test]
    fn an_answer_reads_back_as_written_with_its_age() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let bytes = encode(&decoded(), t0).expect("encodable");
        let back = decode(Step::DecodeVin, &bytes, t0 + Duration::from_secs(90)).expect("decodes");
        assert_eq!(back.done, decoded());
        assert_eq!(back.age, Duration::from_secs(90));
        // A writer whose clock runs ahead: age zero, not an error.
        let early = decode(Step::DecodeVin, &bytes, t0 - Duration::from_secs(5)).expect("decodes");
        assert_eq!(early.age, Duration::ZERO);
    }

    #[test]
    fn a_value_of_another_step_or_format_is_a_miss() {
        let t0 = SystemTime::now();
        let bytes = encode(&decoded(), t0).expect("encodable");
        assert!(decode(Step::LookupVehicle, &bytes, t0).is_none());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(decode(Step::DecodeVin, &other, t0).is_none());
        assert!(decode(Step::DecodeVin, &[], t0).is_none());
        assert!(encode(&Done::nothing(Step::DecodeVin, SourceStatus::default()), t0).is_none());
    }

    proptest! {
        /// Whatever Redis hands back (truncated, garbage, another writer's bytes), reading
        /// it never panics; an answer cut short is never taken for one.
        #[test]
        fn reading_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(Step::DecodeVin, &bytes, SystemTime::now());
        }

        #[test]
        fn a_value_cut_short_or_extended_is_a_miss(cut in 0usize..200, extra in 1usize..4) {
            let t0 = SystemTime::now();
            let bytes = encode(&decoded(), t0).expect("encodable");
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(decode(Step::DecodeVin, &bytes[..cut], t0).is_none());
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            prop_assert!(decode(Step::DecodeVin, &longer, t0).is_none());
        }
    }
}
