//! The durable store behind the callback stack, and its two implementations.
//!
//! Three kinds of rows, each keyed by vendor first so one database serves every async
//! vendor of a service:
//!
//! * **results** `(vendor, request_id)`: a delivered answer, exactly as delivered. First
//!   write wins: a redelivery, a retry or a forgery replaying the id never changes it.
//! * **submissions** `(vendor, request_id)`: every query we sent (or are sending), under
//!   our reference and, once the vendor names its own id, under that id too (an alias
//!   row pointing at ours). The webhook accepts callbacks only for these, and they carry
//!   how the submission ended (accepted, unclear, failed with the error) so that callers
//!   who joined it learn the outcome, on any replica.
//! * **claims** `(vendor, query_key)`: who is paying for the query of a key (a plate)
//!   right now. At most one live claim per key, atomically, across tasks, processes and
//!   (PostgreSQL) replicas.
//!
//! Timestamps are the database's clock: SQLite's host, or the PostgreSQL server's, so that
//! replicas with skewed clocks still agree on what is older than what.

pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What every store method returns: boxed so that `Store` can be used as `dyn Store`
/// (a service picks SQLite or PostgreSQL from its configuration at run time).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The message never contains the connection URL (which may hold a password).
    #[error("callback store (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("callback store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A value the store cannot work with (a schema name, a row written by someone else).
    #[error("callback store: {0}")]
    Invalid(String),
    #[error("callback store task failed: {0}")]
    Task(String),
    /// Claims of the key were taken and given up faster than this caller could look.
    #[error("callback store: the claim on {key:?} kept changing; try again")]
    Contended { key: String },
    #[error("the callback store did not answer within the caller's deadline")]
    TimedOut,
}

/// A delivered answer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub vendor: String,
    /// The id the answer is filed under: our reference, or the vendor's id when the
    /// callback carried only that.
    pub request_id: String,
    /// What was asked about (a plate).
    pub query_key: String,
    /// When the answer was stored (the store's clock, millisecond precision).
    pub received_at: SystemTime,
    /// The answer exactly as delivered (for platecb: the `response` JSON).
    pub payload: String,
    /// Delivered by the Axle sandbox, not the real vendor.
    pub sandbox: bool,
    /// The vendor's own id for the query (support tickets); empty when it gave none.
    pub vendor_request_id: String,
}

impl StoredResult {
    /// The id to quote to the vendor: its own when it gave one, else ours.
    pub fn id_for_vendor(&self) -> &str {
        if self.vendor_request_id.is_empty() {
            &self.request_id
        } else {
            &self.vendor_request_id
        }
    }
}

/// An answer to store (see [`Store::insert_result`]).
#[derive(Debug, Clone, Copy)]
pub struct NewResult<'a> {
    pub vendor: &'a str,
    pub request_id: &'a str,
    /// Empty when the vendor gave no id of its own.
    pub vendor_request_id: &'a str,
    pub query_key: &'a str,
    pub payload: &'a str,
    pub sandbox: bool,
}

/// Where a claim (and the submission it stands for) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimState {
    /// Claimed, the submission not settled yet. Past the submit window the process that
    /// claimed died before it could say how the submission went, perhaps with the
    /// request on the wire: the vendor may have it, as after an unclear submission, so
    /// the claim is held `unclear_resubmit_after` more before it is taken over (its
    /// callback is taken meanwhile and after).
    Open,
    /// The vendor took the query; its callback is awaited. Held for the accepted TTL.
    Accepted,
    /// The submission may or may not have reached the vendor (connection reset, timeout
    /// after sending). Held for `unclear_resubmit_after`, then the key may be submitted
    /// again; a callback for it is still taken meanwhile and after.
    Unclear,
    /// The submission certainly did not become a query at the vendor: the key is free.
    Failed,
}

impl ClaimState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Accepted => "accepted",
            Self::Unclear => "unclear",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "open" => Ok(Self::Open),
            "accepted" => Ok(Self::Accepted),
            "unclear" => Ok(Self::Unclear),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Invalid(format!(
                "unknown claim state {other:?}"
            ))),
        }
    }

    /// Whether a callback for a submission in this state is one we may take: anything
    /// the vendor may have received. A certainly failed submission has no callback.
    pub fn awaits_callback(self) -> bool {
        self != Self::Failed
    }
}

/// The outcome of [`Store::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The reference the key's query is (or is to be) submitted under.
    pub request_id: String,
    /// True: the caller holds the claim and must submit; false: it joins `request_id`.
    pub new: bool,
    pub claimed_at: SystemTime,
    pub state: ClaimState,
    /// When the submission was settled (accepted, unclear, failed).
    pub settled_at: Option<SystemTime>,
}

/// How long claims hold their key, by state (see [`ClaimState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimPolicy {
    /// An `Open` claim older than this was never settled (its process died); it is
    /// taken over once `unclear_resubmit_after` more has passed (the vendor may have it).
    pub submit_window: Duration,
    /// An `Accepted` claim older than this (from its acceptance) is taken over.
    pub accepted_ttl: Duration,
    /// An `Unclear` claim older than this (from when it became unclear) is taken over.
    pub unclear_resubmit_after: Duration,
}

/// How a submission ended (see [`Store::settle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Taken by the vendor; `vendor_request_id` (when it gave one that differs from
    /// ours) becomes a second id the callback may arrive under.
    Accepted { vendor_request_id: Option<String> },
    /// Possibly sent. `detail` is kept for callers who join the claim.
    Unclear { detail: String },
    /// Certainly not a query at the vendor. `detail` is kept for callers who join.
    Failed { detail: String },
}

impl Settlement {
    pub fn state(&self) -> ClaimState {
        match self {
            Self::Accepted { .. } => ClaimState::Accepted,
            Self::Unclear { .. } => ClaimState::Unclear,
            Self::Failed { .. } => ClaimState::Failed,
        }
    }

    pub(crate) fn detail(&self) -> &str {
        match self {
            Self::Accepted { .. } => "",
            Self::Unclear { detail } | Self::Failed { detail } => detail,
        }
    }

    pub(crate) fn vendor_request_id(&self) -> &str {
        match self {
            Self::Accepted {
                vendor_request_id: Some(id),
            } => id,
            _ => "",
        }
    }
}

/// A submission of ours, looked up by one of its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRecord {
    /// The id looked up (ours or the vendor's).
    pub request_id: String,
    /// Our reference for the submission (equal to `request_id` unless that is the
    /// vendor's id).
    pub our_request_id: String,
    pub query_key: String,
    pub state: ClaimState,
    /// When the query was claimed (submitted, for rows recorded with `add_pending`).
    pub claimed_at: SystemTime,
    pub settled_at: Option<SystemTime>,
    /// What the submitter recorded for an unclear or failed submission.
    pub detail: String,
}

/// How long rows that no longer decide anything are kept (see [`Store::purge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Submissions (and with them the right of a callback to be taken) older than this
    /// are forgotten, unless a live claim still stands for them.
    pub submissions: Duration,
    /// Results older than this are deleted; `None` keeps every answer (each one was paid
    /// for, and is small).
    pub results: Option<Duration>,
}

/// What [`Store::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub claims: u64,
    pub submissions: u64,
    pub results: u64,
}

/// The callback store. Every write returns only after it is committed (durable), so that
/// whatever a caller acknowledges on the strength of it survives a crash.
///
/// Implemented by [`SqliteStore`] (a file: the embedded default, one host) and
/// [`PgStore`] (shared by replicas).
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a delivered answer; `Ok(false)` when the request id was already answered
    /// (the stored row is left untouched: first write wins). In the same transaction the
    /// query stops being pending under all of its ids and its claim ends, so the next
    /// caller reuses the answer (or, if it is a failure, asks anew).
    fn insert_result<'a>(&'a self, result: NewResult<'a>) -> StoreFuture<'a, bool>;

    /// Up to `limit` answers for `key` not older than `max_age`, newest first (a newer
    /// failed answer must not hide an older good one).
    fn results_for_key<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        max_age: Duration,
        limit: u32,
    ) -> StoreFuture<'a, Vec<StoredResult>>;

    /// The newest answer for `key` stored at or after `since` (a claim's `claimed_at`).
    fn result_since<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        since: SystemTime,
    ) -> StoreFuture<'a, Option<StoredResult>>;

    /// The answer filed under `request_id`, or carrying it as the vendor's id.
    fn result_for_request<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<StoredResult>>;

    /// Records a submission made outside [`Store::claim`] as accepted and awaiting its
    /// callback (tools, tests, a vendor protocol without claims).
    fn add_pending<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
        key: &'a str,
    ) -> StoreFuture<'a, ()>;

    /// The submission known under `request_id` (ours or the vendor's id), in any state.
    fn submission<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<SubmissionRecord>>;

    /// Claims the right to submit (and pay for) the query of `key`: the first caller gets
    /// `new = true` under its `candidate` reference, recorded as an open submission in
    /// the same transaction; everyone else gets the live claim to join. A claim past its
    /// state's time in `policy`, or failed, is taken over. Repeating a claim with the same
    /// candidate (a retry after a dropped connection) is still `new`.
    fn claim<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        candidate: &'a str,
        policy: ClaimPolicy,
    ) -> StoreFuture<'a, Claim>;

    /// Records how the submission `request_id` (our reference) of `key` ended, on the
    /// claim (if it is still the key's) and on the submission, atomically.
    fn settle<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
        settlement: &'a Settlement,
    ) -> StoreFuture<'a, ()>;

    /// Gives a claim up before anything was submitted: the claim (if still ours) and the
    /// submission are deleted, and the next caller may submit.
    fn release<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, ()>;

    /// Deletes what can no longer decide anything: claims past their time (as `claim`
    /// would take them over), submissions past `retention.submissions` without a live
    /// claim, results past `retention.results`.
    fn purge<'a>(
        &'a self,
        vendor: &'a str,
        policy: ClaimPolicy,
        retention: Retention,
    ) -> StoreFuture<'a, PurgeReport>;

    /// The highest migration step applied (see the `migrations` modules).
    fn schema_version(&self) -> StoreFuture<'_, u32>;
}

/// The store a service's configuration names: PostgreSQL at `postgres_url` (shared by
/// replicas) when it is not empty, else the SQLite file at `sqlite_path` (one host).
pub async fn open(postgres_url: &str, sqlite_path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    if postgres_url.trim().is_empty() {
        Ok(Arc::new(SqliteStore::open(sqlite_path)?))
    } else {
        Ok(Arc::new(PgStore::connect(postgres_url).await?))
    }
}

/// Milliseconds since the Unix epoch, the unit every timestamp column holds.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn from_ms(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}

/// A duration as milliseconds for SQL arithmetic; absurd values are clamped so that
/// `now - d` cannot overflow.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).map_or(i64::MAX / 4, |ms| ms.min(i64::MAX / 4))
}

/// The vendor of rows migrated from the tables plate-service kept before this crate.
pub const LEGACY_PLATECB_VENDOR: &str = "platecb";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_both_sides_of_the_epoch() {
        for ms in [0, 1, 1_700_000_000_123, -1500] {
            assert_eq!(to_ms(from_ms(ms)), ms);
        }
        assert_eq!(duration_ms(Duration::MAX), i64::MAX / 4);
        assert_eq!(duration_ms(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn claim_states_read_back_what_they_write() {
        for s in [
            ClaimState::Open,
            ClaimState::Accepted,
            ClaimState::Unclear,
            ClaimState::Failed,
        ] {
            assert_eq!(ClaimState::parse(s.as_str()).expect("parses"), s);
        }
        assert!(ClaimState::parse("done").is_err());
        assert!(!ClaimState::Failed.awaits_callback());
        assert!(ClaimState::Unclear.awaits_callback());
    }
}
