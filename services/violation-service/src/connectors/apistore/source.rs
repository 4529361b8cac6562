//! apistore as a source of violation-service, on the callback crate's flow: a stored
//! answer for the same vehicle and numbers is served without a new charge within
//! `result_ttl`; otherwise one paid query per vehicle is claimed (or joined, across
//! replicas) and sent once, and its answer (given at once, or by callback after 10023)
//! awaited within the caller's deadline and `max_wait`; past that the caller gets a
//! query handle. Out-of-credit answers stop the source for `quota_cooldown` (a
//! breaker: one probe after it), so a used-up account is not asked again per request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use callback::{
    Asked as Flow, Callbacks, Failed, Pending, Stage, StoreError, StoredResult, Submission,
    SubmitError, Submitted,
};
use connector::client::CallFailure;
use connector::platform::{self, Envelope};
use connector::{VendorError, VendorErrorKind};
use contracts::axle::common::v1::{Money, Provenance, SourceState, SourceStatus};
use sources::{Asked, BoxFuture, Source, status};
use tonic::Code;

use super::{ApistoreClient, ApistoreConfig, Reply, SOURCE, certainly_not_sent, transformers};
use crate::report::{Answer, HandleLookup, Handles, ViolationQuery, ViolationReport};

/// The reason of a submission that may or may not have reached the vendor.
pub const SUBMISSION_UNCLEAR: &str = "VENDOR_SUBMISSION_UNCLEAR";
/// When to ask again after the platform's own error (10021).
const VENDOR_ERROR_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The reason while the breaker is open after an out-of-credit answer.
pub const QUOTA_BREAKER_OPEN: &str = "VENDOR_QUOTA_EXHAUSTED";

#[derive(Debug)]
pub struct ApistoreSource {
    client: Arc<ApistoreClient>,
    callbacks: Callbacks,
    cfg: ApistoreConfig,
    /// Set by an out-of-credit answer: until then nobody asks.
    quota_open_until: Mutex<Option<(Instant, String)>>,
}

/// What the caller that made a query learns about its call (the charge is its own).
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub attempts: u32,
    pub sandbox: bool,
    pub cost: Option<Money>,
}

enum Served {
    Paid(Receipt),
    Joined,
    Reused,
}

impl Source<ViolationQuery, Answer> for ApistoreSource {
    fn name(&self) -> &str {
        SOURCE
    }

    fn cost(&self) -> Option<Money> {
        sources::price(&self.cfg.http)
    }

    /// A query is paid: asking twice pays twice.
    fn repeatable(&self) -> bool {
        false
    }

    fn ask<'a>(
        &'a self,
        q: &'a ViolationQuery,
        deadline: Option<Instant>,
    ) -> BoxFuture<'a, Asked<Answer>> {
        Box::pin(async move {
            let (answer, status) = self.query(q, deadline).await;
            Asked { answer, status }
        })
    }

    fn stored<'a>(&'a self, q: &'a ViolationQuery) -> BoxFuture<'a, Option<Asked<Answer>>> {
        Box::pin(async move {
            let stored = match self.callbacks.stored(&q.key()).await {
                Ok(s) => s?,
                Err(e) => {
                    tracing::warn!(error = %e, "apistore callback store unavailable");
                    return None;
                }
            };
            let (answer, status) = answered(&stored, &Served::Reused, Instant::now());
            Some(Asked { answer, status })
        })
    }
}

impl Handles for ApistoreSource {
    fn by_handle<'a>(&'a self, handle: &'a str) -> BoxFuture<'a, HandleLookup> {
        Box::pin(ApistoreSource::by_handle(self, handle))
    }
}

impl ApistoreSource {
    pub fn new(client: Arc<ApistoreClient>, callbacks: Callbacks, cfg: ApistoreConfig) -> Self {
        Self {
            client,
            callbacks,
            cfg,
            quota_open_until: Mutex::new(None),
        }
    }

    async fn query(
        &self,
        q: &ViolationQuery,
        deadline: Option<Instant>,
    ) -> (Option<Answer>, SourceStatus) {
        let started = Instant::now();
        if let Some(st) = self.quota_breaker(started) {
            // A stored answer is still worth serving: it costs nothing.
            if let Ok(Some(stored)) = self.callbacks.stored(&q.key()).await {
                return answered(&stored, &Served::Reused, started);
            }
            return (None, st);
        }
        let client = self.client.clone();
        let query = q.clone();
        let asked = self
            .callbacks
            .ask(&q.key(), deadline, move |s| submit(client, query, s))
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
                    (None, false) => Served::Joined,
                };
                answered(&a.result, &served, started)
            }
            Flow::Pending(p) => {
                let handle = p.request_id.clone();
                (Some(Answer::Pending { handle }), pending(p, started))
            }
            Flow::Failed(f) => {
                if let Some(CallFailure {
                    error:
                        VendorError::Vendor {
                            kind: VendorErrorKind::QuotaExhausted,
                            code,
                            message,
                        },
                    ..
                }) = &f.error
                {
                    self.open_quota_breaker(code, message);
                }
                (None, failed(f, started))
            }
        }
    }

    /// The answer of an earlier PENDING query, by its handle: stored (served without a
    /// new charge), still awaited (PENDING again), or `None` for a handle this store does
    /// not know (never issued here, or forgotten after `keep_submissions`).
    pub async fn by_handle(&self, handle: &str) -> HandleLookup {
        let started = Instant::now();
        let store = self.callbacks.store();
        // The answer first: once it is stored the submission is no longer pending (and
        // may be gone from the store).
        if let Some(stored) = store.result_for_request(SOURCE, handle).await? {
            let (answer, status) = answered(&stored, &Served::Reused, started);
            return Ok(Some((stored.query_key.clone(), answer, status)));
        }
        let Some(submission) = store.submission(SOURCE, handle).await? else {
            return Ok(None);
        };
        let st = if submission.state.awaits_callback() {
            status::pending(
                SOURCE,
                format!(
                    "apistore has not answered query {handle} yet. Ask again later with the \
                     same handle: the answer, once stored, is returned without a new charge"
                ),
                self.cfg.callback.pending_retry_after,
            )
        } else {
            status::unavailable(
                SOURCE,
                "VENDOR_QUERY_FAILED",
                &format!(
                    "query {handle} ended without an answer ({}); query again without the handle",
                    submission.state.as_str()
                ),
                false,
            )
        };
        let answer = submission.state.awaits_callback().then(|| Answer::Pending {
            handle: handle.to_owned(),
        });
        Ok(Some((
            submission.query_key,
            answer,
            status::with_latency(st, started.elapsed()),
        )))
    }

    /// While an out-of-credit answer is recent, the status to give instead of asking.
    fn quota_breaker(&self, now: Instant) -> Option<SourceStatus> {
        let mut open = self
            .quota_open_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match open.as_ref() {
            Some((until, said)) if now < *until => {
                let mut st = status::unavailable(
                    SOURCE,
                    QUOTA_BREAKER_OPEN,
                    &format!(
                        "apistore said the account is out of credit ({said}); not asked again \
                         before the operator tops it up (next probe in {}s)",
                        until.saturating_duration_since(now).as_secs()
                    ),
                    true,
                );
                st.code = Code::ResourceExhausted as i32;
                st.retry_after =
                    prost_types::Duration::try_from(until.saturating_duration_since(now)).ok();
                Some(st)
            }
            Some(_) => {
                // Half-open: this caller probes; the others wait for its verdict by
                // finding the breaker open again if the probe fails.
                *open = None;
                None
            }
            None => None,
        }
    }

    fn open_quota_breaker(&self, code: &str, message: &str) {
        tracing::error!(
            vendor = SOURCE,
            code,
            message,
            cooldown_s = self.cfg.quota_cooldown.as_secs(),
            "apistore account out of credit: not asked again before the cooldown"
        );
        *self
            .quota_open_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((
            Instant::now() + self.cfg.quota_cooldown,
            format!("vendor code {code}: {message}"),
        ));
    }
}

/// The query, run by the callback flow in its own task with its own deadline.
async fn submit(
    client: Arc<ApistoreClient>,
    q: ViolationQuery,
    s: Submission,
) -> Result<Submitted<Receipt>, SubmitError<CallFailure>> {
    match client.query(&q, &s.request_id, Some(s.deadline)).await {
        Ok(o) => {
            let receipt = Receipt {
                attempts: o.attempts,
                sandbox: o.sandbox,
                cost: o.cost.as_ref().map(sources::money),
            };
            Ok(match o.value {
                Reply::Answered(payload) => Submitted::answered(None, payload, o.sandbox, receipt),
                Reply::Accepted(vendor_id) => {
                    Submitted::accepted(vendor_id.filter(|id| *id != s.request_id), receipt)
                }
            })
        }
        Err(f) => {
            f.log(SOURCE, "query");
            Err(if certainly_not_sent(&f) {
                SubmitError::NotSent(f)
            } else {
                SubmitError::Unclear(f)
            })
        }
    }
}

/// A stored answer as the source's answer and status.
fn answered(
    stored: &StoredResult,
    served: &Served,
    started: Instant,
) -> (Option<Answer>, SourceStatus) {
    let (attempts, cost) = match served {
        Served::Paid(r) => (r.attempts, r.cost.clone()),
        Served::Joined | Served::Reused => (0, None),
    };
    let finish = |mut st: SourceStatus| {
        st.sandbox = stored.sandbox;
        st.attempts = attempts;
        st.cost.clone_from(&cost);
        status::with_latency(st, started.elapsed())
    };
    let envelope = match Envelope::read(stored.payload.as_bytes()) {
        Ok(e) => e,
        Err(detail) => {
            let st = status::from_error(
                SOURCE,
                &VendorError::MalformedBody { detail },
                Duration::ZERO,
            );
            return (None, finish(st));
        }
    };
    if envelope.code != platform::CODE_OK {
        // A callback can carry a failure too; its code means what it means at once.
        let err = VendorError::Vendor {
            code: envelope.code.to_string(),
            message: envelope.message,
            kind: platform::kind_of(envelope.code),
        };
        return (
            None,
            finish(status::from_error(SOURCE, &err, Duration::ZERO)),
        );
    }
    let mut report: ViolationReport = match transformers::to_report(&envelope.members) {
        Ok(r) => r,
        Err(detail) => {
            let st = status::from_error(
                SOURCE,
                &VendorError::MalformedBody { detail },
                Duration::ZERO,
            );
            return (None, finish(st));
        }
    };
    report.provenance = Provenance {
        source: SOURCE.to_owned(),
        sandbox: stored.sandbox,
        fetched_at: Some(prost_types::Timestamp::from(stored.received_at)),
        vendor_request_id: stored.id_for_vendor().to_owned(),
        cost: cost.clone(),
        ..Provenance::default()
    };
    report.received_at = Some(stored.received_at);
    let mut st = status::ok(SOURCE, attempts, started.elapsed(), stored.sandbox);
    let sandbox_note = if stored.sandbox {
        "; simulated by the Axle sandbox"
    } else {
        ""
    };
    match served {
        Served::Paid(_) => {}
        Served::Reused => {
            let age = SystemTime::now()
                .duration_since(stored.received_at)
                .unwrap_or_default();
            st.from_cache = true;
            st.cache_age = prost_types::Duration::try_from(age).ok();
            st.message = format!(
                "answered from the store (received {}s ago); no new charge{sandbox_note}",
                age.as_secs()
            );
        }
        Served::Joined => {
            st.message = format!(
                "answered by the query another caller made for this vehicle at the same \
                 time; no new charge{sandbox_note}"
            );
        }
    }
    (Some(Answer::Report(Box::new(report))), finish(st))
}

/// No answer yet: being submitted, accepted and awaited, or possibly lost.
fn pending(p: Pending<Receipt, CallFailure>, started: Instant) -> SourceStatus {
    let id = &p.request_id;
    let mut st = match p.stage {
        Stage::Submitting => status::pending(
            SOURCE,
            format!(
                "apistore is being asked about this vehicle (query {id}) and has not answered \
                 within the deadline. Ask again with query_handle {id}: its answer, once \
                 stored, is returned without a new charge"
            ),
            p.retry_after,
        ),
        Stage::Accepted => status::pending(
            SOURCE,
            format!(
                "apistore accepted the query (query {id}, 10023) and answers by callback; it \
                 has not arrived within the deadline. Ask again with query_handle {id}: the \
                 answer is returned without a new charge"
            ),
            p.retry_after,
        ),
        Stage::Unclear { error, message, .. } => {
            let mut st = status::pending(
                SOURCE,
                format!(
                    "apistore's query for this vehicle (query {id}) may not have arrived: \
                     {message}. If it did, it is billed and its callback is still taken; so \
                     that it is not paid twice it is not sent again for a while. Ask again \
                     with query_handle {id} later"
                ),
                p.retry_after,
            );
            st.code = Code::Unavailable as i32;
            SUBMISSION_UNCLEAR.clone_into(&mut st.reason);
            if let Some(e) = error {
                st.sandbox = e.sandbox;
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

/// The query certainly failed: this caller's own, or the one it joined.
fn failed(f: Failed<CallFailure>, started: Instant) -> SourceStatus {
    let Some(error) = f.error else {
        return status::with_latency(
            status::unavailable(
                SOURCE,
                "VENDOR_QUERY_FAILED",
                &format!("apistore's query {} failed: {}", f.request_id, f.message),
                false,
            ),
            started.elapsed(),
        );
    };
    let mut st = status::from_failure(SOURCE, &error, started.elapsed());
    match &error.error {
        VendorError::Vendor {
            kind: VendorErrorKind::QuotaExhausted,
            ..
        } => {
            st.code = Code::ResourceExhausted as i32;
            st.operator_action_required = true;
        }
        // 10021 服务器发生错误 and the like: not billed, worth asking again shortly.
        VendorError::Vendor {
            kind: VendorErrorKind::VendorInternal | VendorErrorKind::UpstreamOfVendor,
            ..
        } => {
            st.code = Code::Unavailable as i32;
            if st.retry_after.is_none() {
                st.retry_after = prost_types::Duration::try_from(VENDOR_ERROR_RETRY_AFTER).ok();
            }
        }
        _ => {}
    }
    if !f.own {
        st.attempts = 0;
        st.message.push_str(
            " (the query another caller made for this vehicle at the same time; asked once for both)",
        );
    }
    st
}

/// The store could not be used: apistore was not asked.
fn store_failed(e: &StoreError, started: Instant) -> SourceStatus {
    tracing::error!(error = %e, "apistore callback store unavailable");
    let mut st = match e {
        StoreError::TimedOut => {
            let mut st = status::unavailable(
                SOURCE,
                "CALLBACK_STORE_TIMEOUT",
                "the answer store did not answer within the deadline; apistore was not asked",
                false,
            );
            st.state = SourceState::Timeout as i32;
            st.code = Code::DeadlineExceeded as i32;
            st
        }
        // Nothing is broken: the query changed hands faster than this caller could
        // look. Asking again is the remedy, not the operator.
        StoreError::Contended { .. } => status::unavailable(
            SOURCE,
            "CALLBACK_STORE_CONTENDED",
            "the vehicle's query kept changing hands in the answer store; apistore was not \
             asked by this call. Ask again",
            false,
        ),
        _ => status::unavailable(
            SOURCE,
            "CALLBACK_STORE_UNAVAILABLE",
            "the answer store is unavailable; apistore was not asked",
            true,
        ),
    };
    st.latency = prost_types::Duration::try_from(started.elapsed()).ok();
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(payload: &str) -> StoredResult {
        StoredResult {
            vendor: SOURCE.to_owned(),
            request_id: "r1".to_owned(),
            query_key: "k".to_owned(),
            received_at: SystemTime::now() - Duration::from_secs(120),
            payload: payload.to_owned(),
            sandbox: true,
            vendor_request_id: String::new(),
        }
    }

    #[test]
    fn a_reused_answer_says_its_age_and_costs_nothing() {
        let (answer, st) = answered(
            &stored(r#"{"codeid":10000,"vioNum":0,"data":[]}"#),
            &Served::Reused,
            Instant::now(),
        );
        assert!(matches!(answer, Some(Answer::Report(ref r)) if r.records.is_empty()));
        assert!(st.from_cache);
        assert!(st.cache_age.is_some_and(|a| a.seconds >= 119), "{st:?}");
        assert_eq!(
            (st.attempts, st.cost.is_none(), st.sandbox),
            (0, true, true)
        );
    }

    #[test]
    fn a_stored_failure_or_debug_data_is_never_an_answer() {
        for (payload, code) in [
            (
                r#"{"codeid":10024,"message":"调试模式数据","data":[{"vioCode":"1208"}]}"#,
                "10024",
            ),
            (r#"{"codeid":10021}"#, "10021"),
        ] {
            let (answer, st) = answered(&stored(payload), &Served::Joined, Instant::now());
            assert!(answer.is_none(), "{payload}");
            assert_eq!(st.vendor_code, code);
        }
        let (answer, st) = answered(&stored("not json"), &Served::Joined, Instant::now());
        assert!(answer.is_none());
        assert_eq!(st.state, SourceState::Failed as i32);
    }
}
