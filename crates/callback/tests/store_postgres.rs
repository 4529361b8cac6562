//! The PostgreSQL store (127.0.0.1:5432, database `test`, trust auth; override with
//! AXLE_TEST_POSTGRES_URL): the common contract, replicas, reconnection, secrets. Each
//! test works in a schema of its own and skips, saying why, when PostgreSQL is down.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callback::{NewResult, PgStore, Store, StoreError};
use common::{PgSchema, pg_url};

#[tokio::test]
async fn postgres_keeps_the_store_contract() {
    let Some(schema) = PgSchema::create("postgres_keeps_the_store_contract").await else {
        return;
    };
    common::conformance::run(Arc::new(schema.store().await)).await;
}

#[tokio::test]
async fn replicas_share_results_and_claims() {
    let Some(schema) = PgSchema::create("replicas_share_results_and_claims").await else {
        return;
    };
    let a = schema.store().await;
    let b = schema.store().await;
    assert!(
        a.claim("platecb", "k", "ref-a", long())
            .await
            .expect("claim")
            .new
    );
    let joined = b
        .claim("platecb", "k", "ref-b", long())
        .await
        .expect("claim");
    assert_eq!((joined.new, joined.request_id.as_str()), (false, "ref-a"));
    a.insert_result(NewResult {
        vendor: "platecb",
        request_id: "ref-a",
        vendor_request_id: "",
        query_key: "k",
        payload: "{}",
        sandbox: true,
    })
    .await
    .expect("insert");
    assert!(
        b.result_for_request("platecb", "ref-a")
            .await
            .expect("q")
            .is_some()
    );
    assert!(
        b.claim("platecb", "k", "ref-c", long())
            .await
            .expect("claim")
            .new
    );
}

fn long() -> callback::ClaimPolicy {
    callback::ClaimPolicy {
        submit_window: Duration::from_secs(3600),
        accepted_ttl: Duration::from_secs(3600),
        unclear_resubmit_after: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn the_store_reconnects_after_the_server_drops_the_connection() {
    let Some(schema) = PgSchema::create("reconnects").await else {
        return;
    };
    let tag = common::unique("axle-reconnect");
    let sep = if pg_url().contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}application_name={tag}", pg_url());
    let store = PgStore::connect_in_schema(&url, &schema.name)
        .await
        .expect("connects");
    store
        .add_pending("platecb", "r1", "k")
        .await
        .expect("pending");
    // What a PostgreSQL restart or failover does to an open connection.
    let killed = schema
        .admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&tag],
        )
        .await
        .expect("terminate");
    assert_eq!(killed.len(), 1, "exactly the store's connection");
    // The next calls succeed on a new connection, still in the store's schema.
    assert!(
        store
            .insert_result(NewResult {
                vendor: "platecb",
                request_id: "r1",
                vendor_request_id: "",
                query_key: "k",
                payload: "{}",
                sandbox: false,
            })
            .await
            .expect("insert after reconnect")
    );
    assert!(
        store
            .result_for_request("platecb", "r1")
            .await
            .expect("read")
            .is_some()
    );
    let sessions = schema
        .admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&tag],
        )
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1, "one live connection, not a leak");
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error_without_the_password() {
    let err = PgStore::connect("postgres://user:hunter2@127.0.0.1:1/none")
        .await
        .expect_err("nothing listens on port 1");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    let err = PgStore::connect_in_schema(&pg_url(), "Robert'); DROP TABLE x;--")
        .await
        .expect_err("not an identifier");
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn debug_output_never_shows_the_url() {
    let Some(schema) = PgSchema::create("debug_output").await else {
        return;
    };
    let store = schema.store().await;
    let text = format!("{store:?}");
    assert!(!text.contains("postgres://"), "{text}");
    assert!(text.contains(&schema.name), "{text}");
}
