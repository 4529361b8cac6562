//! The SQLite store: one file, the embedded default (one host; several processes on that
//! host may share the file).
//!
//! WAL with `synchronous=FULL`: a commit is on disk when the call returns, so a webhook
//! that answers `success` after it cannot lose the answer to a crash. Statements run on
//! the blocking pool behind one connection; transactions that read then write start
//! `IMMEDIATE`, taking the file's write lock up front, so another process cannot slip in
//! between the read and the write.

mod migrations;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Claim, ClaimPolicy, ClaimState, NewResult, PurgeReport, Retention, Settlement, Store,
    StoreError, StoreFuture, StoredResult, SubmissionRecord, duration_ms, from_ms, to_ms,
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// Columns every result query selects, in the order `result_row` reads them.
const RESULT_COLUMNS: &str =
    "vendor, request_id, query_key, received_at_ms, payload, sandbox, vendor_request_id";

fn result_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResult> {
    Ok(StoredResult {
        vendor: row.get(0)?,
        request_id: row.get(1)?,
        query_key: row.get(2)?,
        received_at: from_ms(row.get(3)?),
        payload: row.get(4)?,
        sandbox: row.get::<_, i64>(5)? != 0,
        vendor_request_id: row.get(6)?,
    })
}

/// A state column read back; a value this build does not know is an error, not a guess.
fn state_of(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<ClaimState> {
    let text: String = row.get(i)?;
    ClaimState::parse(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The SQL condition under which the claim row `c` may be taken over at `:now` with the
/// policy's windows in `:submit`, `:accepted`, `:unclear` (milliseconds). An open claim
/// past the submit window was never settled (its process died, perhaps with the request
/// on the wire): the vendor may have the query, so it is held like an unclear one, for
/// `:unclear` more (see [`ClaimState::Open`]).
const EXPIRED: &str = "c.state = 'failed'
    OR (c.state = 'open' AND c.claimed_at_ms < :now - :submit - :unclear)
    OR (c.state = 'accepted' AND COALESCE(c.settled_at_ms, c.claimed_at_ms) < :now - :accepted)
    OR (c.state = 'unclear' AND COALESCE(c.settled_at_ms, c.claimed_at_ms) < :now - :unclear)";

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date,
    /// importing a file written by plate-service's earlier store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // A failure shows up, with the path, when the file cannot be opened.
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;",
        )
        .map_err(err)?;
        migrations::run(&mut conn).map_err(err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&mut guard).map_err(|source| StoreError::Sqlite { path, source })
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }
}

impl Store for SqliteStore {
    fn insert_result<'a>(&'a self, r: NewResult<'a>) -> StoreFuture<'a, bool> {
        let vendor = r.vendor.to_owned();
        let rid = r.request_id.to_owned();
        let vid = r.vendor_request_id.to_owned();
        let key = r.query_key.to_owned();
        let payload = r.payload.to_owned();
        let sandbox = r.sandbox;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO callback_results ({RESULT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![vendor, rid, key, now_ms(), payload, sandbox, vid],
            )?;
            // The query is answered under every id it had (ours and the vendor's): a
            // redelivery under either must find it answered, and its claim is over (a
            // success is reused from the results, a failure must not keep callers
            // waiting). A newer query's claim on the same key is left alone.
            let mut ids: Vec<String> = vec![rid.clone()];
            if !vid.is_empty() {
                ids.push(vid.clone());
            }
            let mut ours: Vec<String> = Vec::new();
            for id in &ids {
                if let Some(o) = tx
                    .query_row(
                        "SELECT our_request_id FROM callback_submissions
                         WHERE vendor = ?1 AND request_id = ?2",
                        params![vendor, id],
                        |row| row.get::<_, String>(0),
                    )
                    .optional()?
                {
                    ours.push(o);
                }
            }
            ids.extend(ours.iter().cloned());
            for id in &ids {
                tx.execute(
                    "DELETE FROM callback_submissions
                     WHERE vendor = ?1 AND (request_id = ?2 OR our_request_id = ?2)",
                    params![vendor, id],
                )?;
                tx.execute(
                    "DELETE FROM callback_claims
                     WHERE vendor = ?1 AND query_key = ?2 AND request_id = ?3",
                    params![vendor, key, id],
                )?;
            }
            tx.commit()?;
            Ok(inserted == 1)
        })
    }

    fn results_for_key<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        max_age: Duration,
        limit: u32,
    ) -> StoreFuture<'a, Vec<StoredResult>> {
        let (vendor, key) = (vendor.to_owned(), key.to_owned());
        let since = now_ms().saturating_sub(duration_ms(max_age));
        self.with(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM callback_results
                 WHERE vendor = ?1 AND query_key = ?2 AND received_at_ms >= ?3
                 ORDER BY received_at_ms DESC LIMIT ?4"
            ))?;
            st.query_map(params![vendor, key, since, limit], result_row)?
                .collect()
        })
    }

    fn result_since<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        since: SystemTime,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        let (vendor, key) = (vendor.to_owned(), key.to_owned());
        let since = to_ms(since);
        self.with(move |c| {
            c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM callback_results
                 WHERE vendor = ?1 AND query_key = ?2 AND received_at_ms >= ?3
                 ORDER BY received_at_ms DESC LIMIT 1"
            ))?
            .query_row(params![vendor, key, since], result_row)
            .optional()
        })
    }

    fn result_for_request<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        let (vendor, id) = (vendor.to_owned(), request_id.to_owned());
        self.with(move |c| {
            if id.is_empty() {
                return Ok(None);
            }
            c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM callback_results
                 WHERE vendor = ?1 AND (request_id = ?2 OR vendor_request_id = ?2)
                 ORDER BY request_id = ?2 DESC LIMIT 1"
            ))?
            .query_row(params![vendor, id], result_row)
            .optional()
        })
    }

    fn add_pending<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
        key: &'a str,
    ) -> StoreFuture<'a, ()> {
        let (vendor, id, key) = (vendor.to_owned(), request_id.to_owned(), key.to_owned());
        self.with(move |c| {
            let now = now_ms();
            c.execute(
                "INSERT OR IGNORE INTO callback_submissions
                     (vendor, request_id, our_request_id, query_key, state, claimed_at_ms,
                      settled_at_ms, detail)
                 VALUES (?1, ?2, ?2, ?3, 'accepted', ?4, ?4, '')",
                params![vendor, id, key, now],
            )?;
            Ok(())
        })
    }

    fn submission<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<SubmissionRecord>> {
        let (vendor, id) = (vendor.to_owned(), request_id.to_owned());
        self.with(move |c| {
            c.prepare_cached(
                "SELECT request_id, our_request_id, query_key, state, claimed_at_ms,
                        settled_at_ms, detail
                 FROM callback_submissions WHERE vendor = ?1 AND request_id = ?2",
            )?
            .query_row(params![vendor, id], |row| {
                Ok(SubmissionRecord {
                    request_id: row.get(0)?,
                    our_request_id: row.get(1)?,
                    query_key: row.get(2)?,
                    state: state_of(row, 3)?,
                    claimed_at: from_ms(row.get(4)?),
                    settled_at: row.get::<_, Option<i64>>(5)?.map(from_ms),
                    detail: row.get(6)?,
                })
            })
            .optional()
        })
    }

    fn claim<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        candidate: &'a str,
        policy: ClaimPolicy,
    ) -> StoreFuture<'a, Claim> {
        let (vendor, key, candidate) = (vendor.to_owned(), key.to_owned(), candidate.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            tx.execute(
                &format!(
                    "INSERT INTO callback_claims AS c
                         (vendor, query_key, request_id, claimed_at_ms, state, settled_at_ms)
                     VALUES (:vendor, :key, :candidate, :now, 'open', NULL)
                     ON CONFLICT (vendor, query_key) DO UPDATE SET
                         request_id = excluded.request_id,
                         claimed_at_ms = excluded.claimed_at_ms,
                         state = 'open', settled_at_ms = NULL
                     WHERE {EXPIRED}"
                ),
                rusqlite::named_params! {
                    ":vendor": vendor, ":key": key, ":candidate": candidate, ":now": now,
                    ":submit": duration_ms(policy.submit_window),
                    ":accepted": duration_ms(policy.accepted_ttl),
                    ":unclear": duration_ms(policy.unclear_resubmit_after),
                },
            )?;
            let claim = tx.query_row(
                "SELECT request_id, claimed_at_ms, state, settled_at_ms FROM callback_claims
                 WHERE vendor = ?1 AND query_key = ?2",
                params![vendor, key],
                |row| {
                    let request_id: String = row.get(0)?;
                    Ok(Claim {
                        new: request_id == candidate,
                        request_id,
                        claimed_at: from_ms(row.get(1)?),
                        state: state_of(row, 2)?,
                        settled_at: row.get::<_, Option<i64>>(3)?.map(from_ms),
                    })
                },
            )?;
            if claim.new {
                tx.execute(
                    "INSERT OR IGNORE INTO callback_submissions
                         (vendor, request_id, our_request_id, query_key, state, claimed_at_ms,
                          settled_at_ms, detail)
                     VALUES (?1, ?2, ?2, ?3, 'open', ?4, NULL, '')",
                    params![vendor, candidate, key, to_ms(claim.claimed_at)],
                )?;
            }
            tx.commit()?;
            Ok(claim)
        })
    }

    fn settle<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
        settlement: &'a Settlement,
    ) -> StoreFuture<'a, ()> {
        let (vendor, key, id) = (vendor.to_owned(), key.to_owned(), request_id.to_owned());
        let state = settlement.state().as_str();
        let detail = settlement.detail().to_owned();
        let vendor_id = settlement.vendor_request_id().to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            tx.execute(
                "UPDATE callback_claims SET state = ?4, settled_at_ms = ?5
                 WHERE vendor = ?1 AND query_key = ?2 AND request_id = ?3",
                params![vendor, key, id, state, now],
            )?;
            tx.execute(
                "UPDATE callback_submissions SET state = ?3, settled_at_ms = ?4, detail = ?5
                 WHERE vendor = ?1 AND our_request_id = ?2",
                params![vendor, id, state, now, detail],
            )?;
            // The vendor's own id becomes a second name of the submission, but only while
            // the submission still stands: an answer that came before the acceptance has
            // ended it, and a pending alias would let a redelivery be stored twice.
            if !vendor_id.is_empty() && vendor_id != id {
                tx.execute(
                    "INSERT OR IGNORE INTO callback_submissions
                         (vendor, request_id, our_request_id, query_key, state, claimed_at_ms,
                          settled_at_ms, detail)
                     SELECT vendor, ?3, request_id, query_key, 'accepted', claimed_at_ms, ?4, ''
                     FROM callback_submissions WHERE vendor = ?1 AND request_id = ?2",
                    params![vendor, id, vendor_id, now],
                )?;
            }
            tx.commit()
        })
    }

    fn release<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        let (vendor, key, id) = (vendor.to_owned(), key.to_owned(), request_id.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM callback_claims
                 WHERE vendor = ?1 AND query_key = ?2 AND request_id = ?3",
                params![vendor, key, id],
            )?;
            tx.execute(
                "DELETE FROM callback_submissions WHERE vendor = ?1 AND our_request_id = ?2",
                params![vendor, id],
            )?;
            tx.commit()
        })
    }

    fn purge<'a>(
        &'a self,
        vendor: &'a str,
        policy: ClaimPolicy,
        retention: Retention,
    ) -> StoreFuture<'a, PurgeReport> {
        let vendor = vendor.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let claims = tx.execute(
                &format!(
                    "DELETE FROM callback_claims AS c WHERE c.vendor = :vendor AND ({EXPIRED})"
                ),
                rusqlite::named_params! {
                    ":vendor": vendor, ":now": now,
                    ":submit": duration_ms(policy.submit_window),
                    ":accepted": duration_ms(policy.accepted_ttl),
                    ":unclear": duration_ms(policy.unclear_resubmit_after),
                },
            )?;
            let submissions = tx.execute(
                "DELETE FROM callback_submissions
                 WHERE vendor = ?1 AND claimed_at_ms < ?2
                   AND our_request_id NOT IN
                       (SELECT request_id FROM callback_claims WHERE vendor = ?1)",
                params![
                    vendor,
                    now.saturating_sub(duration_ms(retention.submissions))
                ],
            )?;
            let results = match retention.results {
                Some(age) => tx.execute(
                    "DELETE FROM callback_results WHERE vendor = ?1 AND received_at_ms < ?2",
                    params![vendor, now.saturating_sub(duration_ms(age))],
                )?,
                None => 0,
            };
            tx.commit()?;
            let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
            Ok(PurgeReport {
                claims: n(claims),
                submissions: n(submissions),
                results: n(results),
            })
        })
    }

    fn schema_version(&self) -> StoreFuture<'_, u32> {
        self.with(|c| migrations::version(c))
    }
}
