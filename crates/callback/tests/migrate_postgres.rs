//! A PostgreSQL schema written by plate-service's store before this crate (its exact
//! DDL, in each shape its versions left) is brought forward: every row migrated,
//! nothing lost, each step applied once. Each test in a schema of its own.

mod common;

use callback::Store;
use common::PgSchema;
use common::legacy::{SHAPES, Shape, check, now_secs, rows};

/// plate-service's `PG_SCHEMA` (store.rs): the CREATEs alone are what the versions
/// before each ALTER left behind.
fn legacy_ddl(shape: Shape) -> String {
    let mut ddl = "CREATE TABLE IF NOT EXISTS platecb_results (
        request_id  TEXT PRIMARY KEY,
        plate       TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        payload     TEXT NOT NULL,
        sandbox     BOOLEAN NOT NULL DEFAULT FALSE
    );"
    .to_owned();
    if shape != Shape::BeforeVendorRequestId {
        ddl.push_str(
            "ALTER TABLE platecb_results ADD COLUMN IF NOT EXISTS vendor_request_id TEXT NOT NULL DEFAULT '';",
        );
    }
    ddl.push_str(
        "CREATE INDEX IF NOT EXISTS platecb_results_plate ON platecb_results(plate, received_at);
    CREATE TABLE IF NOT EXISTS platecb_pending (
        request_id   TEXT PRIMARY KEY,
        plate        TEXT NOT NULL,
        submitted_at BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS platecb_pending_plate ON platecb_pending(plate, submitted_at);
    CREATE TABLE IF NOT EXISTS platecb_claims (
        plate      TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        claimed_at BIGINT NOT NULL
    );",
    );
    if shape == Shape::Current {
        ddl.push_str(
            "ALTER TABLE platecb_claims ADD COLUMN IF NOT EXISTS submitted BOOLEAN NOT NULL DEFAULT FALSE;",
        );
    }
    ddl
}

#[tokio::test]
async fn every_old_shape_is_migrated_with_nothing_lost() {
    for shape in SHAPES {
        let Some(schema) = PgSchema::create("pg_every_old_shape").await else {
            return;
        };
        let now = now_secs();
        schema.execute(&legacy_ddl(shape)).await;
        schema.execute(&rows(shape, now, "TRUE", "FALSE")).await;
        let store = schema.store().await;
        check(&store, shape, now).await;
        let old: i64 = schema
            .admin
            .query_one(
                &format!("SELECT count(*) FROM {}.platecb_results", schema.name),
                &[],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(old, 2, "the old tables stay: {shape:?}");
    }
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some(schema) = PgSchema::create("pg_migrate_once").await else {
        return;
    };
    let now = now_secs();
    schema.execute(&legacy_ddl(Shape::Current)).await;
    schema
        .execute(&rows(Shape::Current, now, "TRUE", "FALSE"))
        .await;
    let (a, b, c) = tokio::join!(schema.store(), schema.store(), schema.store());
    for s in [&a, &b, &c] {
        assert_eq!(s.schema_version().await.expect("version"), 1);
    }
    let steps: i64 = schema
        .admin
        .query_one(
            &format!(
                "SELECT count(*) FROM {}.callback_schema_version",
                schema.name
            ),
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(steps, 1);
    check(&a, Shape::Current, now).await;
}

#[tokio::test]
async fn a_new_schema_gets_the_new_tables_only() {
    let Some(schema) = PgSchema::create("pg_fresh").await else {
        return;
    };
    let store = schema.store().await;
    assert_eq!(store.schema_version().await.expect("version"), 1);
    let tables: Vec<String> = schema
        .admin
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
            &[&schema.name],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
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
