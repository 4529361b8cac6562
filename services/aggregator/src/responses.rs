//! Whole responses kept for repeat requests: a GetVehicleProfile answered entirely from
//! kept answers is kept as it went out, keyed by the request, for as long as the
//! shortest-lived of those answers is kept. The same request again is answered from it
//! without planning, running the steps or merging again.
//!
//! Why a second cache in front of the answer cache: a warm request otherwise still plans,
//! starts a task per step, clones every kept answer and merges a full profile (every fact
//! with provenance, the per-source table); that costs several times what serving the
//! request over gRPC costs (docs/perf.md, "GetVehicleProfile"). Kept here, a repeat costs a
//! lookup and a copy.
//!
//! What a replay changes, so that it says what a fresh merge of the same answers would:
//! every `cache_age` grows by the time since the response was kept, and `latency` is the
//! replay's own. Facts that Axle derived (provenance `local` or `request`) keep the time
//! they were derived as `fetched_at`. Nothing made of a call (a miss, a failure, a
//! timeout, a budget skip) or of a photo is ever kept, so a replay never hides a call that
//! a fresh request would have made, and never charges.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::aggregator::v1::{GetVehicleProfileRequest, GetVehicleProfileResponse};
use contracts::axle::common::v1::SourceStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prost::Message as _;

use crate::table;

#[derive(Debug)]
struct Kept {
    response: GetVehicleProfileResponse,
    at: Instant,
    ttl: Duration,
}

struct KeptTtl;

impl moka::Expiry<Vec<u8>, Arc<Kept>> for KeptTtl {
    fn expire_after_create(
        &self,
        _key: &Vec<u8>,
        value: &Arc<Kept>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    /// `hit` (replayed), `miss` (merged).
    outcome: &'static str,
}

/// The kept responses of one aggregator; cheap to clone.
#[derive(Clone)]
pub struct ResponseCache {
    /// `None` when off (`cache.enabled = false` or `cache.response_bytes = 0`).
    cache: Option<moka::future::Cache<Vec<u8>, Arc<Kept>>>,
    lookups: Family<Labels, Counter>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field(
                "entries",
                &self.cache.as_ref().map(moka::future::Cache::entry_count),
            )
            .finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// At most `max_bytes` of encoded responses (0: off).
    pub fn new(max_bytes: u64, metrics: &kit::metrics::Metrics) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                // Weighed by the encoded response and its key: a profile with a long
                // violation list takes the room of many short ones.
                .weigher(|key: &Vec<u8>, kept: &Arc<Kept>| {
                    u32::try_from(key.len() + kept.response.encoded_len()).unwrap_or(u32::MAX)
                })
                .expire_after(KeptTtl)
                .build()
        });
        let lookups = metrics.shared(|r| {
            let lookups = Family::<Labels, Counter>::default();
            r.register(
                "aggregator_response_cache_lookups",
                "GetVehicleProfile requests looked up among the kept whole responses, by outcome (hit: replayed; miss: merged)",
                lookups.clone(),
            );
            lookups
        });
        Self { cache, lookups }
    }

    /// The key of `request`, or `None` when such a request is never kept (the cache is
    /// off, or it carries a photo: a reading is never kept).
    pub fn key(&self, request: &GetVehicleProfileRequest) -> Option<Vec<u8>> {
        use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
        if self.cache.is_none() || matches!(request.subject, Some(Subject::LicenseImage(_))) {
            return None;
        }
        Some(request.encode_to_vec())
    }

    /// The kept response for `key`, as a fresh merge would give it now.
    pub async fn replay(&self, key: &[u8], started: Instant) -> Option<GetVehicleProfileResponse> {
        let cache = self.cache.as_ref()?;
        let Some(kept) = cache.get(key).await else {
            self.count("miss");
            return None;
        };
        self.count("hit");
        let mut response = kept.response.clone();
        age_by(&mut response, kept.at.elapsed());
        response.latency = Some(table::proto_duration(started.elapsed()));
        Some(response)
    }

    /// Keeps `response` for `ttl`.
    pub async fn keep(&self, key: Vec<u8>, response: &GetVehicleProfileResponse, ttl: Duration) {
        let Some(cache) = &self.cache else {
            return;
        };
        let kept = Kept {
            response: response.clone(),
            at: Instant::now(),
            ttl,
        };
        cache.insert(key, Arc::new(kept)).await;
    }

    fn count(&self, outcome: &'static str) {
        self.lookups.get_or_create(&Labels { outcome }).inc();
    }
}

/// Every status in `response` that says how old its kept answer is, older by `by`.
fn age_by(response: &mut GetVehicleProfileResponse, by: Duration) {
    let older = |s: &mut SourceStatus| {
        if let Some(age) = s.cache_age.as_mut() {
            let was = Duration::try_from(*age).unwrap_or_default();
            *age = table::proto_duration(was + by);
        }
    };
    response.sources.iter_mut().for_each(older);
    let Some(a) = response.attached.as_deref_mut() else {
        return;
    };
    let nested = [
        a.decode_vin.as_mut().map(|r| &mut r.sources),
        a.lookup_vehicle.as_mut().map(|r| &mut r.sources),
        a.violations.as_mut().map(|r| &mut r.sources),
    ];
    for list in nested.into_iter().flatten() {
        list.iter_mut().for_each(older);
    }
}
