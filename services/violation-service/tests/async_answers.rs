//! Answers that come later (10023 订单提交成功,等待回调结果): awaited within the deadline,
//! else PENDING with a query handle that finds the answer without a new charge.

mod common;

use std::time::Duration;

use common::{apistore_calls, query, req, status, suite_full};
use contracts::axle::common::v1::SourceState;
use contracts::axle::violation::v1::{QueryOutcome, QueryViolationsRequest};
use tonic::Code;

const PLATE: &str = "苏E9T8R7";
const ENGINE: &str = "M20A3108452";
const VIN: &str = "LVGBE40K7MG052917";

#[tokio::test]
async fn a_callback_within_the_deadline_is_the_answer() {
    let mut s = suite_full(|sb| sb.apistore.first_delivery_ms = 200, |_| {}).await;
    let r = query(&mut s, req(PLATE, "02", ENGINE, VIN))
        .await
        .expect("answer");
    assert_eq!(
        r.outcome,
        QueryOutcome::Violations as i32,
        "{:?}",
        r.sources
    );
    assert_eq!(r.violations.len(), 2);
    assert!(
        r.violations[0]
            .provenance
            .as_ref()
            .is_some_and(|p| p.sandbox)
    );
}

#[tokio::test]
async fn a_late_callback_is_pending_then_found_by_its_handle() {
    let mut s = suite_full(
        |sb| sb.apistore.first_delivery_ms = 2500,
        |c| c.vendors.apistore.callback.max_wait = Duration::from_millis(800),
    )
    .await;
    let r = query(&mut s, req(PLATE, "02", ENGINE, VIN))
        .await
        .expect("answer");
    assert_eq!(r.outcome, QueryOutcome::Pending as i32, "{:?}", r.sources);
    assert_eq!(r.query_handle.len(), 32, "{r:?}");
    let st = status(&r, "apistore");
    assert_eq!(st.state, SourceState::Pending as i32);
    assert!(st.retry_after.is_some());
    assert!(st.message.contains(&r.query_handle), "{}", st.message);
    let by_handle = || QueryViolationsRequest {
        query_handle: r.query_handle.clone(),
        ..QueryViolationsRequest::default()
    };
    // Before the callback: still pending, same handle, nothing paid again.
    let again = query(&mut s, by_handle()).await.expect("answer");
    assert_eq!(
        again.outcome,
        QueryOutcome::Pending as i32,
        "{:?}",
        again.sources
    );
    assert_eq!(again.query_handle, r.query_handle);
    // After it: the answer, from the store.
    let mut found = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let a = query(&mut s, by_handle()).await.expect("answer");
        if a.outcome != QueryOutcome::Pending as i32 {
            found = Some(a);
            break;
        }
    }
    let found = found.expect("the callback arrived within 4 s");
    assert_eq!(
        found.outcome,
        QueryOutcome::Violations as i32,
        "{:?}",
        found.sources
    );
    assert_eq!(
        (found.plate.as_str(), found.plate_type.as_str()),
        (PLATE, "02")
    );
    assert_eq!(found.violations.len(), 2);
    assert!(status(&found, "apistore").from_cache);
    // The same vehicle asked again is served from the store too.
    let cached = query(&mut s, req(PLATE, "02", ENGINE, VIN))
        .await
        .expect("answer");
    assert_eq!(cached.outcome, QueryOutcome::Violations as i32);
    assert_eq!(apistore_calls(&s.sandbox).await, 1, "one paid query in all");
}

#[tokio::test]
async fn unknown_and_malformed_handles_are_refused() {
    let mut s = suite_full(|_| {}, |_| {}).await;
    let ask = |h: &str| QueryViolationsRequest {
        query_handle: h.to_owned(),
        ..QueryViolationsRequest::default()
    };
    let err = query(&mut s, ask("0123456789abcdef0123456789abcdef"))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = query(&mut s, ask("'; drop table --"))
        .await
        .expect_err("malformed");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(apistore_calls(&s.sandbox).await, 0);
}
