//! The SQLite store: the common contract, durability across reopening, and two
//! processes' worth of handles on one file.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callback::{ClaimPolicy, NewResult, SqliteStore, Store};
use common::TempDb;

#[tokio::test]
async fn sqlite_keeps_the_store_contract() {
    let db = TempDb::new("conformance");
    let store = SqliteStore::open(&db.0).expect("opens");
    common::conformance::run(Arc::new(store)).await;
}

#[tokio::test]
async fn what_was_committed_survives_reopening() {
    let db = TempDb::new("reopen");
    {
        let store = SqliteStore::open(&db.0).expect("opens");
        store
            .add_pending("platecb", "r1", "闽DD22222")
            .await
            .expect("pending");
        store
            .insert_result(NewResult {
                vendor: "platecb",
                request_id: "r1",
                vendor_request_id: "v1",
                query_key: "闽DD22222",
                payload: r#"{"c_vin":"A"}"#,
                sandbox: true,
            })
            .await
            .expect("insert");
    }
    // A new process on the same file, which also does not migrate twice.
    let store = SqliteStore::open(&db.0).expect("reopens");
    assert_eq!(store.schema_version().await.expect("version"), 1);
    let row = store
        .result_for_request("platecb", "r1")
        .await
        .expect("q")
        .expect("kept");
    assert!(row.sandbox);
    assert_eq!(row.payload, r#"{"c_vin":"A"}"#);
}

#[tokio::test]
async fn two_handles_on_one_file_share_one_claim() {
    // What two processes on one host (or a restart during a claim) see.
    let db = TempDb::new("two-handles");
    let a = SqliteStore::open(&db.0).expect("a");
    let b = SqliteStore::open(&db.0).expect("b");
    let policy = ClaimPolicy {
        submit_window: Duration::from_secs(60),
        accepted_ttl: Duration::from_secs(60),
        unclear_resubmit_after: Duration::from_secs(60),
    };
    let first = a
        .claim("platecb", "k", "a-ref", policy)
        .await
        .expect("claim");
    let second = b
        .claim("platecb", "k", "b-ref", policy)
        .await
        .expect("claim");
    assert!(first.new && !second.new);
    assert_eq!(second.request_id, "a-ref");
}

#[tokio::test]
async fn an_unusable_path_is_a_clear_error() {
    let err = SqliteStore::open(std::path::Path::new("/proc/no/such/dir/callbacks.sqlite"))
        .expect_err("cannot create");
    assert!(err.to_string().contains("/proc/no/such/dir"), "{err}");
}

#[tokio::test]
async fn an_empty_postgres_url_means_the_sqlite_file() {
    let db = TempDb::new("open");
    let store = callback::store::open("  ", &db.0).await.expect("opens");
    assert_eq!(store.schema_version().await.expect("version"), 1);
    assert!(db.0.exists());
}
