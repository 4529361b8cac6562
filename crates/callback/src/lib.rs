//! The durable async-callback stack, for vendors that take a query and answer it later
//! by calling our webhook (seed 004 platecb; seed 003's violation platform: codeid 10023
//! "订单提交成功,等待回调结果").
//!
//! # The model
//!
//! **Answers are kept, and `success` is said only after the commit.** A vendor retries a
//! callback (5 min, 1 h, 12 h) until we answer `success`, then never again. So the webhook
//! commits the answer to the [`Store`] (SQLite with `synchronous=FULL`, or PostgreSQL)
//! and only then replies: a crash at any point before loses nothing (the vendor
//! retries), a crash after has nothing to lose.
//!
//! **First write wins.** Results are keyed by `(vendor, request id)` and never
//! overwritten: a redelivery, a retry with different content, or a forgery replaying a
//! request id is acknowledged and changes nothing. Vendors' signatures may cover no
//! data at all (seed 004 signs `time + appid` only), so the webhook also stores only
//! answers to queries we submitted ([`Store::submission`]), filed under the key we asked
//! about, never the key the callback claims.
//!
//! **One paid query per key, across replicas.** A caller that finds no reusable stored
//! answer *claims* the key ([`Store::claim`]: atomic in the database). The first caller
//! submits; everyone else, on any replica, joins that submission and waits for the same
//! callback. The submission runs in its own task: if the caller leaves before it
//! started, the claim is given back; once started, it runs to its end whoever still
//! listens, and how it ended is recorded on the claim and the submission:
//!
//! * *accepted*: the key stays claimed for `pending_ttl` (the vendor's retries span
//!   about 13 h), so nobody pays again while the answer may still come;
//! * *failed* (certainly not a query at the vendor: refused, never sent): the key is
//!   free at once, and callers who joined get the same error at once: they are woken
//!   on this replica and see it at their next poll on others;
//! * *unclear* (the request left and no answer came back: a reset, a timeout): the
//!   vendor may have it and bill it, so nobody submits again for
//!   `unclear_resubmit_after` (minutes, not the 14 h a callback is awaited); callers are
//!   told at once that it may not have arrived ([`Stage::Unclear`]) instead of waiting
//!   for a callback that may never come, and a callback that does come is still taken
//!   (one that came before the reply was lost is the submitter's answer at once);
//! * *answered at once* (data with the acceptance): stored like a callback.
//!
//! A claim whose process died before it could say how its submission went (it may have
//! died with the request on the wire) counts as unclear once `submit_window` has
//! passed: callers are told so, and the key is taken over `unclear_resubmit_after`
//! later. A process that stops on purpose (SIGTERM) first lets the
//! submissions it runs settle, within its grace period
//! ([`Callbacks::submissions_settled`]), so that this is left to crashes.
//!
//! **Waiting.** A caller waits for the callback until its deadline or `max_wait`,
//! whichever comes first (a slow vendor must not hold the other sources' answers
//! hostage), woken at once by this replica's webhook and looking in the store every
//! `poll_interval` for what other replicas received. Past it: [`Asked::Pending`], with
//! what was sent and when to ask again; the answer, once stored, is served to the next
//! caller without a new charge.
//!
//! **Retention.** Answers are kept (each was paid for) unless `keep_results` says
//! otherwise; submissions are remembered for `keep_submissions` (after which a callback
//! for one is refused); claims past their time are dropped. [`Callbacks::purge`] (or
//! [`Callbacks::spawn_purge`]) applies it.
//!
//! **Schema.** Versioned steps, each applied once in a transaction and recorded in
//! `callback_schema_version`; step 1 imports the `platecb_*` tables plate-service's
//! earlier store wrote, under vendor `platecb`, and leaves them in place.
//!
//! # Using it
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use callback::{Asked, Callbacks, Settings, SqliteStore, SubmitError, Submitted};
//!
//! let store = Arc::new(SqliteStore::open("var/callbacks.sqlite".as_ref())?);
//! let platecb = Callbacks::new("platecb", store, Settings::default())?;
//! let asked = platecb
//!     .ask("闽DD22222", None, |submission| async move {
//!         // The paid submission, sending `submission.request_id` along.
//!         let cost_cents: u32 = 12;
//!         Ok::<_, SubmitError<String>>(Submitted::accepted(None, cost_cents))
//!     })
//!     .await?;
//! match asked {
//!     Asked::Answered(a) => println!("{}", a.result.payload),
//!     Asked::Pending(p) => println!("ask again in {:?}", p.retry_after),
//!     Asked::Failed(f) => println!("failed: {}", f.message),
//! }
//! # Ok(()) }
//! ```
//!
//! The vendor's webhook: `webhook::endpoint(platecb.clone(), verifier, settings)` on an
//! `axum::Router`, served by [`webhook::serve`] with [`webhook::ServerLimits`].

pub mod config;
pub mod flow;
pub mod store;
pub mod waiters;
pub mod webhook;

pub use flow::Callbacks;
pub use flow::outcome::{
    Answered, Asked, Failed, Pending, Stage, Submission, SubmitError, Submitted, SyncAnswer,
};
pub use flow::settings::{Settings, SettingsError};
pub use store::{
    Claim, ClaimPolicy, ClaimState, NewResult, PgStore, PurgeReport, Retention, Settlement,
    SqliteStore, Store, StoreError, StoreFuture, StoredResult, SubmissionRecord,
};
pub use waiters::Waiters;
