//! One vendor's callbacks: reuse a stored answer, or claim the key and submit once, or
//! join the claim already made; then wait for the callback within the caller's time.

mod claimant;
pub mod outcome;
mod reuse;
pub mod settings;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use self::claimant::{ClaimStep, Settled};
use self::outcome::{
    Answered, Asked, Failed, Pending, Stage, Submission, SubmitError, Submitted, recorded,
};
use self::reuse::{Reusable, reusable_result};
use self::settings::{Settings, SettingsError};
use crate::store::{Claim, ClaimState, PurgeReport, Store, StoreError, StoredResult};
use crate::waiters::{WaitGuard, Waiters};

/// The callback stack of one vendor: its store, its waiters, its settings. Cheap to
/// clone; the webhook endpoint of the vendor takes a clone so that an answer it stores
/// wakes the callers waiting here.
#[derive(Clone)]
pub struct Callbacks {
    vendor: Arc<str>,
    store: Arc<dyn Store>,
    waiters: Waiters,
    settings: Arc<Settings>,
    reusable: Arc<Reusable>,
    /// Claim tasks running in this process (each may hold a paid submission), shared by
    /// the clones: what [`Callbacks::submissions_settled`] waits on.
    running: Arc<tokio::sync::watch::Sender<usize>>,
}

/// Counts one claim task as running for as long as it lives.
struct Running(Arc<tokio::sync::watch::Sender<usize>>);

impl Running {
    fn enter(counter: &Arc<tokio::sync::watch::Sender<usize>>) -> Self {
        counter.send_modify(|n| *n += 1);
        Self(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks")
            .field("vendor", &self.vendor)
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How a caller's wait on a claim ended.
enum Waited<R, E> {
    Done(Asked<R, E>),
    /// The submission vanished without an answer: given up before anything was sent
    /// (a joiner claims again), or purged. The receipt, if any, comes back.
    Released(Option<R>),
}

impl Callbacks {
    /// The stack of `vendor` (the name its rows are filed under) on `store`. Every stored
    /// answer counts as reusable until [`Callbacks::reuse_if`] says otherwise.
    pub fn new(
        vendor: impl Into<String>,
        store: Arc<dyn Store>,
        settings: Settings,
    ) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(Self {
            vendor: Arc::from(vendor.into()),
            store,
            waiters: Waiters::default(),
            settings: Arc::new(settings),
            reusable: Arc::new(|_: &StoredResult| true),
            running: Arc::new(tokio::sync::watch::channel(0).0),
        })
    }

    /// Resolves once no submission started in this process is still running, i.e. every
    /// one has been settled in the store (accepted, answered, unclear, failed) or given
    /// back. A submission outlives the call that started it when that call's deadline
    /// ends first; a process that stops must await this (bounded by its grace period),
    /// or it leaves the key claimed by a submission nobody will settle: callers on every
    /// replica then wait `submit_window` for it, and the key is paid for again.
    pub fn submissions_settled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut running = self.running.subscribe();
        async move {
            // The sender lives as long as this stack: a closed channel means no task.
            let _ = running.wait_for(|n| *n == 0).await;
        }
    }

    /// Which stored answers may be served again instead of asking (and paying) anew: a
    /// vendor's "query failed" answer, for one, should not be.
    #[must_use]
    pub fn reuse_if(
        mut self,
        reusable: impl Fn(&StoredResult) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.reusable = Arc::new(reusable);
        self
    }

    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn waiters(&self) -> &Waiters {
        &self.waiters
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A stored answer for `key` that may be served without asking: the newest reusable
    /// one within `result_ttl`. Costs nothing (the fallback strategy uses it).
    pub async fn stored(&self, key: &str) -> Result<Option<StoredResult>, StoreError> {
        reusable_result(
            self.store.as_ref(),
            &self.vendor,
            &self.settings,
            self.reusable.as_ref(),
            key,
        )
        .await
    }

    /// Asks about `key`: a reusable stored answer if there is one; else the key is
    /// claimed and `submit` runs (once, across every caller and replica), or the claim
    /// already made is joined; then the answer is awaited until `deadline` or
    /// `max_wait`, whichever comes first.
    ///
    /// `submit` runs in its own task with its own deadline (`submit_timeout`): if this
    /// caller leaves before it started, the claim is given back; once it started it runs
    /// to its end and is settled for everyone. Its error type is recorded (as JSON) so
    /// that callers who joined, on any replica, get the same error back.
    ///
    /// `Err` only when the store cannot be used (or does not answer before `deadline`).
    pub async fn ask<F, Fut, R, E>(
        &self,
        key: &str,
        deadline: Option<Instant>,
        submit: F,
    ) -> Result<Asked<R, E>, StoreError>
    where
        F: FnOnce(Submission) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Submitted<R>, SubmitError<E>>> + Send + 'static,
        R: Send + 'static,
        E: Serialize + DeserializeOwned + std::fmt::Display + Send + 'static,
    {
        let wait_until = {
            let cap = Instant::now() + self.settings.max_wait;
            deadline.map_or(cap, |d| d.min(cap))
        };
        if let Some(result) = within(deadline, self.stored(key)).await? {
            return Ok(Asked::Answered(Answered {
                result,
                reused: true,
                receipt: None,
            }));
        }
        // Registered before the claim, so that nothing settled or stored from here on
        // goes unnoticed.
        let guard = self.waiters.register(&self.vendor, key);
        let mut submit = submit;
        // A joined claim can be given up (its caller left before submitting); then the
        // key is free and this caller claims again. Bounded: each round follows a claim
        // made and abandoned by someone else.
        for _ in 0..3 {
            let (tx, rx) = oneshot::channel();
            let candidate = format!("{:032x}", rand::random::<u128>());
            // Counted from before the spawn, so that a stop that comes meanwhile waits.
            let running = Running::enter(&self.running);
            // In the caller's trace: the paid submission is part of the request that
            // made it, even though it may outlive it.
            let task = claimant::run(
                claimant::Parts {
                    vendor: self.vendor.clone(),
                    store: self.store.clone(),
                    waiters: self.waiters.clone(),
                    settings: self.settings.clone(),
                    reusable: self.reusable.clone(),
                },
                key.to_owned(),
                candidate,
                submit,
                tx,
            );
            tokio::spawn(
                async move {
                    let _running = running;
                    task.await;
                }
                .instrument(tracing::Span::current()),
            );
            let step = within(deadline, async {
                rx.await
                    .map_err(|_| StoreError::Task("the claim task ended early".to_owned()))?
            })
            .await?;
            match step {
                ClaimStep::Stored(result) => {
                    return Ok(Asked::Answered(Answered {
                        result,
                        reused: true,
                        receipt: None,
                    }));
                }
                ClaimStep::Own(claim, settled) => {
                    return self.wait_own(key, claim, settled, &guard, wait_until).await;
                }
                ClaimStep::Join(claim, unused) => {
                    submit = unused;
                    match self.wait(key, &claim, None, &guard, wait_until).await? {
                        Waited::Done(asked) => return Ok(asked),
                        // Most often the claim joined was another caller's needless one,
                        // made between an answer being stored and that caller seeing
                        // it, and given back at once: the answer is there. Without this
                        // look, a crowd of identical callers chains such claims, and a
                        // caller that joins three in a row gives up with `Contended`.
                        Waited::Released(_) => {
                            if let Some(result) = within(deadline, self.stored(key)).await? {
                                return Ok(Asked::Answered(Answered {
                                    result,
                                    reused: true,
                                    receipt: None,
                                }));
                            }
                        }
                    }
                }
            }
        }
        Err(StoreError::Contended {
            key: key.to_owned(),
        })
    }

    /// The submitter: first how its own submission ended (its receipt and its own error,
    /// not a copy), then, when it was accepted, the callback.
    async fn wait_own<R, E>(
        &self,
        key: &str,
        claim: Claim,
        settled: oneshot::Receiver<Settled<R, E>>,
        guard: &WaitGuard,
        wait_until: Instant,
    ) -> Result<Asked<R, E>, StoreError>
    where
        E: DeserializeOwned,
    {
        let settled = match tokio::time::timeout_at(wait_until.into(), settled).await {
            Ok(Ok(s)) => s,
            // Still submitting when the caller's time ran out: it goes on without us.
            Err(_) => return Ok(self.pending(&claim, Stage::Submitting, None)),
            // The claim task itself was lost (runtime shutting down): the store knows
            // as much as anyone.
            Ok(Err(_)) => {
                return match self.wait(key, &claim, None, guard, wait_until).await? {
                    Waited::Done(asked) => Ok(asked),
                    Waited::Released(_) => Err(StoreError::Task(
                        "the claim task ended before settling".to_owned(),
                    )),
                };
            }
        };
        match settled {
            Settled::Answered { receipt, result } => Ok(Asked::Answered(Answered {
                result,
                reused: false,
                receipt: Some(receipt),
            })),
            Settled::NotSent { error, message } => Ok(Asked::Failed(Failed {
                request_id: claim.request_id,
                message,
                error: Some(error),
                own: true,
            })),
            Settled::Unclear { error, message } => {
                // The vendor may have called back before its reply to the submission was
                // lost (a reset after it took the query): then the answer is here, and
                // "may not have arrived" would be untrue. A store that cannot say is no
                // reason to fail the call: the unclear stage is still true.
                let answered = within(
                    Some(wait_until),
                    self.store.result_since(&self.vendor, key, claim.claimed_at),
                )
                .await;
                if let Ok(Some(result)) = answered {
                    return Ok(Asked::Answered(Answered {
                        result,
                        reused: false,
                        receipt: None,
                    }));
                }
                let stage = Stage::Unclear {
                    error,
                    message,
                    resubmit_at: SystemTime::now() + self.settings.unclear_resubmit_after,
                };
                let mut pending = self.pending_parts(&claim, stage, None);
                pending.retry_after = self.settings.unclear_resubmit_after;
                Ok(Asked::Pending(pending))
            }
            Settled::Accepted { receipt } => {
                match self
                    .wait(key, &claim, Some(receipt), guard, wait_until)
                    .await?
                {
                    Waited::Done(asked) => Ok(asked),
                    // Our own accepted submission vanished without an answer (purged):
                    // nothing more will come of waiting.
                    Waited::Released(receipt) => Ok(self.pending(&claim, Stage::Accepted, receipt)),
                }
            }
        }
    }

    /// Waits on a claim by reading the store: at every wake-up from this replica, and
    /// every `poll_interval` for what other replicas did.
    async fn wait<R, E>(
        &self,
        key: &str,
        claim: &Claim,
        receipt: Option<R>,
        guard: &WaitGuard,
        wait_until: Instant,
    ) -> Result<Waited<R, E>, StoreError>
    where
        E: DeserializeOwned,
    {
        let own = receipt.is_some();
        // What the submission was last seen doing, for a `Pending` at the end.
        let mut last = claim.state;
        let mut missing = 0;
        loop {
            let notified = guard.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let looked = within(Some(wait_until), async {
                let result = self
                    .store
                    .result_since(&self.vendor, key, claim.claimed_at)
                    .await?;
                if result.is_some() {
                    return Ok((result, None));
                }
                let submission = self
                    .store
                    .submission(&self.vendor, &claim.request_id)
                    .await?;
                Ok((None, submission))
            })
            .await;
            let submission = match looked {
                Ok((Some(result), _)) => {
                    return Ok(Waited::Done(Asked::Answered(Answered {
                        result,
                        reused: false,
                        receipt,
                    })));
                }
                Ok((None, submission)) => submission,
                // The store is slow and the caller's time is up: what we knew last.
                Err(StoreError::TimedOut) => {
                    return Ok(Waited::Done(self.pending(claim, stage_of(last), receipt)));
                }
                Err(e) => return Err(e),
            };
            let Some(submission) = submission else {
                // Answered between the two reads (the answer ends the submission), or
                // given up before anything was sent: look once more before concluding.
                missing += 1;
                if missing >= 2 {
                    return Ok(Waited::Released(receipt));
                }
                continue;
            };
            missing = 0;
            last = submission.state;
            match submission.state {
                ClaimState::Failed => {
                    let (error, message) = recorded::<E>(&submission.detail);
                    return Ok(Waited::Done(Asked::Failed(Failed {
                        request_id: claim.request_id.clone(),
                        error,
                        message,
                        own,
                    })));
                }
                ClaimState::Open
                    if SystemTime::now() >= submission.claimed_at + self.settings.submit_window =>
                {
                    // Nobody settled it within the window: its process died, perhaps
                    // with the request on the wire. Waiting longer teaches nothing; the
                    // caller hears what an unclear submission tells (the store holds the
                    // key as long).
                    let resubmit_at = submission.claimed_at
                        + self.settings.submit_window
                        + self.settings.unclear_resubmit_after;
                    return Ok(Waited::Done(self.unclear(
                        claim,
                        None,
                        ORPHANED.to_owned(),
                        resubmit_at,
                        receipt,
                    )));
                }
                ClaimState::Unclear => {
                    let (error, message) = recorded::<E>(&submission.detail);
                    let resubmit_at = submission.settled_at.unwrap_or(submission.claimed_at)
                        + self.settings.unclear_resubmit_after;
                    return Ok(Waited::Done(self.unclear(
                        claim,
                        error,
                        message,
                        resubmit_at,
                        receipt,
                    )));
                }
                ClaimState::Open | ClaimState::Accepted => {}
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = tokio::time::sleep_until(wait_until.into()) => {
                    return Ok(Waited::Done(self.pending(claim, stage_of(last), receipt)));
                }
            }
        }
    }

    /// `Pending` at the unclear stage, to be asked again at `resubmit_at`.
    fn unclear<R, E>(
        &self,
        claim: &Claim,
        error: Option<E>,
        message: String,
        resubmit_at: SystemTime,
        receipt: Option<R>,
    ) -> Asked<R, E> {
        let retry_after = resubmit_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1));
        let stage = Stage::Unclear {
            error,
            message,
            resubmit_at,
        };
        let mut pending = self.pending_parts(claim, stage, receipt);
        pending.retry_after = retry_after;
        Asked::Pending(pending)
    }

    fn pending_parts<R, E>(
        &self,
        claim: &Claim,
        stage: Stage<E>,
        receipt: Option<R>,
    ) -> Pending<R, E> {
        Pending {
            request_id: claim.request_id.clone(),
            claimed_at: claim.claimed_at,
            stage,
            retry_after: self.settings.pending_retry_after,
            receipt,
        }
    }

    fn pending<R, E>(&self, claim: &Claim, stage: Stage<E>, receipt: Option<R>) -> Asked<R, E> {
        Asked::Pending(self.pending_parts(claim, stage, receipt))
    }

    /// Deletes this vendor's rows that can no longer decide anything (see
    /// [`Store::purge`]), by the settings' windows and retention.
    pub async fn purge(&self) -> Result<PurgeReport, StoreError> {
        self.store
            .purge(
                &self.vendor,
                self.settings.claim_policy(),
                self.settings.retention(),
            )
            .await
    }

    /// Runs [`Callbacks::purge`] every `every` until the handle is aborted (or the
    /// runtime ends); failures are logged and retried at the next round.
    pub fn spawn_purge(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let cb = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match cb.purge().await {
                    Ok(r) => {
                        tracing::debug!(vendor = %cb.vendor, ?r, "callback store purged");
                    }
                    Err(e) => {
                        tracing::warn!(vendor = %cb.vendor, error = %e, "callback store purge failed");
                    }
                }
            }
        })
    }
}

/// The stage a `Pending` reports for a claim last seen in `state` (never failed or
/// unclear: those end the wait with their own outcome).
fn stage_of<E>(state: ClaimState) -> Stage<E> {
    match state {
        ClaimState::Open => Stage::Submitting,
        _ => Stage::Accepted,
    }
}

/// What callers hear of a submission nobody settled within the submit window.
const ORPHANED: &str = "the process that sent the query stopped before it learnt whether the \
     vendor took it; the vendor may have it";

/// Runs a store operation within the caller's deadline.
async fn within<T>(
    deadline: Option<Instant>,
    op: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), op)
            .await
            .map_err(|_| StoreError::TimedOut)?,
        None => op.await,
    }
}
