//! Versioned schema steps for the SQLite store.
//!
//! `callback_schema_version` holds one row per applied step. Each step runs once, in its
//! own `BEGIN IMMEDIATE` transaction (which takes the file's write lock up front, so two
//! processes opening the same file cannot both apply it), and records itself in that
//! same transaction: a crash mid-step leaves nothing half-applied.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::store::LEGACY_PLATECB_VENDOR;

/// One numbered step.
struct Step {
    version: u32,
    description: &'static str,
    apply: fn(&Connection) -> rusqlite::Result<()>,
}

const STEPS: &[Step] = &[Step {
    version: 1,
    description: "callback_* tables keyed by vendor; platecb_* rows imported under vendor platecb",
    apply: step1,
}];

/// The highest step this build knows.
pub const LATEST: u32 = 1;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS callback_schema_version (
    version       INTEGER PRIMARY KEY,
    description   TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL
)";

/// Applies every step the file lacks, in order.
pub fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    for step in STEPS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(VERSION_TABLE)?;
        let applied = tx
            .query_row(
                "SELECT 1 FROM callback_schema_version WHERE version = ?1",
                params![step.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !applied {
            (step.apply)(&tx)?;
            tx.execute(
                "INSERT INTO callback_schema_version (version, description, applied_at_ms)
                 VALUES (?1, ?2, ?3)",
                params![step.version, step.description, super::now_ms()],
            )?;
            tracing::info!(
                version = step.version,
                description = step.description,
                "callback store (SQLite) migrated"
            );
        }
        tx.commit()?;
    }
    let current = version(conn)?;
    if current > LATEST {
        // A newer build migrated this file (a rollback, or a mixed rolling deploy). Its
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
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.execute_batch(VERSION_TABLE)?;
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM callback_schema_version",
        [],
        |row| row.get(0),
    )
}

fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![table],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

fn column_exists(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// The tables, then whatever plate-service's own store left: its files come in three
/// shapes (before `vendor_request_id`, before `submitted`, current), told apart here
/// once, never again at start-up. The old tables are left in place, unread: a replica
/// still running the old build keeps working during a rolling deploy, and nothing is
/// deleted that an operator might want back.
fn step1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS callback_results (
             vendor            TEXT NOT NULL,
             request_id        TEXT NOT NULL,
             query_key         TEXT NOT NULL,
             received_at_ms    INTEGER NOT NULL,
             payload           TEXT NOT NULL,
             sandbox           INTEGER NOT NULL DEFAULT 0,
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
             claimed_at_ms  INTEGER NOT NULL,
             settled_at_ms  INTEGER,
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
             claimed_at_ms INTEGER NOT NULL,
             state         TEXT NOT NULL
                 CHECK (state IN ('open', 'accepted', 'unclear', 'failed')),
             settled_at_ms INTEGER,
             PRIMARY KEY (vendor, query_key)
         );",
    )?;
    let vendor = LEGACY_PLATECB_VENDOR;
    if table_exists(conn, "platecb_results")? {
        let vendor_id = if column_exists(conn, "platecb_results", "vendor_request_id")? {
            "vendor_request_id"
        } else {
            "''"
        };
        conn.execute(
            &format!(
                "INSERT OR IGNORE INTO callback_results
                     (vendor, request_id, query_key, received_at_ms, payload, sandbox,
                      vendor_request_id)
                 SELECT ?1, request_id, plate, received_at * 1000, payload, sandbox != 0,
                        {vendor_id}
                 FROM platecb_results"
            ),
            params![vendor],
        )?;
    }
    if table_exists(conn, "platecb_pending")? {
        // A pending row was a submission awaiting its callback: accepted. Which of them
        // were our references and which the vendor's ids was not recorded; each stands
        // for itself, which is all the webhook needs.
        conn.execute(
            "INSERT OR IGNORE INTO callback_submissions
                 (vendor, request_id, our_request_id, query_key, state, claimed_at_ms,
                  settled_at_ms, detail)
             SELECT ?1, request_id, request_id, plate, 'accepted', submitted_at * 1000,
                    submitted_at * 1000, ''
             FROM platecb_pending",
            params![vendor],
        )?;
    }
    if table_exists(conn, "platecb_claims")? {
        // Before `submitted` existed a claim stood for a submission made or being made:
        // accepted, so that no one pays for it twice. After, `submitted = 0` is a claim
        // whose submission had not been confirmed: open, taken over after the window.
        let state = if column_exists(conn, "platecb_claims", "submitted")? {
            "CASE WHEN submitted != 0 THEN 'accepted' ELSE 'open' END"
        } else {
            "'accepted'"
        };
        conn.execute(
            &format!(
                "INSERT OR IGNORE INTO callback_claims
                     (vendor, query_key, request_id, claimed_at_ms, state, settled_at_ms)
                 SELECT ?1, plate, request_id, claimed_at * 1000, {state},
                        CASE WHEN {state} = 'accepted' THEN claimed_at * 1000 END
                 FROM platecb_claims"
            ),
            params![vendor],
        )?;
        // The submission row of an open claim is open too.
        conn.execute(
            "UPDATE callback_submissions SET state = 'open', settled_at_ms = NULL
             WHERE vendor = ?1 AND request_id IN
                 (SELECT request_id FROM callback_claims WHERE vendor = ?1 AND state = 'open')",
            params![vendor],
        )?;
    }
    Ok(())
}
