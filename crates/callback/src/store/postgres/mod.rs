//! The PostgreSQL store: shared by every replica, so a callback received by one is seen
//! by all, and a claim made on one holds on all.
//!
//! One connection, shared by all tasks (tokio-postgres pipelines their statements), and
//! re-established when the server drops it (restart, failover, idle timeout): a statement
//! that fails because the connection closed is run once more on a new one. Because tasks
//! share the connection, no transaction spans statements: every operation that must be
//! atomic is one statement (data-modifying CTEs), and every statement is safe to repeat
//! after an unknown outcome (`ON CONFLICT DO NOTHING`, keyed updates and deletes, a claim
//! that recognises its own candidate). Timestamps come from the server's clock.

mod connection;
mod migrations;

use std::time::{Duration, SystemTime};

use self::connection::{Link, connection_lost, valid_schema};

use super::{
    Claim, ClaimPolicy, ClaimState, NewResult, PurgeReport, Retention, Settlement, Store,
    StoreError, StoreFuture, StoredResult, SubmissionRecord, duration_ms, from_ms, to_ms,
};

/// The server's clock in milliseconds, the unit of every timestamp column.
macro_rules! now_ms {
    () => {
        "(extract(epoch from now()) * 1000)::bigint"
    };
}

/// The condition under which the claim row `c` may be taken over at `$now`, with the
/// policy's windows (milliseconds) in `$4` (open), `$5` (accepted), `$6` (unclear). An
/// open claim is held for `$4 + $6`: past the submit window its outcome is unknown, as
/// an unclear one's (see `ClaimState::Open`).
macro_rules! expired {
    ($now:literal) => {
        concat!(
            "(c.state = 'failed'
              OR (c.state = 'open' AND c.claimed_at_ms < ",
            $now,
            " - $4 - $6)
              OR (c.state = 'accepted'
                  AND COALESCE(c.settled_at_ms, c.claimed_at_ms) < ",
            $now,
            " - $5)
              OR (c.state = 'unclear'
                  AND COALESCE(c.settled_at_ms, c.claimed_at_ms) < ",
            $now,
            " - $6))"
        )
    };
}

/// Columns every result query selects, in the order `result_row` reads them.
macro_rules! result_columns {
    () => {
        "vendor, request_id, query_key, received_at_ms, payload, sandbox, vendor_request_id"
    };
}

fn result_row(row: &tokio_postgres::Row) -> StoredResult {
    StoredResult {
        vendor: row.get(0),
        request_id: row.get(1),
        query_key: row.get(2),
        received_at: from_ms(row.get(3)),
        payload: row.get(4),
        sandbox: row.get(5),
        vendor_request_id: row.get(6),
    }
}

/// Runs `$body` with a live client bound to `$c`; once more on a fresh connection if the
/// old one turned out to be closed.
macro_rules! pg {
    ($store:expr, |$c:ident| $body:expr) => {{
        let $c = $store.link.client().await?;
        match $body {
            Err(e) if connection_lost(&e) => {
                tracing::warn!("callback store: PostgreSQL connection lost, reconnecting");
                $store.link.drop_client(&$c).await;
                let $c = $store.link.client().await?;
                $body
            }
            r => r,
        }
    }};
}

/// The PostgreSQL store (see the module documentation).
#[derive(Clone)]
pub struct PgStore {
    link: Link,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("PgStore")
            .field("schema", &self.link.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects (`postgres://user:password@host/db`) and brings the schema up to date,
    /// importing the tables plate-service's earlier store wrote. Tables live wherever the
    /// connection's `search_path` puts them (by default `public`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, None).await
    }

    /// Like [`PgStore::connect`], with every table in `schema` (created if missing): one
    /// database can hold several independent stores (tenants, parallel tests).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !valid_schema(schema) {
            return Err(StoreError::Invalid(format!(
                "schema name {schema:?} must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 bytes)"
            )));
        }
        Self::open(url, Some(schema)).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let store = Self {
            link: Link::new(url, schema),
        };
        let mut client = store.link.new_client().await?;
        if let Some(schema) = schema {
            // Validated above: a bare identifier.
            client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock(7305115);
                     CREATE SCHEMA IF NOT EXISTS {schema}; COMMIT;"
                ))
                .await?;
        }
        migrations::run(&mut client).await?;
        store.link.install(client).await;
        Ok(store)
    }

    async fn claim_once(
        &self,
        vendor: &str,
        key: &str,
        candidate: &str,
        policy: ClaimPolicy,
    ) -> Result<Option<Claim>, StoreError> {
        let windows = [
            duration_ms(policy.submit_window),
            duration_ms(policy.accepted_ttl),
            duration_ms(policy.unclear_resubmit_after),
        ];
        // One statement: the upsert takes the row lock, so of two concurrent claims only
        // one inserts (or replaces an expired claim), and its submission row is written
        // in the same breath. When the upsert changes nothing the claim is read back by
        // a second statement, whose fresh snapshot sees a claim committed meanwhile.
        let row = pg!(self, |c| {
            c.query_opt(
                concat!(
                    "WITH t AS (SELECT ",
                    now_ms!(),
                    " AS now),
                     up AS (
                         INSERT INTO callback_claims AS c
                             (vendor, query_key, request_id, claimed_at_ms, state, settled_at_ms)
                         SELECT $1::text, $2::text, $3::text, t.now, 'open', NULL FROM t
                         ON CONFLICT (vendor, query_key) DO UPDATE SET
                             request_id = EXCLUDED.request_id,
                             claimed_at_ms = EXCLUDED.claimed_at_ms,
                             state = 'open', settled_at_ms = NULL
                         WHERE ",
                    // DO UPDATE sees only the row and EXCLUDED: the new claim's time is now.
                    expired!("EXCLUDED.claimed_at_ms"),
                    "
                         RETURNING request_id, claimed_at_ms, state, settled_at_ms),
                     sub AS (
                         INSERT INTO callback_submissions
                             (vendor, request_id, our_request_id, query_key, state,
                              claimed_at_ms, settled_at_ms, detail)
                         SELECT $1::text, request_id, request_id, $2::text, 'open',
                                claimed_at_ms, NULL, ''
                         FROM up
                         ON CONFLICT (vendor, request_id) DO NOTHING)
                     SELECT request_id, claimed_at_ms, state, settled_at_ms FROM up"
                ),
                &[
                    &vendor,
                    &key,
                    &candidate,
                    &windows[0],
                    &windows[1],
                    &windows[2],
                ],
            )
            .await
        })?;
        let row = match row {
            Some(row) => Some(row),
            None => pg!(self, |c| {
                c.query_opt(
                    "SELECT request_id, claimed_at_ms, state, settled_at_ms
                     FROM callback_claims WHERE vendor = $1 AND query_key = $2",
                    &[&vendor, &key],
                )
                .await
            })?,
        };
        let Some(row) = row else { return Ok(None) };
        let request_id: String = row.get(0);
        Ok(Some(Claim {
            new: request_id == candidate,
            request_id,
            claimed_at: from_ms(row.get(1)),
            state: ClaimState::parse(row.get(2))?,
            settled_at: row.get::<_, Option<i64>>(3).map(from_ms),
        }))
    }
}

impl Store for PgStore {
    fn insert_result<'a>(&'a self, r: NewResult<'a>) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            // All ids of the query: ours, the vendor's, and the submission either names.
            let n: i64 = pg!(self, |c| {
                c.query_one(
                    concat!(
                        "WITH ins AS (
                             INSERT INTO callback_results (",
                        result_columns!(),
                        ")
                             VALUES ($1, $2, $3, ",
                        now_ms!(),
                        ", $4, $5, $6)
                             ON CONFLICT (vendor, request_id) DO NOTHING RETURNING 1),
                         ids AS (
                             SELECT id FROM unnest(ARRAY[$2::text, $6::text]) AS id
                             WHERE id <> ''
                             UNION
                             SELECT our_request_id FROM callback_submissions
                             WHERE vendor = $1 AND request_id IN ($2, $6)),
                         del_sub AS (
                             DELETE FROM callback_submissions
                             WHERE vendor = $1 AND (request_id IN (SELECT id FROM ids)
                                 OR our_request_id IN (SELECT id FROM ids))),
                         del_claim AS (
                             DELETE FROM callback_claims
                             WHERE vendor = $1 AND query_key = $3
                               AND request_id IN (SELECT id FROM ids))
                         SELECT count(*) FROM ins"
                    ),
                    &[
                        &r.vendor,
                        &r.request_id,
                        &r.query_key,
                        &r.payload,
                        &r.sandbox,
                        &r.vendor_request_id,
                    ],
                )
                .await
            })?
            .get(0);
            Ok(n == 1)
        })
    }

    fn results_for_key<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        max_age: Duration,
        limit: u32,
    ) -> StoreFuture<'a, Vec<StoredResult>> {
        Box::pin(async move {
            let (age, limit) = (duration_ms(max_age), i64::from(limit));
            let rows = pg!(self, |c| {
                c.query(
                    concat!(
                        "SELECT ",
                        result_columns!(),
                        " FROM callback_results
                         WHERE vendor = $1 AND query_key = $2 AND received_at_ms >= ",
                        now_ms!(),
                        " - $3 ORDER BY received_at_ms DESC LIMIT $4"
                    ),
                    &[&vendor, &key, &age, &limit],
                )
                .await
            })?;
            Ok(rows.iter().map(result_row).collect())
        })
    }

    fn result_since<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        since: SystemTime,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        Box::pin(async move {
            let since = to_ms(since);
            let row = pg!(self, |c| {
                c.query_opt(
                    concat!(
                        "SELECT ",
                        result_columns!(),
                        " FROM callback_results
                         WHERE vendor = $1 AND query_key = $2 AND received_at_ms >= $3
                         ORDER BY received_at_ms DESC LIMIT 1"
                    ),
                    &[&vendor, &key, &since],
                )
                .await
            })?;
            Ok(row.as_ref().map(result_row))
        })
    }

    fn result_for_request<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<StoredResult>> {
        Box::pin(async move {
            if request_id.is_empty() {
                return Ok(None);
            }
            let row = pg!(self, |c| {
                c.query_opt(
                    concat!(
                        "SELECT ",
                        result_columns!(),
                        " FROM callback_results
                         WHERE vendor = $1 AND (request_id = $2 OR vendor_request_id = $2)
                         ORDER BY request_id = $2 DESC LIMIT 1"
                    ),
                    &[&vendor, &request_id],
                )
                .await
            })?;
            Ok(row.as_ref().map(result_row))
        })
    }

    fn add_pending<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
        key: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            pg!(self, |c| {
                c.execute(
                    concat!(
                        "INSERT INTO callback_submissions
                             (vendor, request_id, our_request_id, query_key, state,
                              claimed_at_ms, settled_at_ms, detail)
                         SELECT $1::text, $2::text, $2::text, $3::text, 'accepted', t, t, ''
                         FROM (SELECT ",
                        now_ms!(),
                        " AS t) AS now
                         ON CONFLICT (vendor, request_id) DO NOTHING"
                    ),
                    &[&vendor, &request_id, &key],
                )
                .await
            })?;
            Ok(())
        })
    }

    fn submission<'a>(
        &'a self,
        vendor: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, Option<SubmissionRecord>> {
        Box::pin(async move {
            let row = pg!(self, |c| {
                c.query_opt(
                    "SELECT request_id, our_request_id, query_key, state, claimed_at_ms,
                            settled_at_ms, detail
                     FROM callback_submissions WHERE vendor = $1 AND request_id = $2",
                    &[&vendor, &request_id],
                )
                .await
            })?;
            row.map(|row| {
                Ok(SubmissionRecord {
                    request_id: row.get(0),
                    our_request_id: row.get(1),
                    query_key: row.get(2),
                    state: ClaimState::parse(row.get(3))?,
                    claimed_at: from_ms(row.get(4)),
                    settled_at: row.get::<_, Option<i64>>(5).map(from_ms),
                    detail: row.get(6),
                })
            })
            .transpose()
        })
    }

    fn claim<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        candidate: &'a str,
        policy: ClaimPolicy,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            // Released between the upsert and the read-back: the key is free, claim again.
            for _ in 0..5 {
                if let Some(claim) = self.claim_once(vendor, key, candidate, policy).await? {
                    return Ok(claim);
                }
            }
            Err(StoreError::Contended {
                key: key.to_owned(),
            })
        })
    }

    fn settle<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
        settlement: &'a Settlement,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let state = settlement.state().as_str();
            let detail = settlement.detail();
            let vendor_id = settlement.vendor_request_id();
            // The vendor's id becomes a second name of the submission only while the
            // submission still stands (an answer that came before the acceptance ended
            // it, and a pending alias would let a redelivery be stored twice).
            pg!(self, |c| {
                c.execute(
                    concat!(
                        "WITH t AS (SELECT ",
                        now_ms!(),
                        " AS now),
                         cl AS (
                             UPDATE callback_claims SET state = $4::text,
                                 settled_at_ms = (SELECT now FROM t)
                             WHERE vendor = $1 AND query_key = $2 AND request_id = $3),
                         ours AS (
                             UPDATE callback_submissions SET state = $4::text,
                                 settled_at_ms = (SELECT now FROM t), detail = $5
                             WHERE vendor = $1 AND our_request_id = $3
                             RETURNING request_id, query_key, claimed_at_ms)
                         INSERT INTO callback_submissions
                             (vendor, request_id, our_request_id, query_key, state,
                              claimed_at_ms, settled_at_ms, detail)
                         SELECT $1::text, $6::text, $3::text, query_key, 'accepted',
                                claimed_at_ms, (SELECT now FROM t), ''
                         FROM ours WHERE request_id = $3 AND $6::text <> '' AND $6::text <> $3
                         ON CONFLICT (vendor, request_id) DO NOTHING"
                    ),
                    &[&vendor, &key, &request_id, &state, &detail, &vendor_id],
                )
                .await
            })?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        vendor: &'a str,
        key: &'a str,
        request_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            pg!(self, |c| {
                c.execute(
                    "WITH cl AS (
                         DELETE FROM callback_claims
                         WHERE vendor = $1 AND query_key = $2 AND request_id = $3)
                     DELETE FROM callback_submissions WHERE vendor = $1 AND our_request_id = $3",
                    &[&vendor, &key, &request_id],
                )
                .await
            })?;
            Ok(())
        })
    }

    fn purge<'a>(
        &'a self,
        vendor: &'a str,
        policy: ClaimPolicy,
        retention: Retention,
    ) -> StoreFuture<'a, PurgeReport> {
        Box::pin(async move {
            let windows = [
                duration_ms(policy.submit_window),
                duration_ms(policy.accepted_ttl),
                duration_ms(policy.unclear_resubmit_after),
            ];
            let submissions = duration_ms(retention.submissions);
            let results = retention.results.map(duration_ms);
            // Submissions of claims deleted in this statement are still seen as claimed
            // (one snapshot): they go at the next purge.
            let row = pg!(self, |c| {
                c.query_one(
                    concat!(
                        "WITH t AS (SELECT ",
                        now_ms!(),
                        " AS now),
                         cl AS (
                             DELETE FROM callback_claims AS c USING t
                             WHERE c.vendor = $1 AND ",
                        expired!("t.now"),
                        " RETURNING 1),
                         sub AS (
                             DELETE FROM callback_submissions AS s USING t
                             WHERE s.vendor = $1 AND s.claimed_at_ms < t.now - $2
                               AND NOT EXISTS (SELECT 1 FROM callback_claims AS k
                                   WHERE k.vendor = $1 AND k.request_id = s.our_request_id)
                             RETURNING 1),
                         res AS (
                             DELETE FROM callback_results AS r USING t
                             WHERE r.vendor = $1 AND $3::bigint IS NOT NULL
                               AND r.received_at_ms < t.now - $3::bigint
                             RETURNING 1)
                         SELECT (SELECT count(*) FROM cl), (SELECT count(*) FROM sub),
                                (SELECT count(*) FROM res)"
                    ),
                    &[
                        &vendor,
                        &submissions,
                        &results,
                        &windows[0],
                        &windows[1],
                        &windows[2],
                    ],
                )
                .await
            })?;
            let n = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
            Ok(PurgeReport {
                claims: n(0),
                submissions: n(1),
                results: n(2),
            })
        })
    }

    fn schema_version(&self) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            let c = self.link.client().await?;
            Ok(migrations::version(&c).await?)
        })
    }
}
