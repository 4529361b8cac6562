//! The callback store on PostgreSQL (127.0.0.1:5432, database `test`, trust auth; the
//! test command starts the server when it is installed but stopped). Override the URL
//! with AXLE_TEST_POSTGRES_URL.

use std::time::Duration;

use plate_service::store::CallbackStore;

fn url() -> String {
    std::env::var("AXLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

#[tokio::test]
async fn postgres_store_is_idempotent_and_shared() {
    let a = CallbackStore::connect_postgres(&url())
        .await
        .expect("PostgreSQL reachable");
    // A second replica on the same database.
    let b = CallbackStore::connect_postgres(&url())
        .await
        .expect("second connection");
    // Unique per run: the database is shared with other test runs.
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let (rid, plate) = (format!("req-{tag}"), format!("测{tag}"));
    a.add_pending(&rid, &plate).await.expect("pending");
    assert_eq!(
        b.pending_for_plate(&plate, Duration::from_secs(60))
            .await
            .expect("q"),
        Some(rid.clone())
    );
    assert!(
        a.insert_result(&rid, "vendor-id", &plate, r#"{"c_vin":"A"}"#, true)
            .await
            .expect("insert")
    );
    assert!(
        !b.insert_result(&rid, "vendor-id", &plate, r#"{"c_vin":"FORGED"}"#, false)
            .await
            .expect("dup")
    );
    let stored = b
        .result_for_plate(&plate, Duration::from_secs(60))
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        (stored.payload.as_str(), stored.sandbox),
        (r#"{"c_vin":"A"}"#, true)
    );
    assert_eq!(
        a.pending_for_plate(&plate, Duration::from_secs(60))
            .await
            .expect("q"),
        None
    );
    assert!(a.result_for_request(&rid).await.expect("q").is_some());
    assert!(
        a.result_for_request("no-such-request")
            .await
            .expect("q")
            .is_none()
    );
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error_without_the_password() {
    let err = CallbackStore::connect_postgres("postgres://user:hunter2@127.0.0.1:1/none")
        .await
        .expect_err("nothing listens on port 1");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn the_store_reconnects_after_the_server_drops_the_connection() {
    let tag = format!(
        "axle-reconnect-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let sep = if url().contains('?') { '&' } else { '?' };
    let store = CallbackStore::connect_postgres(&format!("{}{sep}application_name={tag}", url()))
        .await
        .expect("PostgreSQL reachable");
    let (rid, plate) = (format!("req-{tag}"), format!("测{tag}"));
    store.add_pending(&rid, &plate).await.expect("pending");

    // What a PostgreSQL restart or failover does to an open connection.
    let (admin, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(conn);
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&tag],
        )
        .await
        .expect("terminate");
    assert_eq!(killed.len(), 1, "exactly the store's connection");

    // The connection task notices asynchronously; either way the next calls succeed,
    // on a new connection.
    assert!(
        store
            .insert_result(&rid, "vendor-id", &plate, r#"{"c_vin":"A"}"#, true)
            .await
            .expect("insert after reconnect")
    );
    assert!(
        store
            .result_for_request(&rid)
            .await
            .expect("read after reconnect")
            .is_some()
    );
    let sessions = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&tag],
        )
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 1, "one live connection, not a leak");
}

#[tokio::test]
async fn postgres_claims_are_exclusive_and_repeatable() {
    let store = CallbackStore::connect_postgres(&url())
        .await
        .expect("PostgreSQL reachable");
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let plate = format!("测{tag}");
    let (ra, rb) = (format!("a-{tag}"), format!("b-{tag}"));
    let ttl = Duration::from_secs(3600);
    let a = store.claim(&plate, &ra, ttl).await.expect("claim");
    assert!(a.new && a.request_id == ra);
    // A repeat of the same statement (after a dropped connection) is still ours.
    assert!(store.claim(&plate, &ra, ttl).await.expect("claim").new);
    let b = store.claim(&plate, &rb, ttl).await.expect("claim");
    assert!(!b.new && b.request_id == ra);
    store
        .insert_result(&ra, "vendor-id", &plate, "{}", true)
        .await
        .expect("insert");
    assert!(store.claim(&plate, &rb, ttl).await.expect("claim").new);
}
