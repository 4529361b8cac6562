//! What every `Store` must do, run against SQLite and PostgreSQL alike.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use callback::{ClaimPolicy, ClaimState, NewResult, Retention, Settlement, Store};

const V: &str = "platecb";

fn result<'a>(
    request_id: &'a str,
    vendor_id: &'a str,
    key: &'a str,
    payload: &'a str,
) -> NewResult<'a> {
    NewResult {
        vendor: V,
        request_id,
        vendor_request_id: vendor_id,
        query_key: key,
        payload,
        sandbox: false,
    }
}

fn policy(ms: u64) -> ClaimPolicy {
    let d = Duration::from_millis(ms);
    ClaimPolicy {
        submit_window: d,
        accepted_ttl: d,
        unclear_resubmit_after: d,
    }
}

const LONG: ClaimPolicy = ClaimPolicy {
    submit_window: Duration::from_secs(3600),
    accepted_ttl: Duration::from_secs(3600),
    unclear_resubmit_after: Duration::from_secs(3600),
};

/// Runs every check on `store`, which must be empty.
pub async fn run(store: Arc<dyn Store>) {
    assert_eq!(store.schema_version().await.expect("version"), 1);
    first_write_wins(&*store).await;
    results_newest_first_within_age(&*store).await;
    answers_end_their_own_claim_and_every_id(&*store).await;
    claims_by_state(&*store).await;
    settlement_is_recorded_for_joiners(&*store).await;
    vendors_are_apart(&*store).await;
    purge_forgets_only_what_decides_nothing(&*store).await;
    concurrent_claims_have_one_winner(store.clone()).await;
}

async fn first_write_wins(s: &dyn Store) {
    s.add_pending(V, "fw-1", "闽DD22222")
        .await
        .expect("pending");
    let pending = s.submission(V, "fw-1").await.expect("q").expect("row");
    assert_eq!(pending.state, ClaimState::Accepted);
    assert_eq!(pending.our_request_id, "fw-1");
    assert!(
        s.insert_result(result("fw-1", "v-fw-1", "闽DD22222", r#"{"c_vin":"A"}"#))
            .await
            .expect("insert")
    );
    assert!(
        !s.insert_result(result(
            "fw-1",
            "v-fw-1",
            "闽DD22222",
            r#"{"c_vin":"FORGED"}"#
        ))
        .await
        .expect("duplicate"),
        "a second write of the id is refused"
    );
    let stored = s
        .result_for_request(V, "fw-1")
        .await
        .expect("q")
        .expect("stored");
    assert_eq!(stored.payload, r#"{"c_vin":"A"}"#);
    assert_eq!(stored.query_key, "闽DD22222");
    assert_eq!(stored.id_for_vendor(), "v-fw-1");
    // Found by the vendor's id too.
    assert_eq!(
        s.result_for_request(V, "v-fw-1").await.expect("q"),
        Some(stored)
    );
    assert!(s.result_for_request(V, "").await.expect("q").is_none());
    assert!(s.result_for_request(V, "nope").await.expect("q").is_none());
    assert!(
        s.submission(V, "fw-1").await.expect("q").is_none(),
        "answered: no longer pending"
    );
}

async fn results_newest_first_within_age(s: &dyn Store) {
    let key = "粤B00001";
    for (id, payload) in [("age-1", "old"), ("age-2", "mid"), ("age-3", "new")] {
        s.insert_result(result(id, "", key, payload))
            .await
            .expect("insert");
        // Distinct milliseconds, so the order is the order written.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rows = s
        .results_for_key(V, key, Duration::from_secs(60), 5)
        .await
        .expect("q");
    let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
    assert_eq!(payloads, ["new", "mid", "old"]);
    assert_eq!(
        s.results_for_key(V, key, Duration::from_secs(60), 2)
            .await
            .expect("q")
            .len(),
        2
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(
        s.results_for_key(V, key, Duration::from_millis(20), 5)
            .await
            .expect("q")
            .is_empty(),
        "older than max_age"
    );
    let since = rows[1].received_at;
    assert_eq!(
        s.result_since(V, key, since)
            .await
            .expect("q")
            .map(|r| r.payload),
        Some("new".to_owned())
    );
    let later = SystemTime::now() + Duration::from_secs(60);
    assert!(s.result_since(V, key, later).await.expect("q").is_none());
}

async fn answers_end_their_own_claim_and_every_id(s: &dyn Store) {
    let key = "粤B00002";
    let a = s.claim(V, key, "ref-a", LONG).await.expect("claim");
    assert!(a.new && a.request_id == "ref-a" && a.state == ClaimState::Open);
    // Repeating the same claim (a retry after a dropped connection) is still ours.
    assert!(s.claim(V, key, "ref-a", LONG).await.expect("claim").new);
    let joined = s.claim(V, key, "ref-b", LONG).await.expect("claim");
    assert!(!joined.new && joined.request_id == "ref-a");
    assert!(
        s.submission(V, "ref-b").await.expect("q").is_none(),
        "a joiner records nothing"
    );
    // The vendor names its own id at acceptance: a second name for the submission.
    s.settle(
        V,
        key,
        "ref-a",
        &Settlement::Accepted {
            vendor_request_id: Some("vendor-a".to_owned()),
        },
    )
    .await
    .expect("settle");
    let alias = s
        .submission(V, "vendor-a")
        .await
        .expect("q")
        .expect("alias");
    assert_eq!(
        (
            alias.our_request_id.as_str(),
            alias.state,
            alias.query_key.as_str()
        ),
        ("ref-a", ClaimState::Accepted, key)
    );
    assert_eq!(
        s.claim(V, key, "ref-c", LONG).await.expect("claim").state,
        ClaimState::Accepted
    );
    // An answer for another (older) query of the key leaves this claim alone.
    s.insert_result(result("old-ref", "old-vendor", key, "{}"))
        .await
        .expect("insert");
    assert_eq!(
        s.claim(V, key, "ref-d", LONG)
            .await
            .expect("claim")
            .request_id,
        "ref-a"
    );
    // Its own answer, filed under the vendor's id alone, ends the claim and both names.
    s.insert_result(result("vendor-a", "vendor-a", key, "{}"))
        .await
        .expect("insert");
    assert!(s.submission(V, "ref-a").await.expect("q").is_none());
    assert!(s.submission(V, "vendor-a").await.expect("q").is_none());
    let freed = s.claim(V, key, "ref-e", LONG).await.expect("claim");
    assert!(freed.new, "free again after its answer");
    // An acceptance recorded after the answer came (the vendor called back before its
    // submit reply arrived) names nothing: a redelivery under that id is a duplicate.
    s.insert_result(result("ref-e", "", key, "{}"))
        .await
        .expect("insert");
    s.settle(
        V,
        key,
        "ref-e",
        &Settlement::Accepted {
            vendor_request_id: Some("vendor-e".to_owned()),
        },
    )
    .await
    .expect("settle");
    assert!(s.submission(V, "vendor-e").await.expect("q").is_none());
}

async fn claims_by_state(s: &dyn Store) {
    // Failed: free at once.
    let key = "粤B00003";
    assert!(s.claim(V, key, "f-1", LONG).await.expect("claim").new);
    s.settle(
        V,
        key,
        "f-1",
        &Settlement::Failed {
            detail: "refused".into(),
        },
    )
    .await
    .expect("settle");
    assert!(s.claim(V, key, "f-2", LONG).await.expect("claim").new);
    let failed = s
        .submission(V, "f-1")
        .await
        .expect("q")
        .expect("kept for joiners");
    assert_eq!(
        (failed.state, failed.detail.as_str()),
        (ClaimState::Failed, "refused")
    );
    assert!(failed.settled_at.is_some());
    // Open, unsettled: its process died, perhaps with the request on the wire. Past the
    // submit window it is held as an unclear one would be (the vendor may have it and
    // call back), then taken over.
    let key = "粤B00004";
    let open_policy = ClaimPolicy {
        submit_window: Duration::from_millis(50),
        unclear_resubmit_after: Duration::from_millis(150),
        ..LONG
    };
    assert!(
        s.claim(V, key, "o-1", open_policy)
            .await
            .expect("claim")
            .new
    );
    assert_eq!(
        s.claim(V, key, "o-2", open_policy)
            .await
            .expect("claim")
            .request_id,
        "o-1"
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let held = s.claim(V, key, "o-3", open_policy).await.expect("claim");
    assert_eq!(
        (held.new, held.request_id.as_str(), held.state),
        (false, "o-1", ClaimState::Open),
        "past the submit window, within the unclear one: still held"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = s.claim(V, key, "o-4", open_policy).await.expect("claim");
    assert!(taken.new && taken.request_id == "o-4", "{taken:?}");
    // Its callback is still taken after the takeover.
    assert!(
        s.submission(V, "o-1")
            .await
            .expect("q")
            .expect("kept")
            .state
            .awaits_callback()
    );
    // Unclear: held for its own window (from when it became unclear), then free.
    let key = "粤B00005";
    assert!(s.claim(V, key, "u-1", LONG).await.expect("claim").new);
    s.settle(
        V,
        key,
        "u-1",
        &Settlement::Unclear {
            detail: "reset".into(),
        },
    )
    .await
    .expect("settle");
    let held = s
        .claim(
            V,
            key,
            "u-2",
            ClaimPolicy {
                unclear_resubmit_after: Duration::from_millis(60),
                ..LONG
            },
        )
        .await
        .expect("claim");
    assert_eq!(
        (held.request_id.as_str(), held.state),
        ("u-1", ClaimState::Unclear)
    );
    tokio::time::sleep(Duration::from_millis(90)).await;
    let resubmit = s
        .claim(
            V,
            key,
            "u-3",
            ClaimPolicy {
                unclear_resubmit_after: Duration::from_millis(60),
                ..LONG
            },
        )
        .await
        .expect("claim");
    assert!(resubmit.new, "{resubmit:?}");
    // The unclear submission may still be answered: its callback is still taken.
    let old = s.submission(V, "u-1").await.expect("q").expect("kept");
    assert!(old.state.awaits_callback());
    // Accepted: held for the accepted TTL, not the submit window.
    let key = "粤B00006";
    assert!(s.claim(V, key, "a-1", LONG).await.expect("claim").new);
    s.settle(
        V,
        key,
        "a-1",
        &Settlement::Accepted {
            vendor_request_id: None,
        },
    )
    .await
    .expect("settle");
    let short_window = ClaimPolicy {
        submit_window: Duration::from_millis(1),
        ..LONG
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        s.claim(V, key, "a-2", short_window)
            .await
            .expect("claim")
            .request_id,
        "a-1"
    );
    // Released before anything was sent: gone, claim and submission.
    let key = "粤B00007";
    assert!(s.claim(V, key, "r-1", LONG).await.expect("claim").new);
    s.release(V, key, "r-1").await.expect("release");
    assert!(s.submission(V, "r-1").await.expect("q").is_none());
    assert!(s.claim(V, key, "r-2", LONG).await.expect("claim").new);
    // Releasing someone else's claim does nothing.
    s.release(V, key, "r-1").await.expect("release");
    assert_eq!(
        s.claim(V, key, "r-3", LONG)
            .await
            .expect("claim")
            .request_id,
        "r-2"
    );
}

async fn settlement_is_recorded_for_joiners(s: &dyn Store) {
    let key = "粤B00008";
    assert!(s.claim(V, key, "j-1", LONG).await.expect("claim").new);
    let detail = r#"{"message":"10025 查无数据","error":{"code":10025}}"#;
    s.settle(
        V,
        key,
        "j-1",
        &Settlement::Failed {
            detail: detail.into(),
        },
    )
    .await
    .expect("settle");
    // Someone else claimed the key since: the first submission's outcome is still there.
    assert!(s.claim(V, key, "j-2", LONG).await.expect("claim").new);
    let first = s.submission(V, "j-1").await.expect("q").expect("row");
    assert_eq!(first.detail, detail);
    assert!(
        !first.state.awaits_callback(),
        "a failed submission takes no callback"
    );
}

async fn vendors_are_apart(s: &dyn Store) {
    let key = "粤B00009";
    assert!(
        s.claim("apistore", key, "x-1", LONG)
            .await
            .expect("claim")
            .new
    );
    assert!(
        s.claim(V, key, "x-2", LONG).await.expect("claim").new,
        "another vendor's claim"
    );
    s.insert_result(NewResult {
        vendor: "apistore",
        ..result("x-1", "", key, "{}")
    })
    .await
    .expect("insert");
    assert!(s.result_for_request(V, "x-1").await.expect("q").is_none());
    assert_eq!(
        s.results_for_key("apistore", key, Duration::from_secs(60), 5)
            .await
            .expect("q")
            .len(),
        1
    );
}

async fn purge_forgets_only_what_decides_nothing(s: &dyn Store) {
    let vendor = "purge-test";
    let live = "粤B00010";
    let dead = "粤B00011";
    assert!(
        s.claim(vendor, live, "p-live", LONG)
            .await
            .expect("claim")
            .new
    );
    assert!(
        s.claim(vendor, dead, "p-dead", LONG)
            .await
            .expect("claim")
            .new
    );
    s.settle(
        vendor,
        dead,
        "p-dead",
        &Settlement::Failed {
            detail: String::new(),
        },
    )
    .await
    .expect("settle");
    s.insert_result(NewResult {
        vendor,
        ..result("p-res", "", live, "{}")
    })
    .await
    .expect("insert");
    tokio::time::sleep(Duration::from_millis(30)).await;
    let keep_all = Retention {
        submissions: Duration::from_millis(10),
        results: None,
    };
    let first = s.purge(vendor, LONG, keep_all).await.expect("purge");
    assert_eq!(
        (first.claims, first.results),
        (1, 0),
        "the failed claim; answers kept: {first:?}"
    );
    assert!(
        s.submission(vendor, "p-live").await.expect("q").is_some(),
        "a live claim's submission stays"
    );
    let second = s.purge(vendor, LONG, keep_all).await.expect("purge");
    assert!(
        s.submission(vendor, "p-dead").await.expect("q").is_none(),
        "{second:?}"
    );
    let drop_results = Retention {
        submissions: Duration::from_secs(3600),
        results: Some(Duration::from_millis(10)),
    };
    let third = s.purge(vendor, LONG, drop_results).await.expect("purge");
    assert_eq!(third.results, 1);
    assert!(
        s.result_for_request(vendor, "p-res")
            .await
            .expect("q")
            .is_none()
    );
    // Other vendors' rows are untouched.
    assert!(s.result_for_request(V, "fw-1").await.expect("q").is_some());
}

async fn concurrent_claims_have_one_winner(s: Arc<dyn Store>) {
    let key = "粤B00012";
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.claim(V, key, &format!("c-{i}"), LONG).await })
        })
        .collect();
    let mut winners = Vec::new();
    let mut seen = Vec::new();
    for t in tasks {
        let c = t.await.expect("task").expect("claim");
        seen.push(c.request_id.clone());
        if c.new {
            winners.push(c.request_id);
        }
    }
    assert_eq!(winners.len(), 1, "{seen:?}");
    assert!(
        seen.iter().all(|id| *id == winners[0]),
        "everyone joins the winner: {seen:?}"
    );
}
