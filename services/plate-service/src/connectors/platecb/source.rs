//! platecb as a source of plate-service: a stored answer is served without a new charge;
//! otherwise one paid query per plate is claimed (or joined), submitted once, and its
//! callback awaited within the caller's deadline and `max_wait`, after which the source
//! is reported PENDING and a later call returns the stored answer.

use std::time::{Duration, Instant, SystemTime};

use contracts::axle::common::v1::{Provenance, SourceStatus};
use sources::{Asked, BoxFuture, Source, status};

use super::transformers::{self, Details};
use super::{PlatecbClient, PlatecbConfig, SOURCE, Waiters};
use crate::report::{PlateQuery, VehicleReport, iso, sorted};
use crate::store::CallbackStore;

/// platecb with what its asynchronous protocol needs.
#[derive(Debug)]
pub struct PlatecbSource {
    pub(super) client: PlatecbClient,
    pub(super) store: CallbackStore,
    pub(super) waiters: Waiters,
    pub(super) cfg: PlatecbConfig,
}

impl Source<PlateQuery, VehicleReport> for PlatecbSource {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<contracts::axle::common::v1::Money> {
        sources::price(&self.cfg.http)
    }

    /// A submission is a paid job: asking twice pays twice.
    fn repeatable(&self) -> bool {
        false
    }

    fn confidence(&self) -> f32 {
        self.cfg.confidence
    }

    fn ask<'a>(
        &'a self,
        q: &'a PlateQuery,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Asked<VehicleReport>> {
        Box::pin(async move {
            let (report, status) = self.lookup(&q.plate, deadline).await;
            Asked {
                answer: report,
                status,
            }
        })
    }

    /// A stored successful answer costs nothing.
    fn stored<'a>(&'a self, q: &'a PlateQuery) -> BoxFuture<'a, Option<Asked<VehicleReport>>> {
        Box::pin(async move {
            let rows = self
                .store
                .results_for_plate(&q.plate, self.cfg.result_ttl, 5)
                .await
                .ok()?;
            let stored = rows.into_iter().find(reusable)?;
            let (report, status) = self.stored_answer(&stored, Instant::now(), true);
            Some(Asked {
                answer: report,
                status,
            })
        })
    }
}

impl PlatecbSource {
    /// Stored answer, else claim (or join) the plate's paid query, submit it once, and
    /// wait for the callback within the deadline and `max_wait`.
    async fn lookup(
        &self,
        plate: &str,
        deadline: Option<Instant>,
    ) -> (Option<VehicleReport>, SourceStatus) {
        let started = Instant::now();
        let store_failed = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "callback store unavailable");
            status::unavailable(
                SOURCE,
                "CALLBACK_STORE_UNAVAILABLE",
                "the callback store is unavailable; platecb was not asked",
                true,
            )
        };
        // 1. A stored answer: no new charge. A failed query is not an answer to reuse.
        match self
            .store
            .results_for_plate(plate, self.cfg.result_ttl, 5)
            .await
        {
            Ok(rows) => {
                if let Some(stored) = rows.iter().find(|r| reusable(r)) {
                    return self.stored_answer(stored, started, true);
                }
            }
            Err(e) => return (None, store_failed(e)),
        }
        // 2. Claim the query (atomically: two lookups of one plate never both pay), or
        // join the one already claimed.
        let our_ref = PlatecbClient::new_ref();
        let claim = match self
            .store
            .claim(plate, &our_ref, self.cfg.pending_ttl)
            .await
        {
            Ok(c) => c,
            Err(e) => return (None, store_failed(e)),
        };
        // Registered before the submission and before looking in the store, so an answer
        // stored at any point from here on wakes us.
        let guard = self.waiters.register(plate);
        let mut cost = None;
        // What the submission was, for a PENDING status: attempts made and whether the
        // sandbox took it.
        let mut submission: Option<(u32, bool)> = None;
        if claim.new {
            // Dropped before the submission is settled (the caller cancelled): give the
            // claim back, or the plate would wait on a query never made.
            let mut unsettled = ReleaseOnDrop::new(&self.store, &our_ref);
            let submitted = self.client.submit(plate, &our_ref, deadline).await;
            unsettled.disarm();
            // Sent (or possibly sent): the claim now lasts pending_ttl. A claim never
            // marked can be taken over after a couple of minutes (its process died).
            let possibly_sent = match &submitted {
                Ok(_) => true,
                Err(err) => !submission_certainly_failed(err),
            };
            if possibly_sent && let Err(e) = self.store.mark_submitted(&our_ref).await {
                tracing::error!(error = %e, "cannot mark a platecb claim submitted");
            }
            match submitted {
                Ok(o) => {
                    cost = o.cost.as_ref().map(sources::money);
                    submission = Some((o.attempts, o.sandbox));
                    // A platform that gives its own id may answer under it alone.
                    if let Some(vendor_id) = o.value.filter(|id| *id != our_ref)
                        && let Err(e) = self.store.add_pending(&vendor_id, plate).await
                    {
                        tracing::error!(error = %e, "cannot record a platecb request id");
                    }
                }
                Err(err) => {
                    err.log(SOURCE, "submit");
                    // Only a submission that certainly did not become a paid query gives
                    // its claim back; after a timeout the vendor may well have it, and
                    // its callback must still be taken.
                    if submission_certainly_failed(&err)
                        && let Err(e) = self.store.release(&our_ref).await
                    {
                        tracing::error!(error = %e, "cannot release a failed platecb claim");
                    }
                    return (None, status::from_failure(SOURCE, &err, started.elapsed()));
                }
            }
        }
        // 3. Wait for an answer for this plate stored since the claim, within the
        // caller's deadline and `max_wait` (a platform that takes minutes must not hold
        // the other sources' answers hostage).
        let wait = deadline
            .map_or(self.cfg.max_wait, |d| {
                d.saturating_duration_since(Instant::now())
            })
            .min(self.cfg.max_wait);
        let since = claim.claimed_at;
        let arrived = async {
            loop {
                let n = guard.notified();
                let age = Duration::from_secs(u64::try_from(now_secs() - since + 1).unwrap_or(1));
                match self.store.result_for_plate(plate, age).await {
                    Ok(Some(stored)) if stored.received_at >= since => return Ok(stored),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
                // Woken by this process's webhook, or looking again every second: the
                // callback may land on another replica sharing the store.
                let _ = tokio::time::timeout(Duration::from_secs(1), n).await;
            }
        };
        let (said, mut st) = match tokio::time::timeout(wait, arrived).await {
            Ok(Ok(stored)) => self.stored_answer(&stored, started, false),
            Ok(Err(e)) => (None, store_failed(e)),
            Err(_) => {
                let mut st = status::pending(
                    SOURCE,
                    format!(
                        "platecb accepted the query (request {}) and answers by callback; \
                         it has not arrived within the deadline. Ask again later: the stored answer \
                         is returned without a new charge",
                        claim.request_id
                    ),
                    PENDING_RETRY_AFTER,
                );
                if let Some((attempts, sandbox)) = submission {
                    st.attempts = attempts;
                    st.sandbox = sandbox;
                }
                st.latency = prost_types::Duration::try_from(started.elapsed()).ok();
                (None, st)
            }
        };
        // The charge belongs to the lookup that submitted: its status and, when the
        // answer arrived within it, the answer's provenance.
        let mut said = said;
        if let (Some(s), Some(c)) = (said.as_mut(), cost.as_ref()) {
            s.provenance.cost = Some(c.clone());
        }
        if st.cost.is_none() {
            st.cost = cost;
        }
        (said, st)
    }

    /// A stored platecb answer as a source's report.
    fn stored_answer(
        &self,
        stored: &crate::store::StoredResult,
        started: Instant,
        reused: bool,
    ) -> (Option<VehicleReport>, SourceStatus) {
        match transformers::to_vehicle(&stored.payload) {
            Ok(v) if !v.succeeded() => {
                let err = connector::VendorError::Vendor {
                    code: v.result_status.unwrap_or_default().to_string(),
                    message: "查询失败: the platform could not complete the query".to_owned(),
                    kind: connector::VendorErrorKind::VendorInternal,
                };
                let mut st = status::from_error(SOURCE, &err, started.elapsed());
                st.sandbox = stored.sandbox;
                st.attempts = u32::from(!reused);
                (None, st)
            }
            Ok(v) => {
                let fetched = SystemTime::UNIX_EPOCH
                    + Duration::from_secs(u64::try_from(stored.received_at).unwrap_or(0));
                let said = VehicleReport {
                    provenance: Provenance {
                        source: SOURCE.to_owned(),
                        sandbox: stored.sandbox,
                        fetched_at: Some(prost_types::Timestamp::from(fetched)),
                        // The vendor's id when it gave one; else the id we filed it under.
                        vendor_request_id: if stored.vendor_request_id.is_empty() {
                            stored.request_id.clone()
                        } else {
                            stored.vendor_request_id.clone()
                        },
                        ..Provenance::default()
                    },
                    confidence: self.cfg.confidence,
                    vin: v.vin,
                    usage: v.usage,
                    brand: v.brand,
                    model: v.model,
                    first_registration_date: iso(v.first_register_date),
                    vehicle_type: v.vehicle_type,
                    color: v.color,
                    engine_number: v.engine_number,
                    insurance_expiry_date: iso(v.insurance_expiry),
                    production_date: iso(v.production_date),
                    emission_standard: v.emission_standard,
                    approved_passengers: v.approved_passengers,
                    details: Details {
                        insurance_start_date: iso(v.details.insurance_start_date),
                        market_launch_date: iso(v.details.market_launch_date),
                        production_year_month: iso(v.details.production_year_month),
                        ..v.details
                    },
                    damage: v.damage,
                    unmapped: sorted(v.other),
                };
                // A reused answer made no call (and cost nothing this time).
                let mut st = status::ok(
                    SOURCE,
                    u32::from(!reused),
                    started.elapsed(),
                    stored.sandbox,
                );
                if reused {
                    st.message = format!(
                        "answered from the callback store (received {}); no new charge{}",
                        received_at_text(stored.received_at),
                        if stored.sandbox {
                            "; simulated by the Axle sandbox"
                        } else {
                            ""
                        }
                    );
                }
                (Some(said), st)
            }
            Err(detail) => (
                None,
                status::from_error(
                    SOURCE,
                    &connector::VendorError::MalformedBody { detail },
                    started.elapsed(),
                ),
            ),
        }
    }
}

/// Whether a failed submission certainly did not become a (paid) query at the vendor:
/// it never left (connect failure, local limit, no time), or the vendor answered it
/// with a refusal. A timeout or a broken connection mid-request are not certain.
fn submission_certainly_failed(err: &connector::client::CallFailure) -> bool {
    use connector::VendorError as E;
    matches!(
        err.error,
        E::Connect { .. }
            | E::LocalRateLimited
            | E::Vendor { .. }
            | E::Auth { .. }
            | E::HttpStatus { .. }
            | E::RateLimited { .. }
            | E::Unavailable { .. }
            | E::Config { .. }
    ) || (matches!(err.error, E::DeadlineExceeded) && err.attempts == 0)
}

/// Releases a claim if dropped while armed (the lookup was cancelled mid-submission).
struct ReleaseOnDrop {
    store: CallbackStore,
    request_id: String,
    armed: bool,
}

impl ReleaseOnDrop {
    fn new(store: &CallbackStore, request_id: &str) -> Self {
        Self {
            store: store.clone(),
            request_id: request_id.to_owned(),
            armed: true,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let (store, id) = (self.store.clone(), self.request_id.clone());
            // Drop cannot wait; the release runs on its own.
            tokio::spawn(async move {
                if let Err(e) = store.release(&id).await {
                    tracing::error!(error = %e, "cannot release a cancelled platecb claim");
                }
            });
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a stored answer for a plate may be served again instead of asking (and paying)
/// anew: only a readable, successful one.
fn reusable(stored: &crate::store::StoredResult) -> bool {
    transformers::to_vehicle(&stored.payload).is_ok_and(|v| v.succeeded())
}

/// When a caller told that platecb is PENDING should ask again: the platform usually
/// calls back within seconds, and asking sooner only finds the same nothing.
const PENDING_RETRY_AFTER: Duration = Duration::from_secs(5);

/// A Unix time as people read it: "2026-12-01 23:15:01 UTC".
fn received_at_text(unix_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix_secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certain_submission_failures_release_the_claim() {
        use connector::VendorError as E;
        use connector::client::CallFailure;
        let f = |error, attempts| CallFailure {
            error,
            attempts,
            sandbox: false,
        };
        assert!(submission_certainly_failed(&f(
            E::Connect {
                detail: String::new()
            },
            1
        )));
        assert!(submission_certainly_failed(&f(E::DeadlineExceeded, 0)));
        // Sent, and then no answer: the vendor may have taken (and billed) it.
        assert!(!submission_certainly_failed(&f(E::DeadlineExceeded, 1)));
        assert!(!submission_certainly_failed(&f(
            E::Timeout {
                after: Duration::from_secs(3)
            },
            1
        )));
        assert!(!submission_certainly_failed(&f(
            E::Io {
                detail: String::new()
            },
            1
        )));
    }

    #[test]
    fn stored_times_read_as_dates() {
        assert_eq!(received_at_text(1_764_630_901), "2025-12-01 23:15:01 UTC");
    }
}
