//! `Callbacks::ask` at the edges: callers that leave, submissions that outlive their
//! caller, panic or overrun, claims left by a dead process, a store that fails.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use callback::{
    Asked, Callbacks, Claim, ClaimPolicy, ClaimState, NewResult, PurgeReport, Retention, Settings,
    Settlement, SqliteStore, Stage, Store, StoreError, StoreFuture, StoredResult, Submission,
    SubmitError, Submitted,
};
use common::TempDb;

const AT_ONCE: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        max_wait: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        ..Settings::default()
    }
}

type Outcome = Result<Submitted<u32>, SubmitError<String>>;

fn counted(count: &Arc<AtomicU32>) -> Arc<AtomicU32> {
    count.clone()
}

/// A process that dies between its claim and the settlement may have died with the
/// request on the wire: the vendor may have the query. Within the submit window callers
/// join it (being submitted); past it they are told it may not have arrived (unclear),
/// and nobody pays again for `unclear_resubmit_after` more; then the key is taken over.
#[tokio::test]
async fn a_claim_left_by_a_dead_process_is_held_as_unclear_then_taken_over() {
    let db = TempDb::new("edges-dead");
    let store = Arc::new(SqliteStore::open(&db.0).expect("store"));
    let cb = Callbacks::new(
        "platecb",
        store.clone(),
        Settings {
            max_wait: Duration::from_millis(300),
            ..settings()
        },
    )
    .expect("settings");
    // A process claimed the plate and died before it could submit.
    let dead = store
        .claim(
            "platecb",
            "闽DD22222",
            "dead-ref",
            cb.settings().claim_policy(),
        )
        .await
        .expect("claim");
    assert!(dead.new);
    let count = Arc::new(AtomicU32::new(0));
    let c = counted(&count);
    let submit = move |_: Submission| async move {
        c.fetch_add(1, Ordering::SeqCst);
        Outcome::Ok(Submitted::accepted(None, 1))
    };
    // Within the window: joined, reported as being submitted, nothing paid.
    let joined = cb
        .ask("闽DD22222", None, submit.clone())
        .await
        .expect("store");
    assert!(
        matches!(&joined, Asked::Pending(p) if p.request_id == "dead-ref" && matches!(p.stage, Stage::Submitting)),
        "{joined:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 0);
    // Past the window (the claim aged in the file, as if minutes had passed) but within
    // the unclear one after it: told at once that it may not have arrived, nothing paid.
    let conn = rusqlite::Connection::open(&db.0).expect("open");
    let age = |ms: u64| {
        conn.execute(
            "UPDATE callback_claims SET claimed_at_ms = claimed_at_ms - ?1",
            [i64::try_from(ms).expect("ms")],
        )
        .expect("age");
        conn.execute(
            "UPDATE callback_submissions SET claimed_at_ms = claimed_at_ms - ?1",
            [i64::try_from(ms).expect("ms")],
        )
        .expect("age");
    };
    let window = u64::try_from(cb.settings().submit_window.as_millis()).expect("ms");
    let unclear = u64::try_from(cb.settings().unclear_resubmit_after.as_millis()).expect("ms");
    age(window + 1000);
    let asked_at = std::time::Instant::now();
    let held = cb
        .ask("闽DD22222", None, submit.clone())
        .await
        .expect("store");
    assert!(
        asked_at.elapsed() < Duration::from_millis(300),
        "answered at once, not after max_wait"
    );
    match &held {
        Asked::Pending(p) => {
            assert_eq!(p.request_id, "dead-ref");
            assert!(
                matches!(&p.stage, Stage::Unclear { error: None, message, .. } if message.contains("may have it")),
                "{held:?}"
            );
            assert!(
                p.retry_after + Duration::from_secs(5) > cb.settings().unclear_resubmit_after,
                "{held:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 0);
    // Past both: taken over, paid once.
    age(unclear);
    let taken = cb.ask("闽DD22222", None, submit).await.expect("store");
    assert!(
        matches!(&taken, Asked::Pending(p) if p.request_id != "dead-ref" && p.receipt == Some(1)),
        "{taken:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_callers_deadline_does_not_cut_the_submission() {
    // Today an expired caller deadline mid-submit made the submission unclear (and the
    // key pending for 14 h). The submission now runs on to its own end.
    let db = TempDb::new("edges-deadline");
    let store = Arc::new(SqliteStore::open(&db.0).expect("store"));
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let c = counted(&count);
    let slow = move |s: Submission| async move {
        c.fetch_add(1, Ordering::SeqCst);
        assert!(
            s.deadline > Instant::now() + Duration::from_secs(5),
            "the flow's deadline"
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        Outcome::Ok(Submitted::accepted(Some("v-9".into()), 1))
    };
    let started = Instant::now();
    let asked = cb
        .ask(
            "粤B12345",
            Some(Instant::now() + Duration::from_millis(200)),
            slow,
        )
        .await
        .expect("store");
    assert!(started.elapsed() < AT_ONCE);
    let Asked::Pending(p) = asked else {
        panic!("{asked:?}")
    };
    assert!(matches!(p.stage, Stage::Submitting), "{p:?}");
    // It settles without anyone listening.
    let deadline = Instant::now() + AT_ONCE;
    loop {
        let s = store
            .submission("platecb", &p.request_id)
            .await
            .expect("q")
            .expect("row");
        if s.state == ClaimState::Accepted {
            break;
        }
        assert!(Instant::now() < deadline, "settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        store
            .submission("platecb", "v-9")
            .await
            .expect("q")
            .is_some()
    );
    let next = cb
        .ask(
            "粤B12345",
            Some(Instant::now() + Duration::from_millis(300)),
            |_: Submission| async { Outcome::Err(SubmitError::NotSent("never".into())) },
        )
        .await
        .expect("store");
    assert!(
        matches!(&next, Asked::Pending(q) if matches!(q.stage, Stage::Accepted) && q.request_id == p.request_id),
        "{next:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_or_overrunning_submission_is_unclear() {
    let db = TempDb::new("edges-panic");
    let cb = Callbacks::new(
        "platecb",
        Arc::new(SqliteStore::open(&db.0).expect("store")),
        Settings {
            submit_timeout: Duration::from_millis(300),
            ..settings()
        },
    )
    .expect("settings");
    let panicked = cb
        .ask("k1", None, |_: Submission| async {
            // A connector bug: an unwrap on something the vendor did not send.
            let attempts: u32 = std::hint::black_box("").parse().expect("connector bug");
            Outcome::Ok(Submitted::accepted(None, attempts))
        })
        .await
        .expect("store");
    let Asked::Pending(p) = panicked else {
        panic!("{panicked:?}")
    };
    let Stage::Unclear { error, message, .. } = p.stage else {
        panic!("unclear")
    };
    assert!(error.is_none());
    assert!(message.contains("inside Axle"), "{message}");
    assert!(
        !message.contains("connector bug"),
        "a panic's text (which may quote vendor data) is not passed on: {message}"
    );
    // A connector that ignores its deadline: given up on after it (plus a margin).
    let started = Instant::now();
    let overran = cb
        .ask("k2", None, |_: Submission| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Outcome::Ok(Submitted::accepted(None, 1))
        })
        .await
        .expect("store");
    assert!(started.elapsed() < AT_ONCE);
    let Asked::Pending(p) = overran else {
        panic!("{overran:?}")
    };
    assert!(
        matches!(&p.stage, Stage::Unclear { error: None, message, .. } if message.contains("deadline")),
        "{p:?}"
    );
}

/// A SQLite store whose claims take `claim_delay`, or whose every call fails, or whose
/// first `hidden_looks` looks for stored answers find none (an answer stored just after
/// the look).
#[derive(Debug)]
struct Wrapped {
    inner: SqliteStore,
    claim_delay: Duration,
    broken: bool,
    hidden_looks: AtomicU32,
    /// Claims answered "held by someone else" with a claim that is gone when looked at:
    /// another caller's needless claim, given back at once.
    vanishing_claims: AtomicU32,
}

impl Wrapped {
    fn fail<T: Send + 'static>(&self) -> Option<StoreFuture<'_, T>> {
        self.broken.then(|| -> StoreFuture<'_, T> {
            Box::pin(async { Err(StoreError::Invalid("disk on fire".into())) })
        })
    }
}

impl Store for Wrapped {
    fn insert_result<'a>(&'a self, r: NewResult<'a>) -> StoreFuture<'a, bool> {
        self.fail().unwrap_or_else(|| self.inner.insert_result(r))
    }
    fn results_for_key<'a>(
        &'a self,
        v: &'a str,
        k: &'a str,
        age: Duration,
        limit: u32,
    ) -> StoreFuture<'a, Vec<StoredResult>> {
        let hidden = self
            .hidden_looks
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hidden {
            return Box::pin(async { Ok(Vec::new()) });
        }
        self.fail()
            .unwrap_or_else(|| self.inner.results_for_key(v, k, age, limit))
    }
    fn result_since<'a>(
        &'a self,
        v: &'a str,
        k: &'a str,
        since: SystemTime,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        self.fail()
            .unwrap_or_else(|| self.inner.result_since(v, k, since))
    }
    fn result_for_request<'a>(
        &'a self,
        v: &'a str,
        id: &'a str,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        self.fail()
            .unwrap_or_else(|| self.inner.result_for_request(v, id))
    }
    fn add_pending<'a>(&'a self, v: &'a str, id: &'a str, k: &'a str) -> StoreFuture<'a, ()> {
        self.fail()
            .unwrap_or_else(|| self.inner.add_pending(v, id, k))
    }
    fn submission<'a>(
        &'a self,
        v: &'a str,
        id: &'a str,
    ) -> StoreFuture<'a, Option<callback::SubmissionRecord>> {
        self.fail().unwrap_or_else(|| self.inner.submission(v, id))
    }
    fn claim<'a>(
        &'a self,
        v: &'a str,
        k: &'a str,
        candidate: &'a str,
        policy: ClaimPolicy,
    ) -> StoreFuture<'a, Claim> {
        if let Some(f) = self.fail() {
            return f;
        }
        let vanishing =
            self.vanishing_claims
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if let Ok(n) = vanishing {
            return Box::pin(async move {
                Ok(Claim {
                    request_id: format!("someone-elses-{n}"),
                    new: false,
                    claimed_at: SystemTime::now(),
                    state: ClaimState::Open,
                    settled_at: None,
                })
            });
        }
        Box::pin(async move {
            let claim = self.inner.claim(v, k, candidate, policy).await;
            tokio::time::sleep(self.claim_delay).await;
            claim
        })
    }
    fn settle<'a>(
        &'a self,
        v: &'a str,
        k: &'a str,
        id: &'a str,
        s: &'a Settlement,
    ) -> StoreFuture<'a, ()> {
        self.fail()
            .unwrap_or_else(|| self.inner.settle(v, k, id, s))
    }
    fn release<'a>(&'a self, v: &'a str, k: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        self.fail().unwrap_or_else(|| self.inner.release(v, k, id))
    }
    fn purge<'a>(
        &'a self,
        v: &'a str,
        p: ClaimPolicy,
        r: Retention,
    ) -> StoreFuture<'a, PurgeReport> {
        self.fail().unwrap_or_else(|| self.inner.purge(v, p, r))
    }
    fn schema_version(&self) -> StoreFuture<'_, u32> {
        self.fail().unwrap_or_else(|| self.inner.schema_version())
    }
}

/// The callback that answers a claimed key can be stored between a caller's look for a
/// stored answer and its claim: the claim then finds the key free (storing the answer
/// ended the claim it answered). The caller must be served that answer, not pay again.
/// Seen in plate-service's crash_under_load on PostgreSQL: a lookup polling for a plate
/// submitted it a second time just as its callback was stored.
#[tokio::test]
async fn an_answer_stored_between_the_look_and_the_claim_is_served_not_paid_again() {
    let db = TempDb::new("edges-late-answer");
    let inner = SqliteStore::open(&db.0).expect("store");
    inner
        .insert_result(NewResult {
            vendor: "platecb",
            request_id: "answered-just-now",
            vendor_request_id: "",
            query_key: "闽DD22222",
            payload: "answer",
            sandbox: true,
        })
        .await
        .expect("stored");
    let store = Arc::new(Wrapped {
        inner: inner.clone(),
        claim_delay: Duration::ZERO,
        broken: false,
        // The caller's look comes just before the answer is stored.
        hidden_looks: AtomicU32::new(1),
        vanishing_claims: AtomicU32::new(0),
    });
    let cb = Callbacks::new("platecb", store, settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let c = counted(&count);
    let asked = cb
        .ask("闽DD22222", None, move |_: Submission| async move {
            c.fetch_add(1, Ordering::SeqCst);
            Outcome::Ok(Submitted::accepted(None, 1))
        })
        .await
        .expect("store");
    let Asked::Answered(a) = asked else {
        panic!("{asked:?}")
    };
    assert_eq!(a.result.request_id, "answered-just-now");
    assert!(a.reused && a.receipt.is_none());
    assert_eq!(count.load(Ordering::SeqCst), 0, "not paid for again");
    // The claim made on the way was given back: the key is free.
    let policy = Settings::default().claim_policy();
    assert!(
        inner
            .claim("platecb", "闽DD22222", "next", policy)
            .await
            .expect("claim")
            .new
    );
}

/// Twenty identical callers under load: the first answer is stored while others have
/// looked (nothing yet) and are claiming; each of those claims is needless and given
/// back, and callers that joined them find them gone. Seen as CALLBACK_STORE_UNAVAILABLE
/// for some of twenty identical QueryViolations on a loaded machine: a caller that
/// joined three such claims in a row gave up (`Contended`).
#[tokio::test]
async fn a_caller_whose_joined_claims_keep_vanishing_finds_the_answer_stored_meanwhile() {
    let db = TempDb::new("edges-vanishing-claims");
    let inner = SqliteStore::open(&db.0).expect("store");
    inner
        .insert_result(NewResult {
            vendor: "apistore",
            request_id: "answered-just-now",
            vendor_request_id: "",
            query_key: "苏E9T8S1",
            payload: "answer",
            sandbox: true,
        })
        .await
        .expect("stored");
    // The claims it meets come after the answer (the store's times are in ms).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let store = Arc::new(Wrapped {
        inner: inner.clone(),
        claim_delay: Duration::ZERO,
        broken: false,
        // The caller's look comes just before the answer is stored ...
        hidden_looks: AtomicU32::new(1),
        // ... and every claim it could join is given back before it looks at it.
        vanishing_claims: AtomicU32::new(u32::MAX),
    });
    let cb = Callbacks::new("apistore", store, settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let c = counted(&count);
    let asked = tokio::time::timeout(
        AT_ONCE,
        cb.ask("苏E9T8S1", None, move |_: Submission| async move {
            c.fetch_add(1, Ordering::SeqCst);
            Outcome::Ok(Submitted::accepted(None, 1))
        }),
    )
    .await
    .expect("answers at once")
    .expect("not contended: the answer is stored");
    let Asked::Answered(a) = asked else {
        panic!("{asked:?}")
    };
    assert_eq!(a.result.request_id, "answered-just-now");
    assert!(a.reused && a.receipt.is_none());
    assert_eq!(count.load(Ordering::SeqCst), 0, "not paid for again");
}

#[tokio::test]
async fn a_caller_who_leaves_before_the_submission_gives_the_claim_back() {
    let db = TempDb::new("edges-leave");
    let inner = SqliteStore::open(&db.0).expect("store");
    let store = Arc::new(Wrapped {
        inner: inner.clone(),
        claim_delay: Duration::from_millis(400),
        broken: false,
        hidden_looks: AtomicU32::new(0),
        vanishing_claims: AtomicU32::new(0),
    });
    let cb = Callbacks::new("platecb", store, settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let c = counted(&count);
    // The caller's time runs out while its claim is being made.
    let left = cb
        .ask(
            "沪A12345",
            Some(Instant::now() + Duration::from_millis(100)),
            move |_: Submission| async move {
                c.fetch_add(1, Ordering::SeqCst);
                Outcome::Ok(Submitted::accepted(None, 1))
            },
        )
        .await;
    assert!(matches!(left, Err(StoreError::TimedOut)), "{left:?}");
    // Once the claim lands, the claim task finds nobody listening and gives it back.
    let deadline = Instant::now() + AT_ONCE;
    let policy = cb.settings().claim_policy();
    loop {
        let probe = inner
            .claim("platecb", "沪A12345", "probe", policy)
            .await
            .expect("claim");
        if probe.new {
            break;
        }
        assert!(Instant::now() < deadline, "given back: {probe:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "nothing was submitted for nobody"
    );
}

#[tokio::test]
async fn a_store_that_fails_is_an_error_not_a_guess() {
    let db = TempDb::new("edges-broken");
    let store = Arc::new(Wrapped {
        inner: SqliteStore::open(&db.0).expect("store"),
        claim_delay: Duration::ZERO,
        broken: true,
        hidden_looks: AtomicU32::new(0),
        vanishing_claims: AtomicU32::new(0),
    });
    let cb = Callbacks::new("platecb", store, settings()).expect("settings");
    let asked = cb
        .ask("k", None, |_: Submission| async {
            Outcome::Ok(Submitted::accepted(None, 1))
        })
        .await;
    assert!(
        matches!(&asked, Err(StoreError::Invalid(m)) if m == "disk on fire"),
        "{asked:?}"
    );
}

#[tokio::test]
async fn purge_runs_with_the_settings_windows() {
    let db = TempDb::new("edges-purge");
    let store = Arc::new(SqliteStore::open(&db.0).expect("store"));
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    let failed = cb
        .ask("k", None, |_: Submission| async {
            Outcome::Err(SubmitError::NotSent("refused".into()))
        })
        .await
        .expect("store");
    assert!(matches!(failed, Asked::Failed(_)));
    let report = cb.purge().await.expect("purge");
    assert_eq!(
        report.claims, 1,
        "the failed claim decides nothing: {report:?}"
    );
    let handle = cb.spawn_purge(Duration::from_secs(3600));
    handle.abort();
}
