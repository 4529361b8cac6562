//! Durable storage of platecb callbacks (seed 004).
//!
//! platecb answers by calling our webhook and retries (5 min, 1 h, 12 h) until we answer
//! `success`. So `success` may only be said once the payload is on disk: the row is
//! committed (SQLite, WAL, `synchronous=FULL`) before the webhook replies, and a crash
//! after `success` loses nothing. Rows are keyed by the vendor's `request_id`: a duplicate
//! or replayed delivery never changes what is stored (first write wins).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("callback store (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("callback store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("callback store task failed: {0}")]
    Join(String),
}

/// A stored vendor answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub request_id: String,
    pub plate: String,
    /// Unix seconds.
    pub received_at: i64,
    /// The `response` JSON exactly as delivered.
    pub payload: String,
    /// Delivered by the Axle sandbox.
    pub sandbox: bool,
    /// The vendor's own `request_id` (for support tickets); `request_id` above is the id
    /// the answer is filed under, which is our reference when the vendor gave none at
    /// submission. Empty in rows stored before this column existed.
    pub vendor_request_id: String,
}

/// How long a claim may stay unsubmitted before another lookup takes it over: far longer
/// than a submit takes, far shorter than the hours a lost claim would otherwise block.
pub const SUBMIT_WINDOW_SECS: i64 = 120;

/// A submission of ours awaiting its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub plate: String,
    /// Unix seconds.
    pub submitted_at: i64,
}

/// The outcome of [`CallbackStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The id the plate's query is (or is to be) filed under.
    pub request_id: String,
    /// True: the caller holds the claim and must submit.
    pub new: bool,
    /// Unix seconds.
    pub claimed_at: i64,
}

/// Columns every result query selects, in the order `stored_result` / `pg_row` read them.
const RESULT_COLUMNS: &str = "request_id, plate, received_at, payload, sandbox, vendor_request_id";

/// Maps a `SELECT {RESULT_COLUMNS}` row.
fn stored_result(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResult> {
    Ok(StoredResult {
        request_id: row.get(0)?,
        plate: row.get(1)?,
        received_at: row.get(2)?,
        payload: row.get(3)?,
        sandbox: row.get::<_, i64>(4)? != 0,
        vendor_request_id: row.get(5)?,
    })
}

/// The store: SQLite (a file, the embedded default) or PostgreSQL (shared by replicas).
#[derive(Debug, Clone)]
pub enum CallbackStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl CallbackStore {
    /// Opens (creating if needed) the SQLite store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(path).map(Self::Sqlite)
    }

    /// Connects to PostgreSQL (`postgres://user@host/db`), creating the tables if needed.
    pub async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        PgStore::connect(url).await.map(Self::Postgres)
    }

    /// Stores a delivered answer; `Ok(false)` when this `request_id` was already stored
    /// (the stored row is left untouched). Returns only after the commit.
    pub async fn insert_result(
        &self,
        request_id: &str,
        vendor_request_id: &str,
        plate: &str,
        payload: &str,
        sandbox: bool,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(s) => {
                s.insert_result(request_id, vendor_request_id, plate, payload, sandbox)
                    .await
            }
            Self::Postgres(p) => {
                p.insert_result(request_id, vendor_request_id, plate, payload, sandbox)
                    .await
            }
        }
    }

    /// The newest stored answer for `plate` not older than `max_age`.
    pub async fn result_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
    ) -> Result<Option<StoredResult>, StoreError> {
        Ok(self
            .results_for_plate(plate, max_age, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Up to `limit` stored answers for `plate` not older than `max_age`, newest first
    /// (a newer failed answer must not hide an older good one).
    pub async fn results_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        match self {
            Self::Sqlite(s) => s.results_for_plate(plate, max_age, limit).await,
            Self::Postgres(p) => p.results_for_plate(plate, max_age, limit).await,
        }
    }

    /// The stored answer for a request id.
    pub async fn result_for_request(
        &self,
        request_id: &str,
    ) -> Result<Option<StoredResult>, StoreError> {
        match self {
            Self::Sqlite(s) => s.result_for_request(request_id).await,
            Self::Postgres(p) => p.result_for_request(request_id).await,
        }
    }

    /// Records a submission awaiting its callback.
    pub async fn add_pending(&self, request_id: &str, plate: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.add_pending(request_id, plate).await,
            Self::Postgres(p) => p.add_pending(request_id, plate).await,
        }
    }

    /// The submission `request_id`, if it is ours and still awaits its callback: the
    /// webhook takes callbacks only for these (the callback's signature covers no data,
    /// so a callback for anything else cannot be trusted), files them under the plate we
    /// asked about, and accepts the platform's late retries of one we really made.
    pub async fn pending(&self, request_id: &str) -> Result<Option<Pending>, StoreError> {
        match self {
            Self::Sqlite(s) => s.pending(request_id).await,
            Self::Postgres(p) => p.pending(request_id).await,
        }
    }

    /// Claims the right to submit (and pay for) a query for `plate`: the first caller
    /// gets `new = true` with its own `candidate` id, recorded as pending in the same
    /// step; everyone else within `max_age` of that claim gets the claimed id to wait
    /// on. Atomic across tasks, processes and (on PostgreSQL) replicas, so two lookups
    /// of one plate never both pay.
    pub async fn claim(
        &self,
        plate: &str,
        candidate: &str,
        max_age: Duration,
    ) -> Result<Claim, StoreError> {
        match self {
            Self::Sqlite(s) => s.claim(plate, candidate, max_age).await,
            Self::Postgres(p) => p.claim(plate, candidate, max_age).await,
        }
    }

    /// Marks a claim's query as sent to the vendor (or possibly sent): from then on it
    /// lasts `pending_ttl`. A claim never marked (its process died before submitting)
    /// can be taken over after `SUBMIT_WINDOW_SECS`.
    pub async fn mark_submitted(&self, request_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.mark_submitted(request_id).await,
            Self::Postgres(p) => p.mark_submitted(request_id).await,
        }
    }

    /// Gives a claim up (its submission failed): the next lookup may submit again.
    pub async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.release(request_id).await,
            Self::Postgres(p) => p.release(request_id).await,
        }
    }

    /// A submission for `plate` still awaiting its callback, made within `max_age`:
    /// asking again would pay twice for the same answer.
    pub async fn pending_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sqlite(s) => s.pending_for_plate(plate, max_age).await,
            Self::Postgres(p) => p.pending_for_plate(plate, max_age).await,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS platecb_results (
                 request_id  TEXT PRIMARY KEY,
                 plate       TEXT NOT NULL,
                 received_at INTEGER NOT NULL,
                 payload     TEXT NOT NULL,
                 sandbox     INTEGER NOT NULL DEFAULT 0,
                 vendor_request_id TEXT NOT NULL DEFAULT ''
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
                 claimed_at INTEGER NOT NULL,
                 submitted  INTEGER NOT NULL DEFAULT 0
             );",
        )
        .map_err(err)?;
        // Files created before `vendor_request_id` existed gain it (SQLite has no
        // ADD COLUMN IF NOT EXISTS).
        let has_column = conn
            .prepare("SELECT 1 FROM pragma_table_info('platecb_results') WHERE name = 'vendor_request_id'")
            .and_then(|mut st| st.exists([]))
            .map_err(err)?;
        if !has_column {
            conn.execute_batch(
                "ALTER TABLE platecb_results ADD COLUMN vendor_request_id TEXT NOT NULL DEFAULT ''",
            )
            .map_err(err)?;
        }
        let has_submitted = conn
            .prepare("SELECT 1 FROM pragma_table_info('platecb_claims') WHERE name = 'submitted'")
            .and_then(|mut st| st.exists([]))
            .map_err(err)?;
        if !has_submitted {
            conn.execute_batch(
                "ALTER TABLE platecb_claims ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0",
            )
            .map_err(err)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&guard).map_err(|source| StoreError::Sqlite { path, source })
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Stores a delivered answer; `Ok(false)` when this `request_id` was already stored
    /// (the stored row is left untouched). Returns only after the commit.
    pub async fn insert_result(
        &self,
        request_id: &str,
        vendor_request_id: &str,
        plate: &str,
        payload: &str,
        sandbox: bool,
    ) -> Result<bool, StoreError> {
        let (rid, vid, plate, payload) = (
            request_id.to_owned(),
            vendor_request_id.to_owned(),
            plate.to_owned(),
            payload.to_owned(),
        );
        self.with(move |c| {
            let inserted = c.execute(
                "INSERT OR IGNORE INTO platecb_results
                     (request_id, plate, received_at, payload, sandbox, vendor_request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![rid, plate, now(), payload, i64::from(sandbox), vid],
            )?;
            // The query is answered under both of its ids (ours and the vendor's): a
            // redelivery under either must find it answered, not pending.
            c.execute(
                "DELETE FROM platecb_pending WHERE request_id IN (?1, ?2)",
                params![rid, vid],
            )?;
            // The answer ends its own query's claim: a success is reused from the
            // results, a failure must not keep later lookups waiting. A newer query's
            // claim on the same plate is left alone.
            c.execute(
                "DELETE FROM platecb_claims WHERE plate = ?1 AND request_id IN (?2, ?3)",
                params![plate, rid, vid],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// The newest stored answer for `plate` not older than `max_age`.
    pub async fn results_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let p = plate.to_owned();
        let since = now() - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        self.with(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {RESULT_COLUMNS} FROM platecb_results
                 WHERE plate = ?1 AND received_at >= ?2 ORDER BY received_at DESC LIMIT ?3"
            ))?;
            st.query_map(params![p, since, limit], stored_result)?
                .collect()
        })
        .await
    }

    /// The stored answer for a request id.
    pub async fn result_for_request(
        &self,
        request_id: &str,
    ) -> Result<Option<StoredResult>, StoreError> {
        let r = request_id.to_owned();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {RESULT_COLUMNS} FROM platecb_results WHERE request_id = ?1"),
                params![r],
                stored_result,
            )
            .optional()
        })
        .await
    }

    /// Records a submission awaiting its callback.
    pub async fn add_pending(&self, request_id: &str, plate: &str) -> Result<(), StoreError> {
        let (r, p) = (request_id.to_owned(), plate.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO platecb_pending (request_id, plate, submitted_at) VALUES (?1, ?2, ?3)",
                params![r, p, now()],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn pending(&self, request_id: &str) -> Result<Option<Pending>, StoreError> {
        let r = request_id.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT plate, submitted_at FROM platecb_pending WHERE request_id = ?1",
                params![r],
                |row| {
                    Ok(Pending {
                        plate: row.get(0)?,
                        submitted_at: row.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    pub async fn claim(
        &self,
        plate: &str,
        candidate: &str,
        max_age: Duration,
    ) -> Result<Claim, StoreError> {
        let (p, cand) = (plate.to_owned(), candidate.to_owned());
        let at = now();
        let cutoff = at - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        let unsubmitted_cutoff = at - SUBMIT_WINDOW_SECS;
        self.with(move |c| {
            // IMMEDIATE: the write lock is taken up front, so another process sharing the
            // file cannot claim between our read and our write.
            let tx =
                rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO platecb_claims (plate, request_id, claimed_at, submitted)
                 VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT(plate) DO UPDATE SET request_id = excluded.request_id,
                     claimed_at = excluded.claimed_at, submitted = 0
                 WHERE platecb_claims.claimed_at < ?4
                    OR (platecb_claims.submitted = 0 AND platecb_claims.claimed_at < ?5)",
                params![p, cand, at, cutoff, unsubmitted_cutoff],
            )?;
            let (request_id, claimed_at): (String, i64) = tx.query_row(
                "SELECT request_id, claimed_at FROM platecb_claims WHERE plate = ?1",
                params![p],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let new = request_id == cand;
            if new {
                tx.execute(
                    "INSERT OR IGNORE INTO platecb_pending (request_id, plate, submitted_at)
                     VALUES (?1, ?2, ?3)",
                    params![cand, p, at],
                )?;
            }
            tx.commit()?;
            Ok(Claim {
                request_id,
                new,
                claimed_at,
            })
        })
        .await
    }

    pub async fn mark_submitted(&self, request_id: &str) -> Result<(), StoreError> {
        let r = request_id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE platecb_claims SET submitted = 1 WHERE request_id = ?1",
                params![r],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        let r = request_id.to_owned();
        self.with(move |c| {
            c.execute(
                "DELETE FROM platecb_claims WHERE request_id = ?1",
                params![r],
            )?;
            c.execute(
                "DELETE FROM platecb_pending WHERE request_id = ?1",
                params![r],
            )?;
            Ok(())
        })
        .await
    }

    /// A submission for `plate` still awaiting its callback, made within `max_age`:
    /// asking again would pay twice for the same answer.
    pub async fn pending_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StoreError> {
        let p = plate.to_owned();
        let since = now() - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        self.with(move |c| {
            c.query_row(
                "SELECT request_id FROM platecb_pending WHERE plate = ?1 AND submitted_at >= ?2
                 ORDER BY submitted_at DESC LIMIT 1",
                params![p, since],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }
}

/// PostgreSQL: every replica sees every callback, whichever one received it.
///
/// One connection, re-established when the server drops it (restart, failover, idle
/// timeout): a statement that fails because the connection closed is retried once on a
/// new one. Every statement is idempotent (`ON CONFLICT DO NOTHING`, keyed deletes,
/// reads), so a retry after an unknown outcome cannot store anything twice.
#[derive(Clone)]
pub struct PgStore {
    /// May hold a password: never printed (see `Debug`).
    url: Arc<str>,
    client: Arc<tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>>,
}

/// How long a (re)connection may take before the operation fails and the webhook answers
/// `fail` (so the vendor retries later) or the lookup reports the store as unavailable.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `e` means the connection is gone rather than the statement being wrong: the
/// client saw it close, the socket failed, or the server said so on its way out
/// (SQLSTATE class 08 connection exception, 57P01-57P03 shutdown/terminated).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P");
    }
    std::error::Error::source(e).is_some_and(<dyn std::error::Error>::is::<std::io::Error>)
}

/// Runs `$body` with a live client bound to `$c`; once more on a fresh connection if the
/// old one turned out to be closed.
macro_rules! pg {
    ($store:expr, |$c:ident| $body:expr) => {{
        let $c = $store.client().await?;
        match $body {
            Err(e) if connection_lost(&e) => {
                tracing::warn!("callback store: PostgreSQL connection lost, reconnecting");
                $store.drop_client(&$c).await;
                let $c = $store.client().await?;
                $body
            }
            r => r,
        }
    }};
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.write_str("PgStore")
    }
}

const PG_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS platecb_results (
        request_id  TEXT PRIMARY KEY,
        plate       TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        payload     TEXT NOT NULL,
        sandbox     BOOLEAN NOT NULL DEFAULT FALSE
    );
    ALTER TABLE platecb_results ADD COLUMN IF NOT EXISTS vendor_request_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS platecb_results_plate ON platecb_results(plate, received_at);
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
    );
    ALTER TABLE platecb_claims ADD COLUMN IF NOT EXISTS submitted BOOLEAN NOT NULL DEFAULT FALSE;";

fn pg_row(row: &tokio_postgres::Row) -> StoredResult {
    StoredResult {
        request_id: row.get(0),
        plate: row.get(1),
        received_at: row.get(2),
        payload: row.get(3),
        sandbox: row.get(4),
        vendor_request_id: row.get(5),
    }
}

impl PgStore {
    async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self {
            url: url.into(),
            client: Arc::default(),
        };
        let client = store.client().await?;
        // Several replicas may start at once: serialise the DDL.
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7305115); {PG_SCHEMA} COMMIT;"
            ))
            .await?;
        Ok(store)
    }

    /// The live connection, (re)connecting if there is none or it has closed.
    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, StoreError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let mut config: tokio_postgres::Config = self.url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(PG_CONNECT_TIMEOUT);
        }
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "callback store connection ended");
            }
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets `dead` unless another task has already replaced it.
    async fn drop_client(&self, dead: &Arc<tokio_postgres::Client>) {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, dead)) {
            *slot = None;
        }
    }

    async fn insert_result(
        &self,
        request_id: &str,
        vendor_request_id: &str,
        plate: &str,
        payload: &str,
        sandbox: bool,
    ) -> Result<bool, StoreError> {
        let received_at = now();
        let n = pg!(self, |c| c
            .execute(
                "INSERT INTO platecb_results
                     (request_id, plate, received_at, payload, sandbox, vendor_request_id)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING",
                &[
                    &request_id,
                    &plate,
                    &received_at,
                    &payload,
                    &sandbox,
                    &vendor_request_id
                ],
            )
            .await)?;
        pg!(self, |c| c
            .execute(
                "DELETE FROM platecb_pending WHERE request_id IN ($1, $2)",
                &[&request_id, &vendor_request_id],
            )
            .await)?;
        pg!(self, |c| c
            .execute(
                "DELETE FROM platecb_claims WHERE plate = $1 AND request_id IN ($2, $3)",
                &[&plate, &request_id, &vendor_request_id],
            )
            .await)?;
        Ok(n == 1)
    }

    async fn results_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
        limit: u32,
    ) -> Result<Vec<StoredResult>, StoreError> {
        let since = now() - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        let limit = i64::from(limit);
        let rows = pg!(self, |c| c
            .query(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM platecb_results
                     WHERE plate = $1 AND received_at >= $2 ORDER BY received_at DESC LIMIT $3"
                ),
                &[&plate, &since, &limit],
            )
            .await)?;
        Ok(rows.iter().map(pg_row).collect())
    }

    async fn result_for_request(
        &self,
        request_id: &str,
    ) -> Result<Option<StoredResult>, StoreError> {
        let row = pg!(self, |c| {
            c.query_opt(
                &format!("SELECT {RESULT_COLUMNS} FROM platecb_results WHERE request_id = $1"),
                &[&request_id],
            )
            .await
        })?;
        Ok(row.as_ref().map(pg_row))
    }

    async fn add_pending(&self, request_id: &str, plate: &str) -> Result<(), StoreError> {
        let submitted_at = now();
        pg!(self, |c| c
            .execute(
                "INSERT INTO platecb_pending (request_id, plate, submitted_at) VALUES ($1, $2, $3)
                 ON CONFLICT (request_id) DO NOTHING",
                &[&request_id, &plate, &submitted_at],
            )
            .await)?;
        Ok(())
    }

    async fn pending(&self, request_id: &str) -> Result<Option<Pending>, StoreError> {
        let row = pg!(self, |c| {
            c.query_opt(
                "SELECT plate, submitted_at FROM platecb_pending WHERE request_id = $1",
                &[&request_id],
            )
            .await
        })?;
        Ok(row.map(|r| Pending {
            plate: r.get(0),
            submitted_at: r.get(1),
        }))
    }

    async fn claim(
        &self,
        plate: &str,
        candidate: &str,
        max_age: Duration,
    ) -> Result<Claim, StoreError> {
        let at = now();
        let cutoff = at - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        let unsubmitted_cutoff = at - SUBMIT_WINDOW_SECS;
        // The upsert takes the row lock: of two concurrent claims only one inserts or
        // replaces an expired claim. Who holds the claim is then read back rather than
        // inferred from the upsert's result, so that the statement stays safe to repeat
        // after a dropped connection (a repeat finds our own claim and is still ours).
        for _ in 0..2 {
            pg!(self, |c| {
                c.execute(
                    "INSERT INTO platecb_claims (plate, request_id, claimed_at, submitted)
                     VALUES ($1, $2, $3, FALSE)
                     ON CONFLICT (plate) DO UPDATE SET request_id = EXCLUDED.request_id,
                         claimed_at = EXCLUDED.claimed_at, submitted = FALSE
                     WHERE platecb_claims.claimed_at < $4
                        OR (NOT platecb_claims.submitted AND platecb_claims.claimed_at < $5)",
                    &[&plate, &candidate, &at, &cutoff, &unsubmitted_cutoff],
                )
                .await
            })?;
            let row = pg!(self, |c| {
                c.query_opt(
                    "SELECT request_id, claimed_at FROM platecb_claims WHERE plate = $1",
                    &[&plate],
                )
                .await
            })?;
            // Released between the two statements: the plate is free, claim again.
            let Some(row) = row else { continue };
            let request_id: String = row.get(0);
            let new = request_id == candidate;
            if new {
                pg!(self, |c| {
                    c.execute(
                        "INSERT INTO platecb_pending (request_id, plate, submitted_at) VALUES ($1, $2, $3)
                         ON CONFLICT (request_id) DO NOTHING",
                        &[&candidate, &plate, &at],
                    )
                    .await
                })?;
            }
            return Ok(Claim {
                request_id,
                new,
                claimed_at: row.get(1),
            });
        }
        // Claimed and released twice in a row by others: let this lookup not submit.
        Ok(Claim {
            request_id: candidate.to_owned(),
            new: false,
            claimed_at: at,
        })
    }

    async fn mark_submitted(&self, request_id: &str) -> Result<(), StoreError> {
        pg!(self, |c| {
            c.execute(
                "UPDATE platecb_claims SET submitted = TRUE WHERE request_id = $1",
                &[&request_id],
            )
            .await
        })?;
        Ok(())
    }

    async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        pg!(self, |c| {
            c.execute(
                "DELETE FROM platecb_claims WHERE request_id = $1",
                &[&request_id],
            )
            .await
        })?;
        pg!(self, |c| {
            c.execute(
                "DELETE FROM platecb_pending WHERE request_id = $1",
                &[&request_id],
            )
            .await
        })?;
        Ok(())
    }

    async fn pending_for_plate(
        &self,
        plate: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StoreError> {
        let since = now() - i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX / 2);
        let row = pg!(self, |c| c
            .query_opt(
                "SELECT request_id FROM platecb_pending WHERE plate = $1 AND submitted_at >= $2
                 ORDER BY submitted_at DESC LIMIT 1",
                &[&plate, &since],
            )
            .await)?;
        Ok(row.map(|r| r.get(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("axle-store-{}-{name}.sqlite", std::process::id()))
    }

    #[tokio::test]
    async fn a_file_from_before_vendor_request_id_is_upgraded_in_place() {
        let path = temp_db("upgrade");
        {
            let c = Connection::open(&path).expect("open");
            c.execute_batch(
                "CREATE TABLE platecb_results (
                     request_id TEXT PRIMARY KEY, plate TEXT NOT NULL,
                     received_at INTEGER NOT NULL, payload TEXT NOT NULL,
                     sandbox INTEGER NOT NULL DEFAULT 0);
                 INSERT INTO platecb_results VALUES ('old', '粤B12345', 1, '{}', 0);",
            )
            .expect("old schema");
        }
        let store = CallbackStore::open(&path).expect("opens and upgrades");
        let old = store
            .result_for_request("old")
            .await
            .expect("q")
            .expect("kept");
        assert_eq!(old.vendor_request_id, "");
        assert!(
            store
                .insert_result("new", "v-new", "粤B12345", "{}", false)
                .await
                .expect("insert")
        );
        let new = store
            .result_for_request("new")
            .await
            .expect("q")
            .expect("row");
        assert_eq!(new.vendor_request_id, "v-new");
        // Opening again does not try to add the column twice.
        drop(store);
        CallbackStore::open(&path).expect("reopens");
    }
    #[tokio::test]
    async fn claims_are_exclusive_repeatable_and_ended_only_by_their_own_answer() {
        let path = temp_db("claims");
        let _ = std::fs::remove_file(&path);
        let store = CallbackStore::open(&path).expect("store");
        let ttl = Duration::from_secs(3600);
        let first = store.claim("粤B12345", "ref-a", ttl).await.expect("claim");
        assert!(first.new && first.request_id == "ref-a");
        // Repeating the same claim (a retry after a dropped connection) is still ours.
        assert!(
            store
                .claim("粤B12345", "ref-a", ttl)
                .await
                .expect("claim")
                .new
        );
        // Anyone else joins it.
        let joined = store.claim("粤B12345", "ref-b", ttl).await.expect("claim");
        assert!(!joined.new && joined.request_id == "ref-a");
        assert!(store.pending("ref-a").await.expect("q").is_some());
        // An answer for another (older) query of the plate leaves this claim alone.
        store
            .insert_result("old-ref", "old-vendor-id", "粤B12345", "{}", false)
            .await
            .expect("insert");
        let later = store.claim("粤B12345", "ref-c", ttl).await.expect("claim");
        assert_eq!(later.request_id, "ref-a", "the newer claim survived");
        // Its own answer ends it, and clears both of its ids from pending.
        store
            .add_pending("vendor-a", "粤B12345")
            .await
            .expect("pending");
        store
            .insert_result("ref-a", "vendor-a", "粤B12345", "{}", false)
            .await
            .expect("insert");
        assert!(store.pending("ref-a").await.expect("q").is_none());
        assert!(store.pending("vendor-a").await.expect("q").is_none());
        let freed = store.claim("粤B12345", "ref-d", ttl).await.expect("claim");
        assert!(freed.new, "free again after its answer");
        // A claim whose process died before submitting is taken over after the submit
        // window; one marked submitted is not.
        {
            let db = Connection::open(&path).expect("open");
            db.execute(
                "UPDATE platecb_claims SET claimed_at = claimed_at - ?1 WHERE request_id = 'ref-d'",
                params![SUBMIT_WINDOW_SECS + 1],
            )
            .expect("age the claim");
        }
        let taken = store.claim("粤B12345", "ref-e", ttl).await.expect("claim");
        assert!(
            taken.new && taken.request_id == "ref-e",
            "an unsubmitted claim expired"
        );
        store.mark_submitted("ref-e").await.expect("mark");
        {
            let db = Connection::open(&path).expect("open");
            db.execute(
                "UPDATE platecb_claims SET claimed_at = claimed_at - ?1 WHERE request_id = 'ref-e'",
                params![SUBMIT_WINDOW_SECS + 1],
            )
            .expect("age the claim");
        }
        let kept = store.claim("粤B12345", "ref-f", ttl).await.expect("claim");
        assert_eq!(
            kept.request_id, "ref-e",
            "a submitted claim lasts pending_ttl"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn first_write_wins_and_survives_reopening() {
        let path = temp_db("first-write");
        let _ = std::fs::remove_file(&path);
        let store = CallbackStore::open(&path).expect("open");
        store.add_pending("r1", "粤B12345").await.expect("pending");
        assert_eq!(
            store
                .pending_for_plate("粤B12345", Duration::from_secs(60))
                .await
                .expect("q"),
            Some("r1".into())
        );
        assert!(
            store
                .insert_result("r1", "v1", "粤B12345", r#"{"c_vin":"A"}"#, false)
                .await
                .expect("insert")
        );
        assert!(
            !store
                .insert_result("r1", "v1", "粤B12345", r#"{"c_vin":"FORGED"}"#, false)
                .await
                .expect("dup")
        );
        assert_eq!(
            store
                .pending_for_plate("粤B12345", Duration::from_secs(60))
                .await
                .expect("q"),
            None
        );
        drop(store);
        // A new process sees the committed row.
        let store = CallbackStore::open(&path).expect("reopen");
        let r = store
            .result_for_plate("粤B12345", Duration::from_secs(60))
            .await
            .expect("q")
            .expect("row");
        assert_eq!(r.payload, r#"{"c_vin":"A"}"#);
        assert!(store.result_for_request("nope").await.expect("q").is_none());
        let _ = std::fs::remove_file(&path);
    }
}
