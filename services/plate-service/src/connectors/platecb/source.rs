//! platecb as a source of plate-service, on the callback crate's flow: a stored answer
//! is served without a new charge; otherwise one paid query per plate is claimed (or
//! joined) and submitted once, and its answer (given at once, or by callback) awaited
//! within the caller's deadline and `max_wait`. What the flow says becomes the source's
//! status here: PENDING with when to ask again, the submission's failure (the same for
//! every lookup that joined it), or an unclear submission said as such.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use callback::{
    Asked as Flow, Callbacks, Failed, Pending, Stage, StoreError, StoredResult, Submission,
    SubmitError, Submitted,
};
use connector::client::CallFailure;
use contracts::axle::common::v1::{Money, Provenance, SourceState, SourceStatus};
use sources::{Asked, BoxFuture, Source, status};
use tonic::Code;

use super::transformers::{self, Details};
use super::{PlatecbClient, PlatecbConfig, SOURCE, submission_certainly_failed};
use crate::report::{PlateQuery, VehicleReport, iso, sorted};

/// platecb with what its asynchronous protocol needs.
#[derive(Debug)]
pub struct PlatecbSource {
    pub(super) client: Arc<PlatecbClient>,
    pub(super) callbacks: Callbacks,
    pub(super) cfg: PlatecbConfig,
}

/// What the lookup that made a submission learns about its call: the charge is its own,
/// so only its status and answer carry the attempts and the cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub attempts: u32,
    pub sandbox: bool,
    pub cost: Option<Money>,
}

/// How a stored answer reached this lookup.
enum Served {
    /// Its own submission's answer (given at once or by callback).
    Paid(Receipt),
    /// The answer to the submission another lookup made while this one waited.
    Joined,
    /// An answer stored earlier, reused.
    Reused,
}

/// The reason of a submission that may or may not have reached platecb.
pub const SUBMISSION_UNCLEAR: &str = "VENDOR_SUBMISSION_UNCLEAR";

impl Source<PlateQuery, VehicleReport> for PlatecbSource {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<Money> {
        sources::price(&self.cfg.http)
    }

    /// A submission is a paid job: asking twice pays twice.
    fn repeatable(&self) -> bool {
        false
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
            let stored = match self.callbacks.stored(&q.plate).await {
                Ok(s) => s?,
                Err(e) => {
                    tracing::warn!(error = %e, "platecb callback store unavailable");
                    return None;
                }
            };
            let (report, status) = self.answered(&stored, &Served::Reused, Instant::now());
            Some(Asked {
                answer: report,
                status,
            })
        })
    }
}

impl PlatecbSource {
    async fn lookup(
        &self,
        plate: &str,
        deadline: Option<Instant>,
    ) -> (Option<VehicleReport>, SourceStatus) {
        let started = Instant::now();
        let client = self.client.clone();
        // Set when this lookup's own submission runs (it held the plate's claim): an
        // unclear submission's attempts are this lookup's only then.
        let submitted = Arc::new(AtomicBool::new(false));
        let mine = submitted.clone();
        let asked = self
            .callbacks
            .ask(plate, deadline, move |s| {
                mine.store(true, Ordering::SeqCst);
                submit(client, s)
            })
            .await;
        let asked = match asked {
            Ok(a) => a,
            Err(e) => return (None, store_failed(&e, started)),
        };
        match asked {
            Flow::Answered(a) => {
                let served = match (a.receipt, a.reused) {
                    (Some(r), _) => Served::Paid(r),
                    (None, true) => Served::Reused,
                    // Its own submission, whose reply was lost after platecb took it and
                    // called back: one call made; what it cost the reply would have said.
                    (None, false) if submitted.load(Ordering::SeqCst) => Served::Paid(Receipt {
                        attempts: 1,
                        sandbox: a.result.sandbox,
                        cost: None,
                    }),
                    (None, false) => Served::Joined,
                };
                let (mut report, mut st) = self.answered(&a.result, &served, started);
                if let (Some(r), Some(c)) = (report.as_mut(), st.cost.as_ref()) {
                    r.provenance.cost = Some(c.clone());
                }
                st.latency = prost_types::Duration::try_from(started.elapsed()).ok();
                (report, st)
            }
            Flow::Pending(p) => (None, pending(p, submitted.load(Ordering::SeqCst), started)),
            Flow::Failed(f) => (None, failed(f, started)),
        }
    }

    /// A stored platecb answer as a source's report.
    fn answered(
        &self,
        stored: &StoredResult,
        served: &Served,
        started: Instant,
    ) -> (Option<VehicleReport>, SourceStatus) {
        let (attempts, cost) = match served {
            Served::Paid(r) => (r.attempts, r.cost.clone()),
            Served::Joined | Served::Reused => (0, None),
        };
        let v = match transformers::to_vehicle(&stored.payload) {
            Ok(v) => v,
            Err(detail) => {
                let mut st = status::from_error(
                    SOURCE,
                    &connector::VendorError::MalformedBody { detail },
                    started.elapsed(),
                );
                st.sandbox = stored.sandbox;
                st.attempts = attempts;
                st.cost = cost;
                return (None, st);
            }
        };
        if !v.succeeded() {
            let err = connector::VendorError::Vendor {
                code: v.result_status.unwrap_or_default().to_string(),
                message: "查询失败: the platform could not complete the query".to_owned(),
                kind: connector::VendorErrorKind::VendorInternal,
            };
            let mut st = status::from_error(SOURCE, &err, started.elapsed());
            st.sandbox = stored.sandbox;
            st.attempts = attempts;
            st.cost = cost;
            return (None, st);
        }
        let said = VehicleReport {
            provenance: Provenance {
                source: SOURCE.to_owned(),
                sandbox: stored.sandbox,
                fetched_at: Some(prost_types::Timestamp::from(stored.received_at)),
                vendor_request_id: stored.id_for_vendor().to_owned(),
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
        let mut st = status::ok(SOURCE, attempts, started.elapsed(), stored.sandbox);
        st.cost = cost;
        let sandbox_note = if stored.sandbox {
            "; simulated by the Axle sandbox"
        } else {
            ""
        };
        match served {
            Served::Paid(_) => {}
            Served::Reused => {
                st.message = format!(
                    "answered from the callback store (received {}); no new charge{sandbox_note}",
                    time_text(stored.received_at),
                );
            }
            Served::Joined => {
                st.message = format!(
                    "answered by the query another lookup of this plate made at the same \
                     time; no new charge{sandbox_note}"
                );
            }
        }
        (Some(said), st)
    }
}

/// The submission, run by the callback flow in its own task with its own deadline.
async fn submit(
    client: Arc<PlatecbClient>,
    s: Submission,
) -> Result<Submitted<Receipt>, SubmitError<CallFailure>> {
    match client.submit(&s.key, &s.request_id, Some(s.deadline)).await {
        Ok(o) => {
            let receipt = Receipt {
                attempts: o.attempts,
                sandbox: o.sandbox,
                cost: o.cost.as_ref().map(sources::money),
            };
            // A platform that gives its own id may answer under it alone.
            let vendor_id = o.value.vendor_request_id.filter(|id| *id != s.request_id);
            Ok(match o.value.data {
                // 10000 with data: billed, and the answer itself (seed 003 line 58).
                Some(payload) => Submitted::answered(vendor_id, payload, o.sandbox, receipt),
                None => Submitted::accepted(vendor_id, receipt),
            })
        }
        Err(f) => {
            f.log(SOURCE, "submit");
            Err(if submission_certainly_failed(&f) {
                SubmitError::NotSent(f)
            } else {
                SubmitError::Unclear(f)
            })
        }
    }
}

/// No answer yet: being submitted, accepted and awaited, or possibly lost.
fn pending(
    p: Pending<Receipt, CallFailure>,
    submitted_here: bool,
    started: Instant,
) -> SourceStatus {
    let id = &p.request_id;
    let mut st = match p.stage {
        Stage::Submitting => status::pending(
            SOURCE,
            format!(
                "platecb is being asked about this plate (request {id}) and has not answered \
                 within the deadline. Ask again later: its answer, once stored, is returned \
                 without a new charge"
            ),
            p.retry_after,
        ),
        Stage::Accepted => status::pending(
            SOURCE,
            format!(
                "platecb accepted the query (request {id}) and answers by callback; it has not \
                 arrived within the deadline. Ask again later: the stored answer is returned \
                 without a new charge"
            ),
            p.retry_after,
        ),
        Stage::Unclear {
            error,
            message,
            resubmit_at,
        } => {
            let mut st = status::pending(
                SOURCE,
                format!(
                    "platecb's submission for this plate (request {id}) may not have arrived: \
                     {message}. If it did, platecb bills it and its callback is still taken and \
                     served without a new charge; so that it is not paid twice, Axle does not \
                     submit this plate again before {}. Ask again then",
                    time_text(resubmit_at)
                ),
                p.retry_after,
            );
            // Nothing says the vendor took it: not OK, but worth asking again.
            st.code = Code::Unavailable as i32;
            SUBMISSION_UNCLEAR.clone_into(&mut st.reason);
            if let Some(e) = error {
                st.sandbox = e.sandbox;
                if submitted_here {
                    st.attempts = e.attempts;
                }
            }
            st
        }
    };
    if let Some(r) = p.receipt {
        st.attempts = r.attempts;
        st.sandbox = r.sandbox;
        st.cost = r.cost;
    }
    status::with_latency(st, started.elapsed())
}

/// The submission certainly failed: this lookup's own, or the one it joined (the same
/// failure, learnt at once; it made no call of its own).
fn failed(f: Failed<CallFailure>, started: Instant) -> SourceStatus {
    let Some(error) = f.error else {
        // Recorded by a build whose error type differs: its words are all there is.
        return status::with_latency(
            status::unavailable(
                SOURCE,
                "VENDOR_SUBMISSION_FAILED",
                &format!(
                    "platecb's submission (request {}) failed: {}",
                    f.request_id, f.message
                ),
                false,
            ),
            started.elapsed(),
        );
    };
    let mut st = status::from_failure(SOURCE, &error, started.elapsed());
    if !f.own {
        st.attempts = 0;
        st.message.push_str(
            " (the query another lookup of this plate made at the same time; asked once for both)",
        );
    }
    st
}

/// The store could not be used: platecb was not asked by this lookup.
fn store_failed(e: &StoreError, started: Instant) -> SourceStatus {
    tracing::error!(error = %e, "platecb callback store unavailable");
    let mut st = match e {
        StoreError::TimedOut => {
            let mut st = status::unavailable(
                SOURCE,
                "CALLBACK_STORE_TIMEOUT",
                "the callback store did not answer within the deadline; platecb was not asked",
                false,
            );
            st.state = SourceState::Timeout as i32;
            st.code = Code::DeadlineExceeded as i32;
            st
        }
        StoreError::Contended { .. } => status::unavailable(
            SOURCE,
            "CALLBACK_STORE_CONTENDED",
            "the plate's query kept changing hands in the callback store; platecb was not \
             asked by this call. Ask again",
            false,
        ),
        _ => status::unavailable(
            SOURCE,
            "CALLBACK_STORE_UNAVAILABLE",
            "the callback store is unavailable; platecb was not asked",
            true,
        ),
    };
    st.latency = prost_types::Duration::try_from(started.elapsed()).ok();
    st
}

/// A time as people read it: "2026-12-01 23:15:01 UTC".
fn time_text(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connector::VendorError;

    use super::*;

    #[test]
    fn stored_times_read_as_dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_630_901);
        assert_eq!(time_text(t), "2025-12-01 23:15:01 UTC");
    }

    fn unclear(error: Option<CallFailure>) -> Pending<Receipt, CallFailure> {
        Pending {
            request_id: "ref-1".to_owned(),
            claimed_at: SystemTime::now(),
            stage: Stage::Unclear {
                error,
                message: "connection to the vendor failed: reset".to_owned(),
                resubmit_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_630_901),
            },
            retry_after: Duration::from_secs(300),
            receipt: None,
        }
    }

    #[test]
    fn an_unclear_submission_says_so_and_when_it_is_asked_again() {
        let reset = || CallFailure {
            error: VendorError::Io {
                detail: "reset".to_owned(),
            },
            attempts: 1,
            sandbox: true,
        };
        let st = pending(unclear(Some(reset())), true, Instant::now());
        assert_eq!(
            (st.state, st.code, st.reason.as_str()),
            (
                SourceState::Pending as i32,
                Code::Unavailable as i32,
                SUBMISSION_UNCLEAR
            )
        );
        assert!(
            st.message.contains("may not have arrived"),
            "{}",
            st.message
        );
        assert!(
            st.message.contains("2025-12-01 23:15:01 UTC"),
            "{}",
            st.message
        );
        assert_eq!(st.retry_after.map(|d| d.seconds), Some(300));
        assert_eq!((st.attempts, st.sandbox), (1, true));
        // A lookup that found the plate's submission unclear made no call of its own.
        let joined = pending(unclear(Some(reset())), false, Instant::now());
        assert_eq!(
            (joined.attempts, joined.reason.as_str()),
            (0, SUBMISSION_UNCLEAR)
        );
        // The flow gave up on the submission itself: no error, the flow's words.
        let overran = pending(unclear(None), true, Instant::now());
        assert_eq!(overran.reason, SUBMISSION_UNCLEAR);
    }

    #[test]
    fn a_joined_failure_is_the_same_failure_without_the_call() {
        let error = || CallFailure {
            error: VendorError::Vendor {
                code: "10025".to_owned(),
                message: "查无数据".to_owned(),
                kind: connector::VendorErrorKind::NotFound,
            },
            attempts: 1,
            sandbox: true,
        };
        let own = failed(
            Failed {
                request_id: "r".to_owned(),
                error: Some(error()),
                message: String::new(),
                own: true,
            },
            Instant::now(),
        );
        let joined = failed(
            Failed {
                request_id: "r".to_owned(),
                error: Some(error()),
                message: String::new(),
                own: false,
            },
            Instant::now(),
        );
        for st in [&own, &joined] {
            assert_eq!(
                (st.state, st.code, st.vendor_code.as_str()),
                (SourceState::NotFound as i32, Code::NotFound as i32, "10025")
            );
        }
        assert_eq!((own.attempts, joined.attempts), (1, 0));
        let foreign = failed(
            Failed {
                request_id: "r".to_owned(),
                error: None,
                message: "vendor error 10099: x".to_owned(),
                own: false,
            },
            Instant::now(),
        );
        assert_eq!(foreign.state, SourceState::Failed as i32);
        assert!(foreign.message.contains("10099"), "{}", foreign.message);
    }

    #[test]
    fn store_failures_say_platecb_was_not_asked() {
        let st = store_failed(&StoreError::TimedOut, Instant::now());
        assert_eq!(
            (st.state, st.code),
            (SourceState::Timeout as i32, Code::DeadlineExceeded as i32)
        );
        let st = store_failed(&StoreError::Invalid("x".into()), Instant::now());
        assert_eq!(st.reason, "CALLBACK_STORE_UNAVAILABLE");
        assert!(st.operator_action_required);
    }
}
