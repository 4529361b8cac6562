//! Versioned schema steps for the PostgreSQL store.
//!
//! `callback_schema_version` holds one row per applied step. Each step runs once, in its
//! own transaction that first takes an advisory lock for the schema (replicas starting
//! together apply it once, the others wait and find it done) and records itself in that
//! same transaction: a failure mid-step leaves nothing half-applied.

use tokio_postgres::{Client, Transaction};

use crate::store::LEGACY_PLATECB_VENDOR;

/// `(version, description)` of every step, in order.
const STEPS: &[(u32, &str)] = &[(
    1,
    "callback_* tables keyed by vendor; platecb_* rows imported under vendor platecb",
)];

/// The highest step this build knows.
pub const LATEST: u32 = 1;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS callback_schema_version (
    version       INTEGER PRIMARY KEY,
    description   TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL
)";

/// One lock per schema: tests (and tenants) in separate schemas do not wait for each other.
const LOCK: &str =
    "SELECT pg_advisory_xact_lock(7305115, hashtext(COALESCE(current_schema(), '')))";

/// Applies every step the schema lacks, in order.
pub async fn run(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    for &(version, description) in STEPS {
        let tx = client.transaction().await?;
        tx.batch_execute(LOCK).await?;
        tx.batch_execute(VERSION_TABLE).await?;
        let applied = tx
            .query_opt(
                "SELECT 1 FROM callback_schema_version WHERE version = $1",
                &[&i32::try_from(version).unwrap_or(i32::MAX)],
            )
            .await?
            .is_some();
        if !applied {
            apply(&tx, version).await?;
            tx.execute(
                "INSERT INTO callback_schema_version (version, description, applied_at_ms)
                 VALUES ($1, $2, (extract(epoch from now()) * 1000)::bigint)",
                &[&i32::try_from(version).unwrap_or(i32::MAX), &description],
            )
            .await?;
            tracing::info!(version, description, "callback store (PostgreSQL) migrated");
        }
        tx.commit().await?;
    }
    let current = version(client).await?;
    if current > LATEST {
        // A newer build migrated this schema (a rollback, or a mixed rolling deploy). Its
        // steps only add, so this build keeps working; say so rather than refuse to start.
        tracing::warn!(
            current,
            known = LATEST,
            "callback store schema is newer than this build"
        );
    }
    Ok(())
}

/// The highest step applied.
pub async fn version(client: &Client) -> Result<u32, tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('callback_schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM callback_schema_version",
            &[],
        )
        .await?
        .get(0);
    Ok(u32::try_from(v).unwrap_or(0))
}

async fn apply(tx: &Transaction<'_>, version: u32) -> Result<(), tokio_postgres::Error> {
    match version {
        1 => step1(tx).await,
        _ => Ok(()),
    }
}

async fn table_exists(tx: &Transaction<'_>, table: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table])
        .await?
        .get(0))
}

async fn column_exists(
    tx: &Transaction<'_>,
    table: &str,
    column: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute
                 WHERE attrelid = to_regclass($1::text) AND attname = $2 AND NOT attisdropped)",
            &[&table, &column],
        )
        .await?
        .get(0))
}

/// The tables, then whatever plate-service's own store left (three shapes: before
/// `vendor_request_id`, before `submitted`, current), told apart here once, never again
/// at start-up. The old tables are left in place, unread: a replica still running the
/// old build keeps working during a rolling deploy, and nothing an operator might want
/// back is deleted.
async fn step1(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS callback_results (
             vendor            TEXT NOT NULL,
             request_id        TEXT NOT NULL,
             query_key         TEXT NOT NULL,
             received_at_ms    BIGINT NOT NULL,
             payload           TEXT NOT NULL,
             sandbox           BOOLEAN NOT NULL DEFAULT FALSE,
             vendor_request_id TEXT NOT NULL DEFAULT '',
             PRIMARY KEY (vendor, request_id)
         );
         CREATE INDEX IF NOT EXISTS callback_results_key
             ON callback_results (vendor, query_key, received_at_ms);
         CREATE INDEX IF NOT EXISTS callback_results_vendor_id
             ON callback_results (vendor, vendor_request_id);
         CREATE TABLE IF NOT EXISTS callback_submissions (
             vendor         TEXT NOT NULL,
             request_id     TEXT NOT NULL,
             our_request_id TEXT NOT NULL,
             query_key      TEXT NOT NULL,
             state          TEXT NOT NULL
                 CHECK (state IN ('open', 'accepted', 'unclear', 'failed')),
             claimed_at_ms  BIGINT NOT NULL,
             settled_at_ms  BIGINT,
             detail         TEXT NOT NULL DEFAULT '',
             PRIMARY KEY (vendor, request_id)
         );
         CREATE INDEX IF NOT EXISTS callback_submissions_ours
             ON callback_submissions (vendor, our_request_id);
         CREATE INDEX IF NOT EXISTS callback_submissions_age
             ON callback_submissions (vendor, claimed_at_ms);
         CREATE TABLE IF NOT EXISTS callback_claims (
             vendor        TEXT NOT NULL,
             query_key     TEXT NOT NULL,
             request_id    TEXT NOT NULL,
             claimed_at_ms BIGINT NOT NULL,
             state         TEXT NOT NULL
                 CHECK (state IN ('open', 'accepted', 'unclear', 'failed')),
             settled_at_ms BIGINT,
             PRIMARY KEY (vendor, query_key)
         );",
    )
    .await?;
    let vendor = LEGACY_PLATECB_VENDOR;
    if table_exists(tx, "platecb_results").await? {
        let vendor_id = if column_exists(tx, "platecb_results", "vendor_request_id").await? {
            "vendor_request_id"
        } else {
            "''"
        };
        tx.execute(
            &format!(
                "INSERT INTO callback_results
                     (vendor, request_id, query_key, received_at_ms, payload, sandbox,
                      vendor_request_id)
                 SELECT $1::text, request_id, plate, received_at * 1000, payload, sandbox, {vendor_id}
                 FROM platecb_results
                 ON CONFLICT (vendor, request_id) DO NOTHING"
            ),
            &[&vendor],
        )
        .await?;
    }
    if table_exists(tx, "platecb_pending").await? {
        // A pending row was a submission awaiting its callback: accepted. Which were our
        // references and which the vendor's ids was not recorded; each stands for
        // itself, which is all the webhook needs.
        tx.execute(
            "INSERT INTO callback_submissions
                 (vendor, request_id, our_request_id, query_key, state, claimed_at_ms,
                  settled_at_ms, detail)
             SELECT $1::text, request_id, request_id, plate, 'accepted', submitted_at * 1000,
                    submitted_at * 1000, ''
             FROM platecb_pending
             ON CONFLICT (vendor, request_id) DO NOTHING",
            &[&vendor],
        )
        .await?;
    }
    if table_exists(tx, "platecb_claims").await? {
        // Before `submitted` existed a claim stood for a submission made or being made:
        // accepted, so that no one pays for it twice. After, `submitted = FALSE` is a
        // claim whose submission was not confirmed: open, taken over after the window.
        let state = if column_exists(tx, "platecb_claims", "submitted").await? {
            "CASE WHEN submitted THEN 'accepted' ELSE 'open' END"
        } else {
            "'accepted'"
        };
        tx.execute(
            &format!(
                "INSERT INTO callback_claims
                     (vendor, query_key, request_id, claimed_at_ms, state, settled_at_ms)
                 SELECT $1::text, plate, request_id, claimed_at * 1000, {state},
                        CASE WHEN {state} = 'accepted' THEN claimed_at * 1000 END
                 FROM platecb_claims
                 ON CONFLICT (vendor, query_key) DO NOTHING"
            ),
            &[&vendor],
        )
        .await?;
        tx.execute(
            "UPDATE callback_submissions SET state = 'open', settled_at_ms = NULL
             WHERE vendor = $1 AND request_id IN
                 (SELECT request_id FROM callback_claims WHERE vendor = $1 AND state = 'open')",
            &[&vendor],
        )
        .await?;
    }
    Ok(())
}
