//! The task that claims a key and, when the claim is new, makes the submission and
//! records how it ended.
//!
//! It runs apart from the caller so that a caller who leaves (deadline, cancelled RPC)
//! never leaves a claim behind unexplained: if it leaves before the submission starts,
//! the claim is given back; once the submission started, it runs to its end and is
//! settled, whoever is still listening.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use serde::Serialize;
use tokio::sync::oneshot;

use super::outcome::{Submission, SubmitError, Submitted, record};
use super::reuse::{Reusable, reusable_result};
use super::settings::Settings;
use crate::store::{Claim, NewResult, Settlement, Store, StoreError, StoredResult};
use crate::waiters::Waiters;

/// What the claimant needs of its `Callbacks` (handed over, so this module does not
/// depend on the one that spawns it).
#[derive(Clone)]
pub(super) struct Parts {
    pub(super) vendor: Arc<str>,
    pub(super) store: Arc<dyn Store>,
    pub(super) waiters: Waiters,
    pub(super) settings: Arc<Settings>,
    pub(super) reusable: Arc<Reusable>,
}

impl Parts {
    fn vendor(&self) -> &str {
        &self.vendor
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn waiters(&self) -> &Waiters {
        &self.waiters
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// What the caller learns from the claimant.
pub(super) enum ClaimStep<F, R, E> {
    /// The key was free because an answer had just been stored (ending the claim it
    /// answered): that answer; nothing was submitted.
    Stored(StoredResult),
    /// The claim is the caller's; the submission's end comes on the receiver.
    Own(Claim, oneshot::Receiver<Settled<R, E>>),
    /// Someone else holds it: join it (the submit function comes back unused).
    Join(Claim, F),
}

/// How this caller's own submission ended.
pub(super) enum Settled<R, E> {
    Accepted { receipt: R },
    Answered { receipt: R, result: StoredResult },
    NotSent { error: E, message: String },
    Unclear { error: Option<E>, message: String },
}

pub(super) async fn run<F, Fut, R, E>(
    cb: Parts,
    key: String,
    candidate: String,
    submit: F,
    reply: oneshot::Sender<Result<ClaimStep<F, R, E>, StoreError>>,
) where
    F: FnOnce(Submission) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Submitted<R>, SubmitError<E>>> + Send + 'static,
    R: Send + 'static,
    E: Serialize + std::fmt::Display + Send + 'static,
{
    let vendor = cb.vendor();
    let claim = match cb
        .store()
        .claim(vendor, &key, &candidate, cb.settings().claim_policy())
        .await
    {
        Ok(c) => c,
        Err(e) => {
            let _ = reply.send(Err(e));
            return;
        }
    };
    if !claim.new {
        let _ = reply.send(Ok(ClaimStep::Join(claim, submit)));
        return;
    }
    // The caller looked for a stored answer before claiming. A callback stored since
    // then ended the claim it answered, which is why this one is new: look again, or the
    // key is paid for twice. An answer and the end of its claim are committed together,
    // so an answer that freed the key is visible here.
    let stored = reusable_result(
        cb.store().as_ref(),
        vendor,
        cb.settings(),
        cb.reusable.as_ref(),
        &key,
    )
    .await;
    let step = match stored {
        Ok(None) => None,
        Ok(Some(result)) => Some(Ok(ClaimStep::Stored(result))),
        Err(e) => Some(Err(e)),
    };
    if let Some(step) = step {
        if let Err(e) = cb.store().release(vendor, &key, &claim.request_id).await {
            tracing::error!(error = %e, vendor, "cannot release a claim made needlessly");
        }
        let _ = reply.send(step);
        return;
    }
    let (done_tx, done_rx) = oneshot::channel();
    if reply
        .send(Ok(ClaimStep::Own(claim.clone(), done_rx)))
        .is_err()
    {
        // The caller left before anything was sent: nobody wants this query, and the key
        // must not wait on a query never made.
        if let Err(e) = cb.store().release(vendor, &key, &claim.request_id).await {
            tracing::error!(error = %e, vendor, "cannot release an abandoned claim");
        }
        return;
    }
    let settled = submit_and_settle(&cb, &key, &claim, submit).await;
    // The submitter first (its receipt, its own error), then everyone else waiting here.
    let _ = done_tx.send(settled);
    cb.waiters().wake(vendor, &key);
}

async fn submit_and_settle<F, Fut, R, E>(
    cb: &Parts,
    key: &str,
    claim: &Claim,
    submit: F,
) -> Settled<R, E>
where
    F: FnOnce(Submission) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Submitted<R>, SubmitError<E>>> + Send + 'static,
    R: Send + 'static,
    E: Serialize + std::fmt::Display + Send + 'static,
{
    let vendor = cb.vendor();
    let submit_timeout = cb.settings().submit_timeout;
    let submission = Submission {
        request_id: claim.request_id.clone(),
        key: key.to_owned(),
        deadline: Instant::now() + submit_timeout,
    };
    // Its own task: a panic in the connector is an outcome here, not a lost claim.
    let task =
        tokio::spawn(async move { submit(submission).await }.instrument(tracing::Span::current()));
    let abort = task.abort_handle();
    let outcome = tokio::time::timeout(submit_timeout + Settings::SETTLE_MARGIN / 2, task).await;
    let (settled, settlement) = match outcome {
        Err(_) => {
            abort.abort();
            let message = format!(
                "the submission did not end within its {submit_timeout:?} deadline; \
                 the vendor may have it"
            );
            tracing::error!(vendor, %message);
            let detail = record::<E>(None, &message);
            (
                Settled::Unclear {
                    error: None,
                    message,
                },
                Settlement::Unclear { detail },
            )
        }
        Ok(Err(join)) => {
            // The panic's text is for the operator's log only: it may quote vendor data,
            // and the message goes to every caller who joins.
            tracing::error!(vendor, error = %join, "the submission task failed");
            let message = "the submission failed inside Axle; the vendor may have it".to_owned();
            let detail = record::<E>(None, &message);
            (
                Settled::Unclear {
                    error: None,
                    message,
                },
                Settlement::Unclear { detail },
            )
        }
        Ok(Ok(Err(SubmitError::NotSent(e)))) => {
            let message = e.to_string();
            let detail = record(Some(&e), &message);
            (
                Settled::NotSent { error: e, message },
                Settlement::Failed { detail },
            )
        }
        Ok(Ok(Err(SubmitError::Unclear(e)))) => {
            let message = e.to_string();
            let detail = record(Some(&e), &message);
            (
                Settled::Unclear {
                    error: Some(e),
                    message,
                },
                Settlement::Unclear { detail },
            )
        }
        Ok(Ok(Ok(Submitted {
            vendor_request_id,
            answer: Some(answer),
            receipt,
        }))) => {
            let vendor_id = vendor_request_id.unwrap_or_default();
            let new = NewResult {
                vendor,
                request_id: &claim.request_id,
                vendor_request_id: &vendor_id,
                query_key: key,
                payload: &answer.payload,
                sandbox: answer.sandbox,
            };
            // Storing the answer ends the claim and the submission (see insert_result).
            let stored = retry(|| cb.store().insert_result(new)).await;
            let result = match stored {
                Ok(_) => cb
                    .store()
                    .result_for_request(vendor, &claim.request_id)
                    .await
                    .ok()
                    .flatten(),
                Err(ref e) => {
                    tracing::error!(error = %e, vendor, "cannot store an answer the vendor gave at once");
                    None
                }
            };
            let result = result.unwrap_or_else(|| StoredResult {
                vendor: vendor.to_owned(),
                request_id: claim.request_id.clone(),
                query_key: key.to_owned(),
                received_at: std::time::SystemTime::now(),
                payload: answer.payload.clone(),
                sandbox: answer.sandbox,
                vendor_request_id: vendor_id.clone(),
            });
            if stored.is_err() {
                // Paid for and not stored: at least hold the key, so nobody pays again
                // while the answer cannot be kept.
                let accepted = Settlement::Accepted {
                    vendor_request_id: Some(vendor_id).filter(|id| !id.is_empty()),
                };
                settle(cb, key, &claim.request_id, &accepted).await;
            }
            return Settled::Answered { receipt, result };
        }
        Ok(Ok(Ok(Submitted {
            vendor_request_id,
            answer: None,
            receipt,
        }))) => (
            Settled::Accepted { receipt },
            Settlement::Accepted { vendor_request_id },
        ),
    };
    settle(cb, key, &claim.request_id, &settlement).await;
    settled
}

/// Records a settlement, retrying briefly: an accepted submission left `open` would be
/// taken over after the submit window and paid twice.
async fn settle(cb: &Parts, key: &str, request_id: &str, settlement: &Settlement) {
    let vendor = cb.vendor();
    if let Err(e) = retry(|| cb.store().settle(vendor, key, request_id, settlement)).await {
        tracing::error!(error = %e, vendor, state = settlement.state().as_str(), "cannot record how a submission ended");
    }
}

/// Runs a store operation up to three times, 100 ms then 500 ms apart.
async fn retry<'a, T>(
    mut op: impl FnMut() -> crate::store::StoreFuture<'a, T>,
) -> Result<T, StoreError> {
    let mut pauses = [Duration::from_millis(100), Duration::from_millis(500)].into_iter();
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => match pauses.next() {
                Some(p) => {
                    tracing::warn!(error = %e, "callback store write failed; retrying");
                    tokio::time::sleep(p).await;
                }
                None => return Err(e),
            },
        }
    }
}
