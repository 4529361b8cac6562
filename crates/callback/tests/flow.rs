//! `Callbacks::ask`: one paid submission per key, joined callers, and how every way a
//! submission can end reaches every caller. Real stores, fake vendors (closures).
//!
//! "At once" is checked against a generous bound (10 s) with `max_wait` set far above
//! it (60 s): a caller that waited for the callback instead would miss the bound.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use callback::{
    Asked, Callbacks, NewResult, Settings, SqliteStore, Stage, Store, SubmitError, Submitted,
};
use common::TempDb;
use serde::{Deserialize, Serialize};

/// A vendor's error as a connector would classify it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VendorFailure {
    code: String,
}

impl std::fmt::Display for VendorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vendor said {}", self.code)
    }
}

type Outcome = Asked<&'static str, VendorFailure>;

const AT_ONCE: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        max_wait: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        ..Settings::default()
    }
}

fn sqlite(db: &TempDb) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&db.0).expect("store"))
}

type VendorResult = Result<Submitted<&'static str>, SubmitError<VendorFailure>>;
type VendorCall = std::pin::Pin<Box<dyn std::future::Future<Output = VendorResult> + Send>>;

/// A vendor that takes `delay`, then answers `outcome`; counts its submissions.
fn vendor(
    count: &Arc<AtomicU32>,
    delay: Duration,
    outcome: VendorResult,
) -> impl FnOnce(callback::Submission) -> VendorCall + Send + 'static {
    let count = count.clone();
    move |_submission| {
        count.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            outcome
        })
    }
}

fn not_sent(code: &str) -> VendorResult {
    Err(SubmitError::NotSent(VendorFailure { code: code.into() }))
}

/// `n` callers asking about `key` at once on `cb`, each with a fresh vendor closure.
async fn callers(
    cb: &Callbacks,
    key: &str,
    n: usize,
    count: &Arc<AtomicU32>,
    delay: Duration,
    outcome: VendorResult,
) -> Vec<Outcome> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let cb = cb.clone();
            let key = key.to_owned();
            let submit = vendor(count, delay, outcome.clone());
            tokio::spawn(async move { cb.ask(&key, None, submit).await.expect("store works") })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            tokio::time::timeout(AT_ONCE, t)
                .await
                .expect("answered at once, not after max_wait")
                .expect("task"),
        );
    }
    out
}

#[tokio::test]
async fn joined_callers_learn_a_failed_submission_at_once() {
    // Today's defect: the first caller returned in ms, everyone who joined its claim
    // waited the full max_wait and then said "accepted".
    let db = TempDb::new("flow-failed");
    let cb = Callbacks::new("platecb", sqlite(&db), settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let outcomes = callers(
        &cb,
        "闽DD22222",
        6,
        &count,
        Duration::from_millis(300),
        not_sent("10025"),
    )
    .await;
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one submission for six callers"
    );
    let mut own = 0;
    for o in outcomes {
        let Asked::Failed(f) = o else {
            panic!("every caller learns the failure: {o:?}")
        };
        assert_eq!(
            f.error,
            Some(VendorFailure {
                code: "10025".into()
            })
        );
        assert_eq!(f.message, "vendor said 10025");
        own += u32::from(f.own);
    }
    assert_eq!(own, 1, "exactly one caller made the submission");
    // A certain failure frees the key: the next caller asks again.
    let again = callers(
        &cb,
        "闽DD22222",
        1,
        &count,
        Duration::ZERO,
        not_sent("10025"),
    )
    .await;
    assert!(matches!(again[0], Asked::Failed(_)));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// Two replicas: separate stores (and waiters) on one database.
async fn across_replicas(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let first = Callbacks::new("platecb", a, settings()).expect("settings");
    let second = Callbacks::new("platecb", b, settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let submitter = {
        let first = first.clone();
        let submit = vendor(&count, Duration::from_millis(600), not_sent("10018"));
        tokio::spawn(async move { first.ask("粤B12345", None, submit).await })
    };
    // The other replica's caller comes while the submission is under way.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let joined = tokio::time::timeout(
        AT_ONCE,
        second.ask(
            "粤B12345",
            None,
            vendor(&count, Duration::ZERO, not_sent("never")),
        ),
    )
    .await
    .expect("learned by polling, not after max_wait")
    .expect("store works");
    let Asked::Failed(f) = joined else {
        panic!("the joiner on the other replica learns the failure: {joined:?}")
    };
    assert!(!f.own);
    assert_eq!(
        f.error,
        Some(VendorFailure {
            code: "10018".into()
        })
    );
    assert!(started.elapsed() < AT_ONCE);
    let Asked::Failed(mine) = submitter.await.expect("task").expect("store") else {
        panic!("the submitter's own failure")
    };
    assert!(mine.own);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failure_reaches_callers_on_another_replica_sqlite() {
    let db = TempDb::new("flow-replicas");
    across_replicas(sqlite(&db), sqlite(&db)).await;
}

#[tokio::test]
async fn a_failure_reaches_callers_on_another_replica_postgres() {
    let Some(schema) = common::PgSchema::create("flow_replicas_postgres").await else {
        return;
    };
    across_replicas(
        Arc::new(schema.store().await),
        Arc::new(schema.store().await),
    )
    .await;
}

#[tokio::test]
async fn an_unclear_submission_is_said_at_once_and_resubmitted_after_its_window() {
    // Today's defect: after a reset mid-submit the key stayed "pending" for 14 h and
    // every caller waited 10 s to hear "accepted".
    let db = TempDb::new("flow-unclear");
    let store = sqlite(&db);
    let cb = Callbacks::new(
        "platecb",
        store.clone(),
        Settings {
            unclear_resubmit_after: Duration::from_secs(2),
            ..settings()
        },
    )
    .expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let reset = Err(SubmitError::Unclear(VendorFailure {
        code: "connection reset".into(),
    }));
    let first = callers(
        &cb,
        "沪A12345",
        3,
        &count,
        Duration::from_millis(200),
        reset,
    )
    .await;
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let mut request_ids = Vec::new();
    for o in first {
        let Asked::Pending(p) = o else {
            panic!("unclear is pending, said honestly: {o:?}")
        };
        let Stage::Unclear { error, message, .. } = &p.stage else {
            panic!("a stage of its own: {p:?}")
        };
        assert_eq!(
            error.as_ref().map(|e| e.code.as_str()),
            Some("connection reset")
        );
        assert!(message.contains("connection reset"), "{message}");
        assert!(p.retry_after > Duration::ZERO && p.retry_after <= Duration::from_secs(2));
        request_ids.push(p.request_id);
    }
    // Within the window: told at once, nothing paid again.
    let again = callers(&cb, "沪A12345", 1, &count, Duration::ZERO, not_sent("x")).await;
    assert!(
        matches!(&again[0], Asked::Pending(p) if matches!(p.stage, Stage::Unclear { .. })),
        "{again:?}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "no second payment within the window"
    );
    // The submission may have arrived after all: its callback is still taken.
    let sub = store
        .submission("platecb", &request_ids[0])
        .await
        .expect("q")
        .expect("kept");
    assert!(sub.state.awaits_callback());
    // After the window the key is submitted again.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let later = callers(
        &cb,
        "沪A12345",
        1,
        &count,
        Duration::ZERO,
        Ok(Submitted::answered(None, "{}".into(), true, "receipt")),
    )
    .await;
    assert!(matches!(later[0], Asked::Answered(_)), "{later:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_callback_for_an_unclear_submission_is_served() {
    let db = TempDb::new("flow-unclear-answered");
    let store = sqlite(&db);
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let reset = Err(SubmitError::Unclear(VendorFailure {
        code: "timeout".into(),
    }));
    let first = callers(&cb, "京A00001", 1, &count, Duration::ZERO, reset).await;
    let Asked::Pending(p) = &first[0] else {
        panic!("{first:?}")
    };
    store
        .insert_result(NewResult {
            vendor: "platecb",
            request_id: &p.request_id,
            vendor_request_id: "",
            query_key: "京A00001",
            payload: r#"{"c_vin":"LNBSCC3H5JT920714"}"#,
            sandbox: false,
        })
        .await
        .expect("the webhook stores it");
    let next = callers(&cb, "京A00001", 1, &count, Duration::ZERO, not_sent("x")).await;
    let Asked::Answered(a) = &next[0] else {
        panic!("{next:?}")
    };
    assert!(a.reused && a.result.payload.contains("LNBSCC3H5JT920714"));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// The vendor took the query and called back before its reply to the submission was
/// lost: the submitter is given the answer, not told the query may not have arrived.
#[tokio::test]
async fn an_unclear_submission_answered_meanwhile_is_the_answer() {
    let db = TempDb::new("flow-unclear-already-answered");
    let store = sqlite(&db);
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    let webhook = store.clone();
    let asked = tokio::time::timeout(
        AT_ONCE,
        cb.ask(
            "京A00002",
            None,
            move |submission: callback::Submission| async move {
                // The callback lands while the submission's reply is still on its way...
                webhook
                    .insert_result(NewResult {
                        vendor: "platecb",
                        request_id: &submission.request_id,
                        vendor_request_id: "",
                        query_key: &submission.key,
                        payload: r#"{"c_vin":"LNBSCC3H5JT920714"}"#,
                        sandbox: false,
                    })
                    .await
                    .expect("the webhook stores it");
                // ... and then the reply is lost.
                Err::<Submitted<&'static str>, _>(SubmitError::Unclear(VendorFailure {
                    code: "reset".into(),
                }))
            },
        ),
    )
    .await
    .expect("at once")
    .expect("store works");
    let Asked::Answered(a) = &asked else {
        panic!("{asked:?}")
    };
    assert!(!a.reused && a.receipt.is_none(), "{a:?}");
    assert!(a.result.payload.contains("LNBSCC3H5JT920714"));
}

#[tokio::test]
async fn an_accepted_query_is_answered_by_its_callback_for_everyone() {
    let db = TempDb::new("flow-accepted");
    let store = sqlite(&db);
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let waiting = {
        let cb = cb.clone();
        let count = count.clone();
        tokio::spawn(async move {
            callers(
                &cb,
                "闽DD22222",
                4,
                &count,
                Duration::from_millis(100),
                Ok(Submitted::accepted(Some("vendor-7".into()), "cost 0.12")),
            )
            .await
        })
    };
    // The vendor calls back under its own id, which the acceptance named.
    let deadline = Instant::now() + AT_ONCE;
    while store
        .submission("platecb", "vendor-7")
        .await
        .expect("q")
        .is_none()
    {
        assert!(Instant::now() < deadline, "the acceptance was recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store
        .insert_result(NewResult {
            vendor: "platecb",
            request_id: "vendor-7",
            vendor_request_id: "vendor-7",
            query_key: "闽DD22222",
            payload: "answer",
            sandbox: true,
        })
        .await
        .expect("stored");
    cb.waiters().wake("platecb", "闽DD22222");
    let outcomes = waiting.await.expect("task");
    let mut receipts = Vec::new();
    for o in outcomes {
        let Asked::Answered(a) = o else {
            panic!("{o:?}")
        };
        assert!(!a.reused);
        assert_eq!(a.result.payload, "answer");
        receipts.extend(a.receipt);
    }
    assert_eq!(
        receipts,
        ["cost 0.12"],
        "the charge is the submitter's alone"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(cb.waiters().is_empty(), "nobody left registered");
}

/// A stop waits for a paid submission its caller left behind, and the wait ends only
/// once the submission's outcome is in the store: what a process stopping on SIGTERM
/// relies on so as not to leave a key claimed by a submission nobody will settle.
#[tokio::test]
async fn a_submission_outliving_its_caller_is_awaited_until_settled() {
    let db = TempDb::new("flow-settled");
    let store = sqlite(&db);
    let cb = Callbacks::new("platecb", store.clone(), settings()).expect("settings");
    tokio::time::timeout(Duration::from_millis(200), cb.submissions_settled())
        .await
        .expect("nothing running: settled at once");
    let count = Arc::new(AtomicU32::new(0));
    let submit = vendor(
        &count,
        Duration::from_millis(800),
        Ok(Submitted::accepted(None, "cost 0.12")),
    );
    let asked = Instant::now();
    // The caller's deadline ends long before the vendor answers.
    let _ = cb
        .ask(
            "闽DD22222",
            Some(asked + Duration::from_millis(200)),
            submit,
        )
        .await;
    assert_eq!(count.load(Ordering::SeqCst), 1, "the submission started");
    tokio::time::timeout(AT_ONCE, cb.submissions_settled())
        .await
        .expect("settled once the vendor answered");
    assert!(
        asked.elapsed() >= Duration::from_millis(800),
        "not before the submission ended: {:?}",
        asked.elapsed()
    );
    let claim = store
        .claim(
            "platecb",
            "闽DD22222",
            "probe",
            callback::ClaimPolicy {
                submit_window: Duration::from_secs(3600),
                accepted_ttl: Duration::from_secs(3600),
                unclear_resubmit_after: Duration::from_secs(3600),
            },
        )
        .await
        .expect("claim read");
    assert!(!claim.new, "{claim:?}");
    assert_eq!(
        claim.state,
        callback::ClaimState::Accepted,
        "recorded before the wait ended"
    );
}

#[tokio::test]
async fn a_synchronous_answer_is_stored_and_served_again_for_free() {
    let db = TempDb::new("flow-sync");
    let cb = Callbacks::new("platecb", sqlite(&db), settings()).expect("settings");
    let count = Arc::new(AtomicU32::new(0));
    let first = callers(
        &cb,
        "粤B00001",
        1,
        &count,
        Duration::ZERO,
        Ok(Submitted::answered(
            Some("v-1".into()),
            "data".into(),
            false,
            "billed",
        )),
    )
    .await;
    let Asked::Answered(a) = &first[0] else {
        panic!("{first:?}")
    };
    assert_eq!((a.reused, a.receipt), (false, Some("billed")));
    assert_eq!(a.result.id_for_vendor(), "v-1");
    let second = callers(&cb, "粤B00001", 1, &count, Duration::ZERO, not_sent("x")).await;
    assert!(matches!(&second[0], Asked::Answered(a) if a.reused && a.receipt.is_none()));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(
        cb.stored("粤B00001").await.expect("q").map(|r| r.payload),
        Some("data".into())
    );
}

#[tokio::test]
async fn failed_answers_are_not_reused() {
    let db = TempDb::new("flow-reuse");
    let cb = Callbacks::new("platecb", sqlite(&db), settings())
        .expect("settings")
        .reuse_if(|r| !r.payload.contains("\"result_status\":\"3\""));
    let count = Arc::new(AtomicU32::new(0));
    let failed = r#"{"result_status":"3"}"#;
    for round in 1..=2 {
        let o = callers(
            &cb,
            "津A00003",
            1,
            &count,
            Duration::ZERO,
            Ok(Submitted::answered(None, failed.into(), false, "r")),
        )
        .await;
        assert!(matches!(&o[0], Asked::Answered(a) if !a.reused), "{o:?}");
        assert_eq!(count.load(Ordering::SeqCst), round, "asked anew each time");
    }
}
