//! A SQLite file written by plate-service's store before this crate is brought forward:
//! every row migrated, nothing lost, each step applied once.

mod common;

use callback::{SqliteStore, Store};
use common::TempDb;
use common::legacy::{SHAPES, Shape, check, now_secs, rows};
use rusqlite::Connection;

/// plate-service's DDL (store.rs), in the shape each of its versions left a file.
fn legacy_ddl(shape: Shape) -> String {
    let vendor_request_id = if shape == Shape::BeforeVendorRequestId {
        ""
    } else {
        ",\n vendor_request_id TEXT NOT NULL DEFAULT ''"
    };
    let submitted = if shape == Shape::Current {
        ",\n submitted INTEGER NOT NULL DEFAULT 0"
    } else {
        ""
    };
    format!(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE IF NOT EXISTS platecb_results (
             request_id  TEXT PRIMARY KEY,
             plate       TEXT NOT NULL,
             received_at INTEGER NOT NULL,
             payload     TEXT NOT NULL,
             sandbox     INTEGER NOT NULL DEFAULT 0{vendor_request_id}
         );
         CREATE INDEX IF NOT EXISTS platecb_results_plate ON platecb_results(plate, received_at);
         CREATE TABLE IF NOT EXISTS platecb_pending (
             request_id   TEXT PRIMARY KEY,
             plate        TEXT NOT NULL,
             submitted_at INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS platecb_pending_plate ON platecb_pending(plate, submitted_at);
         CREATE TABLE IF NOT EXISTS platecb_claims (
             plate      TEXT PRIMARY KEY,
             request_id TEXT NOT NULL,
             claimed_at INTEGER NOT NULL{submitted}
         );"
    )
}

fn legacy_file(shape: Shape, now: i64) -> TempDb {
    let db = TempDb::new("legacy");
    let conn = Connection::open(&db.0).expect("open");
    conn.execute_batch(&legacy_ddl(shape)).expect("old schema");
    conn.execute_batch(&rows(shape, now, "1", "0"))
        .expect("old rows");
    db
}

#[tokio::test]
async fn every_old_shape_is_migrated_with_nothing_lost() {
    for shape in SHAPES {
        let now = now_secs();
        let db = legacy_file(shape, now);
        let store = SqliteStore::open(&db.0).expect("opens and migrates");
        check(&store, shape, now).await;
        // The old tables stay, untouched, for a replica still on the old build.
        let conn = Connection::open(&db.0).expect("open");
        let old: i64 = conn
            .query_row("SELECT count(*) FROM platecb_results", [], |r| r.get(0))
            .expect("count");
        assert_eq!(old, 2, "{shape:?}");
    }
}

#[tokio::test]
async fn each_step_is_applied_once() {
    let now = now_secs();
    let db = legacy_file(Shape::Current, now);
    drop(SqliteStore::open(&db.0).expect("migrates"));
    // Rows written to the old tables after the migration are not imported by a later
    // start: the step ran, and is recorded.
    let conn = Connection::open(&db.0).expect("open");
    conn.execute_batch(
        "INSERT INTO platecb_results VALUES ('late', 'k', 1700000200, '{}', 0, '');
         DELETE FROM callback_results WHERE request_id = 'res-2';",
    )
    .expect("write");
    let steps: i64 = conn
        .query_row("SELECT count(*) FROM callback_schema_version", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(steps, 1);
    let store = SqliteStore::open(&db.0).expect("reopens");
    assert_eq!(store.schema_version().await.expect("version"), 1);
    assert!(
        store
            .result_for_request("platecb", "late")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .result_for_request("platecb", "res-2")
            .await
            .expect("q")
            .is_none()
    );
}

#[tokio::test]
async fn a_new_file_gets_the_new_tables_only() {
    let db = TempDb::new("fresh");
    let store = SqliteStore::open(&db.0).expect("creates");
    assert_eq!(store.schema_version().await.expect("version"), 1);
    let conn = Connection::open(&db.0).expect("open");
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    tables.sort();
    assert_eq!(
        tables,
        [
            "callback_claims",
            "callback_results",
            "callback_schema_version",
            "callback_submissions"
        ]
    );
}

#[tokio::test]
async fn a_file_from_a_newer_build_still_opens() {
    let db = TempDb::new("newer");
    drop(SqliteStore::open(&db.0).expect("creates"));
    let conn = Connection::open(&db.0).expect("open");
    conn.execute(
        "INSERT INTO callback_schema_version VALUES (2, 'from the future', 0)",
        [],
    )
    .expect("insert");
    let store = SqliteStore::open(&db.0).expect("a newer schema only adds: still opens");
    assert_eq!(store.schema_version().await.expect("version"), 2);
}
