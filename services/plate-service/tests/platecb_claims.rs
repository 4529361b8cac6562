//! One paid platecb query per plate, end to end through LookupVehicle (issue 8, part 12):
//! lookups that join a submission learn at once how it ended, whether platecb refused it
//! or it may never have arrived; a submission that may have arrived is not paid for
//! twice, is said to be unclear, and is made again only after `unclear_resubmit_after`.
//!
//! Timings are bounds far from what they separate: `max_wait` is 10 s, which every
//! joined lookup used to wait in full; the assertions allow a few seconds.

mod common;

use std::time::{Duration, Instant};

use common::{Suite, faults, lookup, lookup_on, platecb_calls, status, suite};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use tonic::Code;

/// What each lookup saw, and how long it took.
async fn concurrent(s: &Suite, plate: &str, n: usize) -> Vec<(SourceStatus, Duration)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut client = s.client.clone();
        let plate = plate.to_owned();
        set.spawn(async move {
            let started = Instant::now();
            let r = lookup_on(&mut client, &plate).await.expect("answer");
            (status(&r, "platecb").clone(), started.elapsed())
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.expect("lookup task"));
    }
    out
}

fn platecb_only(c: &mut plate_service::config::PlateServiceConfig) {
    c.vendors.xiaoshibao.enabled = false;
    c.vendors.platecb.max_wait = Duration::from_secs(10);
}

/// platecb answers at once and no callback will come: a 10025 (查无数据) or an HTTP
/// 400. Every lookup that joined the submission gets the same outcome as the one that
/// made it, promptly, not PENDING after `max_wait`; platecb is asked once.
#[tokio::test]
async fn joined_lookups_learn_an_immediate_refusal_at_once() {
    let slow = serde_json::json!({ "kind": "fixed", "ms": 2500 });
    for (plate, rule, outcome, state, code) in [
        // No fixture: the sandbox's platecb answers 10025 at once, with no callback.
        (
            "粤B99999",
            serde_json::json!({ "vendor": "platecb", "latency": slow }),
            "10025",
            SourceState::NotFound,
            Code::NotFound,
        ),
        (
            "沪A12345",
            serde_json::json!({ "vendor": "platecb", "latency": slow,
                                "action": { "kind": "http_status", "status": 400 } }),
            "http_400",
            SourceState::Failed,
            Code::FailedPrecondition,
        ),
    ] {
        let s = suite(platecb_only).await;
        // The vendor takes 2.5 s to refuse: every lookup is in flight before it does.
        faults(&s.sandbox, serde_json::json!([rule])).await;
        let seen = concurrent(&s, plate, 6).await;
        for (st, took) in &seen {
            assert!(
                *took < Duration::from_secs(8),
                "{outcome}: a joined lookup waited {took:?} (max_wait is 10 s): {st:?}"
            );
            assert_eq!(
                (
                    st.state,
                    st.code,
                    st.reason.as_str(),
                    st.vendor_code.as_str()
                ),
                (
                    state as i32,
                    code as i32,
                    seen[0].0.reason.as_str(),
                    seen[0].0.vendor_code.as_str()
                ),
                "{outcome}: every lookup has the submission's outcome: {st:?}"
            );
        }
        assert_eq!(
            platecb_calls(&s.sandbox, outcome).await,
            1,
            "{outcome}: one submission for six lookups"
        );
        let attempts: u32 = seen.iter().map(|(st, _)| st.attempts).sum();
        assert_eq!(attempts, 1, "{outcome}: only the submitter made a call");
    }
}

/// The submission's connection is reset after platecb read it: it may have arrived (and
/// be billed) or not. Lookups are told so at once, with a reason of its own; nobody pays
/// again before `unclear_resubmit_after`; after it, the plate is submitted again.
#[tokio::test]
async fn an_unclear_submission_is_said_at_once_and_resubmitted_after_its_window() {
    let mut s = suite(|c| {
        platecb_only(c);
        c.vendors.platecb.unclear_resubmit_after = Duration::from_secs(6);
    })
    .await;
    faults(
        &s.sandbox,
        serde_json::json!([{ "vendor": "platecb", "times": 1,
                             "latency": { "kind": "fixed", "ms": 2000 },
                             "action": { "kind": "reset" } }]),
    )
    .await;
    let seen = concurrent(&s, "沪A12345", 4).await;
    for (st, took) in &seen {
        assert!(*took < Duration::from_secs(8), "waited {took:?}: {st:?}");
        assert_eq!(
            (st.state, st.code, st.reason.as_str()),
            (
                SourceState::Pending as i32,
                Code::Unavailable as i32,
                "VENDOR_SUBMISSION_UNCLEAR"
            ),
            "{st:?}"
        );
        assert!(st.message.contains("may not have arrived"), "{st:?}");
        assert!(
            !st.message.contains("accepted"),
            "nothing says it was: {st:?}"
        );
        let retry = st.retry_after.expect("when to ask again");
        assert!((1..=6).contains(&retry.seconds), "{st:?}");
    }
    let attempts: u32 = seen.iter().map(|(st, _)| st.attempts).sum();
    assert_eq!(attempts, 1, "only the submitter made a call");

    // A later lookup within the window is told the same at once, and pays nothing.
    let started = Instant::now();
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(st.reason, "VENDOR_SUBMISSION_UNCLEAR", "{st:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "not made to wait for a callback that may never come: {:?}",
        started.elapsed()
    );
    assert_eq!(platecb_calls(&s.sandbox, "reset").await, 1);
    assert_eq!(
        platecb_calls(&s.sandbox, "10023").await,
        0,
        "no second paid submission within the window"
    );

    // Past the window the plate is submitted again, and answered by callback.
    let wait = st.retry_after.expect("retry after");
    let wait = Duration::new(
        u64::try_from(wait.seconds).expect("positive"),
        u32::try_from(wait.nanos).expect("positive"),
    );
    tokio::time::sleep(wait + Duration::from_millis(500)).await;
    let r = lookup(&mut s, "沪A12345").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
    assert_eq!(
        platecb_calls(&s.sandbox, "10023").await,
        1,
        "resubmitted once"
    );
}

/// A submission whose answer never came back (the platform is too slow to answer within
/// `request_timeout`) did arrive: its callback is still taken, and served to the next
/// lookup without a new submission.
#[tokio::test]
async fn a_callback_for_an_unclear_submission_is_still_taken() {
    let mut s = common::suite_full(
        // The callback comes well after the submission has timed out.
        |sb| sb.platecb.first_delivery_ms = 3000,
        |c| {
            platecb_only(c);
            c.vendors.platecb.http.request_timeout = Duration::from_millis(400);
        },
    )
    .await;
    // Accepted at once, then the answer's body dribbles for seconds.
    faults(
        &s.sandbox,
        serde_json::json!([{ "vendor": "platecb", "times": 1,
                             "action": { "kind": "slow_body", "chunk_bytes": 2, "interval_ms": 500 } }]),
    )
    .await;
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(st.reason, "VENDOR_SUBMISSION_UNCLEAR", "{st:?}");
    // The callback arrives and is stored; the next lookup is answered by it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = lookup(&mut s, "闽DD22222").await.expect("answer");
        let st = status(&r, "platecb").clone();
        if st.state == SourceState::Ok as i32 {
            assert_eq!(r.usage.map(|u| u.code), Some("A".to_owned()), "非营业个人");
            break;
        }
        assert_eq!(st.reason, "VENDOR_SUBMISSION_UNCLEAR", "{st:?}");
        assert!(Instant::now() < deadline, "the callback was never taken");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        platecb_calls(&s.sandbox, "10023").await,
        1,
        "answered without a second submission"
    );
}

/// platecb takes the query and calls back while its reply to the submission is still
/// dribbling in, then the reply times out: the lookup that submitted is given the
/// answer, not told that its query may not have arrived.
#[tokio::test]
async fn an_answer_that_beats_a_lost_reply_is_the_answer() {
    let mut s = common::suite_full(
        |sb| sb.platecb.first_delivery_ms = 100,
        |c| {
            platecb_only(c);
            // The callback (after 100 ms) has all this time to land before the reply
            // gives up.
            c.vendors.platecb.http.request_timeout = Duration::from_secs(4);
        },
    )
    .await;
    faults(
        &s.sandbox,
        serde_json::json!([{ "vendor": "platecb", "times": 1,
                             "action": { "kind": "slow_body", "chunk_bytes": 2, "interval_ms": 500 } }]),
    )
    .await;
    let r = lookup(&mut s, "闽DD22222").await.expect("answer");
    let st = status(&r, "platecb");
    assert_eq!(
        (st.state, st.attempts),
        (SourceState::Ok as i32, 1),
        "{st:?}"
    );
    assert_eq!(r.usage.map(|u| u.code), Some("A".to_owned()), "非营业个人");
    assert_eq!(platecb_calls(&s.sandbox, "10023").await, 1);
}
