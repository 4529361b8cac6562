//! A database written by plate-service's store before this crate (its `platecb_*`
//! tables, in each of the three shapes that code created and upgraded), and what the
//! migration must make of it.

use std::time::{Duration, SystemTime};

use callback::{ClaimPolicy, ClaimState, NewResult, Store};

/// Which columns the old tables had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// What plate-service writes today.
    Current,
    /// `platecb_claims` before `submitted` was added.
    BeforeSubmitted,
    /// `platecb_results` before `vendor_request_id`, and claims before `submitted`.
    BeforeVendorRequestId,
}

pub const SHAPES: [Shape; 3] = [
    Shape::Current,
    Shape::BeforeSubmitted,
    Shape::BeforeVendorRequestId,
];

pub fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// The rows, as SQL both backends accept (`sandbox` as given: 1/0 or TRUE/FALSE).
pub fn rows(shape: Shape, now: i64, yes: &str, no: &str) -> String {
    let results = if shape == Shape::BeforeVendorRequestId {
        format!(
            "INSERT INTO platecb_results (request_id, plate, received_at, payload, sandbox) VALUES
                 ('res-1', '闽DD22222', 1700000000, '{{\"c_vin\":\"LNBSCC3H5JT920714\"}}', {yes}),
                 ('res-2', '沪A12345', 1700000100, '{{\"result_status\":\"3\"}}', {no});"
        )
    } else {
        format!(
            "INSERT INTO platecb_results
                 (request_id, plate, received_at, payload, sandbox, vendor_request_id) VALUES
                 ('res-1', '闽DD22222', 1700000000, '{{\"c_vin\":\"LNBSCC3H5JT920714\"}}', {yes}, 'vendor-1'),
                 ('res-2', '沪A12345', 1700000100, '{{\"result_status\":\"3\"}}', {no}, '');"
        )
    };
    let claims = if shape == Shape::Current {
        format!(
            "INSERT INTO platecb_claims (plate, request_id, claimed_at, submitted) VALUES
                 ('粤B12345', 'pend-ours', {a}, {yes}),
                 ('京A00001', 'open-ref', {b}, {no});",
            a = now - 60,
            b = now - 10
        )
    } else {
        format!(
            "INSERT INTO platecb_claims (plate, request_id, claimed_at) VALUES
                 ('粤B12345', 'pend-ours', {a}),
                 ('京A00001', 'open-ref', {b});",
            a = now - 60,
            b = now - 10
        )
    };
    format!(
        "{results}
         INSERT INTO platecb_pending (request_id, plate, submitted_at) VALUES
             ('pend-ours', '粤B12345', {a}),
             ('pend-vendor', '粤B12345', {a}),
             ('open-ref', '京A00001', {b});
         {claims}",
        a = now - 60,
        b = now - 10
    )
}

fn hour() -> Duration {
    Duration::from_secs(3600)
}

/// Everything the old tables held is in the new ones, under vendor `platecb`, and works.
pub async fn check(store: &dyn Store, shape: Shape, now: i64) {
    let v = "platecb";
    assert_eq!(store.schema_version().await.expect("version"), 1);
    let res1 = store
        .result_for_request(v, "res-1")
        .await
        .expect("q")
        .expect("res-1 migrated");
    assert_eq!(res1.query_key, "闽DD22222");
    assert_eq!(res1.payload, r#"{"c_vin":"LNBSCC3H5JT920714"}"#);
    assert!(res1.sandbox);
    assert_eq!(
        res1.received_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );
    let expected_vendor_id = if shape == Shape::BeforeVendorRequestId {
        ""
    } else {
        "vendor-1"
    };
    assert_eq!(res1.vendor_request_id, expected_vendor_id, "{shape:?}");
    let res2 = store
        .result_for_request(v, "res-2")
        .await
        .expect("q")
        .expect("res-2 migrated");
    assert!(!res2.sandbox);
    assert_eq!(
        store
            .results_for_key(v, "沪A12345", Duration::from_secs(u64::MAX / 4_000), 5)
            .await
            .expect("q")
            .len(),
        1
    );

    // Pending submissions still take their callbacks.
    for id in ["pend-ours", "pend-vendor"] {
        let s = store.submission(v, id).await.expect("q").expect(id);
        assert_eq!(
            (s.state, s.query_key.as_str()),
            (ClaimState::Accepted, "粤B12345"),
            "{id}"
        );
        assert_eq!(
            s.claimed_at,
            SystemTime::UNIX_EPOCH
                + Duration::from_secs(u64::try_from(now - 60).expect("positive"))
        );
    }
    // The submitted claim still holds its plate (nobody pays twice), even with a short
    // submit window.
    let policy = ClaimPolicy {
        submit_window: Duration::from_secs(1),
        accepted_ttl: hour(),
        unclear_resubmit_after: hour(),
    };
    let joined = store
        .claim(v, "粤B12345", "new-1", policy)
        .await
        .expect("claim");
    assert_eq!(
        (joined.new, joined.request_id.as_str(), joined.state),
        (false, "pend-ours", ClaimState::Accepted),
        "{shape:?}"
    );
    // The unsubmitted one is open (taken over after the window) where the old code knew
    // it was unsubmitted; before that column existed every claim was a submission.
    let long = ClaimPolicy {
        submit_window: hour(),
        ..policy
    };
    let open = store
        .claim(v, "京A00001", "new-2", long)
        .await
        .expect("claim");
    let expected = if shape == Shape::Current {
        ClaimState::Open
    } else {
        ClaimState::Accepted
    };
    assert_eq!(
        (open.new, open.request_id.as_str(), open.state),
        (false, "open-ref", expected),
        "{shape:?}"
    );
    let open_sub = store
        .submission(v, "open-ref")
        .await
        .expect("q")
        .expect("row");
    assert_eq!(open_sub.state, expected, "{shape:?}");
    // A callback for the migrated submission is stored and ends its claim.
    assert!(
        store
            .insert_result(NewResult {
                vendor: v,
                request_id: "pend-ours",
                vendor_request_id: "pend-vendor",
                query_key: "粤B12345",
                payload: "{}",
                sandbox: false,
            })
            .await
            .expect("insert")
    );
    assert!(
        store
            .submission(v, "pend-vendor")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .claim(v, "粤B12345", "new-3", policy)
            .await
            .expect("claim")
            .new
    );
}
