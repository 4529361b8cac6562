//! SIGKILL of the real violation-service binary (issue 14, parts 4 and 5), with apistore's
//! callback store on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`, trust
//! auth; override with AXLE_TEST_POSTGRES_URL; a schema per run, skipped, saying why,
//! when PostgreSQL is down).
//!
//! `sigkill_with_callbacks_pending_*`: before the crash one vehicle's answer is stored
//! and two vehicles' paid queries are accepted (10023) with their callbacks still to
//! come; many callers ask those vehicles (and distinct ones) when the process is killed.
//! The platform's first delivery then finds nobody listening and it retries later (seed
//! 004's schedule, which seed 003's platform shares). Asserted: the pending queries are
//! still claimed in the store after the crash; the process restarted on the same store
//! takes the retried callbacks and serves them; queries on the restarted process join
//! the pending submissions instead of paying again (the sandbox counts exactly one
//! accepted query per vehicle over the whole run); the answer stored before the crash is
//! unchanged, byte for byte.
//!
//! `sigkill_during_a_submission_*`: the kill comes while two submissions' HTTP requests
//! are themselves in flight, so that the dead process never learnt how they went: one
//! held by the platform before it answers (a latency rule), one the platform has taken
//! (10023 counted, callback scheduled) whose answer is still trickling back (a slow body).
//! What the callback crate promises for that case: the claim stays `open` (submitted,
//! outcome unknown); within `submit_window` of the claim callers join it (PENDING, being
//! submitted); past it nobody will settle it, so it counts as unclear: callers are told
//! at once that the query may not have arrived (PENDING, `VENDOR_SUBMISSION_UNCLEAR`),
//! and the key is held `unclear_resubmit_after` more, since the platform may have the
//! query and call back; only then may it be submitted again. A callback that comes
//! meanwhile is taken (the submission is known under our reference, echoed in the
//! callback's `request`) and answers it. Here the platform's retried callback for the
//! query it took comes after the submit window (before the fix, the claim was taken
//! over at the window's end and the vehicle paid for twice). Asserted: nothing sent
//! again within either window, exactly one accepted query per vehicle across the
//! crash, and each vehicle's answer delivered after the restart and served.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callback::ClaimState;
use common::process::{Launch, Process, StoreAt};
use common::{apistore_calls, apistore_outcome, faults, req, status};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use contracts::axle::violation::v1::{GetCityRulesRequest, get_city_rules_request};
use testkit::{connect, free_port};
use tonic::transport::Channel;
use violation_service::connectors::apistore::SOURCE;

/// The status reason of a query that may not have reached apistore (the source's
/// `SUBMISSION_UNCLEAR`).
const SUBMISSION_UNCLEAR: &str = "VENDOR_SUBMISSION_UNCLEAR";

/// The numbers every 苏E fixture (and generated vehicle) is asked with.
const ENGINE: &str = "M20A3108452";
const VIN: &str = "LVGBE40K7MG052917";
/// Answered (by callback) and stored before the crash.
const ANSWERED: &str = "苏E9T8R2";
/// Accepted before the crash; their callbacks come after it.
const PENDING: [&str; 2] = ["苏E9T8R3", "苏E9T8R4"];
/// Its submission held by the platform (before it answers) when the process is killed.
const HELD: &str = "苏E9T8R5";
/// Taken by the platform, its answer to the submission still arriving when the process
/// is killed.
const TRICKLING: &str = "苏E9T8R6";
/// The platform's first delivery comes this long after it takes a query.
const FIRST_DELIVERY_MS: u64 = 1500;
/// Its retries come 5 min, 1 h, 12 h after the attempt before, times this: the first
/// retry 6 s after the delivery that found the process dead.
const TIME_SCALE: f64 = 0.02;

/// The key apistore's answers and claims for `plate` are filed under (what the service
/// computes from the request, with the 苏E rule's numbers).
fn key(plate: &str) -> String {
    let table = domain::violation::embedded().expect("rules");
    violation_service::query::plan(table, plate, None, "02", ENGINE, VIN)
        .expect("a valid query")
        .query
        .key()
}

/// apistore's status for `plate` in one query.
async fn ask_status(client: &mut ViolationServiceClient<Channel>, plate: &str) -> SourceStatus {
    match client.query_violations(req(plate, "02", ENGINE, VIN)).await {
        Ok(r) => status(&r.into_inner(), SOURCE).clone(),
        Err(s) => panic!("{plate}: {s:?}"),
    }
}

/// apistore's state for `plate` in one query.
async fn ask(client: &mut ViolationServiceClient<Channel>, plate: &str) -> i32 {
    ask_status(client, plate).await.state
}

/// Callers until `stop`: queries of `plate` (`None`: a distinct vehicle per call, half
/// of them GetCityRules). Returns how many calls were made.
async fn caller(
    addr: std::net::SocketAddr,
    plate: Option<&'static str>,
    id: usize,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> usize {
    let mut client = ViolationServiceClient::new(connect(addr).await);
    let mut calls = 0;
    while !stop.load(Ordering::SeqCst) {
        calls += 1;
        let distinct = format!("苏EA{:04}", (id * 7919 + calls) % 10_000);
        in_flight.fetch_add(1, Ordering::SeqCst);
        let call = async {
            match plate {
                Some(p) => client
                    .query_violations(req(p, "02", ENGINE, VIN))
                    .await
                    .map(drop),
                None if calls % 2 == 0 => client
                    .query_violations(req(&distinct, "02", ENGINE, VIN))
                    .await
                    .map(drop),
                None => client
                    .get_city_rules(GetCityRulesRequest {
                        city: Some(get_city_rules_request::City::Plate(distinct)),
                        plate_type: "02".to_owned(),
                    })
                    .await
                    .map(drop),
            }
        };
        // Calls cut by the crash fail (UNAVAILABLE); what matters is what was paid.
        let _ = tokio::time::timeout(Duration::from_secs(10), call).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    calls
}

/// Asks `plate` on `client` until apistore answers it (bounded); the states seen before.
async fn until_answered(
    client: &mut ViolationServiceClient<Channel>,
    plate: &str,
    within: Duration,
) -> Vec<i32> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let st = ask(client, plate).await;
        if st == SourceState::Ok as i32 {
            return seen;
        }
        seen.push(st);
        assert!(
            Instant::now() < deadline,
            "{plate}: apistore still not answered after {within:?} (states seen: {seen:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The platform's accepted queries for `plate` that asked for a callback, by the
/// distinct request ids its deliveries carry.
async fn delivered_ids(sandbox: &str, plate: &str) -> std::collections::BTreeSet<String> {
    let log: serde_json::Value = reqwest::Client::new()
        .get(format!("{sandbox}/_sandbox/apistore/deliveries"))
        .query(&[("plate", plate)])
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    log.as_array()
        .expect("a list")
        .iter()
        .filter(|a| a["kind"] == "genuine")
        .filter_map(|a| a["request_id"].as_str().map(str::to_owned))
        .collect()
}

fn launch(sandbox: &str, store: &StoreAt, tag: &'static str) -> Launch {
    Launch {
        service: common::process::SERVICE,
        sandbox: sandbox.to_owned(),
        store: store.clone(),
        webhook_port: free_port(),
        env: vec![
            // Queries give up waiting quickly (PENDING) and callers ask again: load.
            (
                "AXLE_VENDORS__APISTORE__CALLBACK__MAX_WAIT",
                "300ms".to_owned(),
            ),
            (
                "AXLE_VENDORS__APISTORE__CALLBACK__POLL_INTERVAL",
                "100ms".to_owned(),
            ),
        ],
        tag,
    }
}

#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn sigkill_with_callbacks_pending(store: StoreAt, tag: &'static str) {
    let sandbox = testkit::sandbox_url_with(|c| {
        c.apistore.first_delivery_ms = FIRST_DELIVERY_MS;
        c.apistore.time_scale = TIME_SCALE;
    })
    .await;
    let launch = launch(&sandbox, &store, tag);
    let mut first = Process::start(&launch, 0).await;

    // One answer stored before the crash.
    let mut client = ViolationServiceClient::new(connect(first.grpc).await);
    until_answered(&mut client, ANSWERED, Duration::from_secs(10)).await;
    drop(client);

    // Load: many callers of the two vehicles about to be submitted, and distinct ones.
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for id in 0..12 {
        let plate = match id % 3 {
            0 => Some(PENDING[0]),
            1 => Some(PENDING[1]),
            _ => None,
        };
        callers.push(tokio::spawn(caller(
            first.grpc,
            plate,
            id,
            stop.clone(),
            in_flight.clone(),
        )));
    }
    // Killed as soon as both queries are accepted: their callbacks are still due.
    let accepted = Instant::now() + Duration::from_secs(10);
    while apistore_outcome(&sandbox, "10023").await < 3 {
        assert!(
            Instant::now() < accepted,
            "apistore never took both queries"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
    first.sigkill();
    let killed = Instant::now();
    // The platform's first deliveries find nobody listening.
    let first_deliveries_over = killed + Duration::from_millis(FIRST_DELIVERY_MS + 500);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut calls = 0;
    for c in callers {
        calls += tokio::time::timeout(Duration::from_secs(15), c)
            .await
            .expect("callers stop")
            .expect("caller");
    }

    // What the dead process left: every pending query still claimed.
    let db = StoreAt::open(&store).await;
    let mut request_ids = Vec::new();
    let mut pending = Vec::new();
    let mut open_at_kill = 0;
    for plate in PENDING {
        let claim = db
            .claim(
                SOURCE,
                &key(plate),
                "crash-test-probe",
                testkit::process::hold_everything(),
            )
            .await
            .expect("claim read");
        assert!(
            !claim.new,
            "{plate}: the submission is still known: {claim:?}"
        );
        // Accepted, or still open when the kill came between the platform's answer and
        // its recording: either way the claim holds the key and awaits the callback.
        assert!(
            matches!(claim.state, ClaimState::Accepted | ClaimState::Open),
            "{plate}: {claim:?}"
        );
        open_at_kill += usize::from(claim.state == ClaimState::Open);
        if db
            .result_for_request(SOURCE, &claim.request_id)
            .await
            .expect("read")
            .is_none()
        {
            pending.push(plate);
        }
        request_ids.push(claim.request_id);
    }
    let before = db
        .results_for_key(SOURCE, &key(ANSWERED), Duration::from_secs(3600), 10)
        .await
        .expect("read");
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].payload.contains(ANSWERED));
    drop(db);
    let pending_at_kill = pending.len();
    assert!(pending_at_kill > 0, "callbacks were pending at the crash");

    // Restarted on the same store and webhook port once the first deliveries have failed:
    // the queries join the submissions made before the crash, and the platform's retried
    // callbacks answer them.
    tokio::time::sleep_until(first_deliveries_over.into()).await;
    let mut second = Process::start(&launch, 1).await;
    let restarted = Instant::now();
    let mut client = ViolationServiceClient::new(connect(second.grpc).await);
    for plate in &pending {
        assert_eq!(
            ask(&mut client, plate).await,
            SourceState::Pending as i32,
            "{plate}: joins the query made before the crash"
        );
    }
    for plate in PENDING {
        until_answered(&mut client, plate, Duration::from_secs(20)).await;
    }
    let recovered_after = restarted.elapsed();
    until_answered(&mut client, ANSWERED, Duration::from_secs(1)).await;
    assert_eq!(
        apistore_outcome(&sandbox, "10023").await,
        3,
        "one paid query per vehicle across the crash"
    );
    for plate in PENDING.iter().chain([&ANSWERED]) {
        assert_eq!(delivered_ids(&sandbox, plate).await.len(), 1, "{plate}");
    }
    drop(client);
    second.sigterm();
    let exit = second
        .exit_within(Duration::from_secs(15))
        .await
        .expect("stops on SIGTERM");
    assert!(exit.success(), "{}", second.log_text());

    // Every answer intact: the recovered ones as the platform sent them, the one stored
    // before the crash unchanged.
    let db = StoreAt::open(&store).await;
    for (plate, request_id) in PENDING.iter().zip(&request_ids) {
        let r = db
            .result_for_request(SOURCE, request_id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{plate}: the callback after the crash is stored"));
        assert_eq!(r.query_key, key(plate));
        assert!(r.payload.contains(plate), "{plate}: {}", r.payload);
    }
    let after = db
        .results_for_key(SOURCE, &key(ANSWERED), Duration::from_secs(3600), 10)
        .await
        .expect("read");
    assert_eq!(
        after, before,
        "the answer stored before the crash is unchanged"
    );
    drop(db);

    println!(
        "violation-service crash under load ({tag}): {calls} calls, {in_flight_at_kill} in \
         flight at SIGKILL; {pending_at_kill} of {} callbacks pending at the crash \
         ({open_at_kill} of their claims not yet recorded as accepted), their first delivery \
         refused, all recovered {} ms after the restart (queries on the restarted process \
         joined the submissions made before the crash: PENDING, no new charge); apistore \
         paid queries: 3 for 3 vehicles; stored answer unchanged; {} ms from SIGKILL to the \
         last recovery",
        PENDING.len(),
        recovered_after.as_millis(),
        killed.elapsed().as_millis(),
    );
    first.remove_log();
    second.remove_log();
}

/// How long a claim whose submission was never settled counts as being submitted, in
/// this test (`submit_timeout` 5 s + the crate's 5 s settle margin)...
const SUBMIT_WINDOW: Duration = Duration::from_secs(10);
/// ... and how much longer it then holds its key as unclear (the vendor may have it).
const UNCLEAR_RESUBMIT_AFTER: Duration = Duration::from_secs(10);
/// The platform's retry schedule in the kill-during-a-submission test: the first retry
/// 12 s after the delivery that found the process dead, i.e. about 13.5 s after the
/// query: past the submit window, within the unclear window after it.
const SUBMISSION_TIME_SCALE: f64 = 0.04;

#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn sigkill_during_a_submission(store: StoreAt, tag: &'static str) {
    let sandbox = testkit::sandbox_url_with(|c| {
        c.apistore.first_delivery_ms = FIRST_DELIVERY_MS;
        c.apistore.time_scale = SUBMISSION_TIME_SCALE;
    })
    .await;
    faults(
        &sandbox,
        serde_json::json!([
            { "vendor": "apistore", "plate": HELD, "latency": { "kind": "fixed", "ms": 4000 } },
            { "vendor": "apistore", "plate": TRICKLING,
              "action": { "kind": "slow_body", "chunk_bytes": 1, "interval_ms": 200 } },
        ]),
    )
    .await;
    let mut launch = launch(&sandbox, &store, tag);
    launch.env.extend([
        (
            "AXLE_VENDORS__APISTORE__CALLBACK__SUBMIT_TIMEOUT",
            "5s".to_owned(),
        ),
        (
            "AXLE_VENDORS__APISTORE__CALLBACK__SUBMIT_WINDOW",
            "10s".to_owned(),
        ),
        (
            "AXLE_VENDORS__APISTORE__CALLBACK__UNCLEAR_RESUBMIT_AFTER",
            "10s".to_owned(),
        ),
    ]);
    let mut first = Process::start(&launch, 0).await;

    // Both submissions start: the held one first, then the trickling one, and the kill
    // comes as soon as the platform has taken the trickling one (its answer's body is
    // still on the way; the held one is inside its 4 s hold).
    let mut callers = Vec::new();
    for plate in [HELD, TRICKLING] {
        let mut client = ViolationServiceClient::new(connect(first.grpc).await);
        callers.push(tokio::spawn(async move {
            let _ = client.query_violations(req(plate, "02", ENGINE, VIN)).await;
        }));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let taken = Instant::now() + Duration::from_secs(10);
    while apistore_outcome(&sandbox, "10023").await < 1 {
        assert!(Instant::now() < taken, "apistore never took {TRICKLING}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.sigkill();
    let killed = Instant::now();
    for c in callers {
        let _ = tokio::time::timeout(Duration::from_secs(5), c).await;
    }
    // From here the platform answers at once: a second submission would be counted.
    faults(&sandbox, serde_json::json!([])).await;
    let calls_at_kill = apistore_calls(&sandbox).await;

    // The dead process never learnt how either submission went: both claims are open
    // (submitted, outcome unknown), under the references that were sent.
    let db = StoreAt::open(&store).await;
    let mut claims = Vec::new();
    for plate in [HELD, TRICKLING] {
        let claim = db
            .claim(
                SOURCE,
                &key(plate),
                "crash-test-probe",
                testkit::process::hold_everything(),
            )
            .await
            .expect("claim read");
        assert!(!claim.new, "{plate}: the submission is known: {claim:?}");
        assert_eq!(claim.state, ClaimState::Open, "{plate}: {claim:?}");
        let submission = db
            .submission(SOURCE, &claim.request_id)
            .await
            .expect("read")
            .expect("the submission is recorded under our reference");
        assert!(submission.state.awaits_callback());
        claims.push(claim);
    }
    drop(db);

    // Restarted on the same store and webhook port once the platform's first delivery
    // for the trickling query has found nobody listening.
    tokio::time::sleep_until((killed + Duration::from_millis(FIRST_DELIVERY_MS + 500)).into())
        .await;
    let mut second = Process::start(&launch, 1).await;
    let restarted = Instant::now();
    let mut client = ViolationServiceClient::new(connect(second.grpc).await);
    // Within the submit window: both join the submissions made before the crash
    // (PENDING), and nothing is sent again.
    for plate in [HELD, TRICKLING] {
        assert_eq!(
            ask(&mut client, plate).await,
            SourceState::Pending as i32,
            "{plate}: joins the submission made before the crash"
        );
    }
    assert!(
        claims[0].claimed_at.elapsed().unwrap_or_default() < SUBMIT_WINDOW,
        "the restart came within the submit window"
    );
    assert_eq!(
        apistore_calls(&sandbox).await,
        calls_at_kill,
        "nothing sent again within the submit window"
    );
    // Past the submit window nobody will settle them: callers are told at once that the
    // queries may not have arrived (unclear, with when to ask again), and still nothing
    // is sent: the platform may have them and call back.
    tokio::time::sleep_until(
        (Instant::now()
            + (SUBMIT_WINDOW + Duration::from_millis(500))
                .saturating_sub(claims[0].claimed_at.elapsed().unwrap_or_default()))
        .into(),
    )
    .await;
    let mut unclear_seen = 0;
    for plate in [HELD, TRICKLING] {
        let st = ask_status(&mut client, plate).await;
        if st.state == SourceState::Ok as i32 {
            // The trickling query's retried callback came already (a slow machine).
            assert_eq!(plate, TRICKLING);
            continue;
        }
        assert_eq!(st.state, SourceState::Pending as i32, "{plate}: {st:?}");
        assert_eq!(st.reason, SUBMISSION_UNCLEAR, "{plate}: {st:?}");
        unclear_seen += 1;
    }
    let unclear_checked_at = claims[0].claimed_at.elapsed().unwrap_or_default();
    assert!(
        unclear_checked_at < SUBMIT_WINDOW + UNCLEAR_RESUBMIT_AFTER,
        "checked within the unclear window ({unclear_checked_at:?} after the claim)"
    );
    assert_eq!(
        apistore_calls(&sandbox).await,
        calls_at_kill,
        "nothing sent again past the submit window either"
    );
    // The trickling query's answer comes by the platform's retried callback (after the
    // submit window); the held one's, if the platform never took it, after the unclear
    // window by a single new query.
    let trickling = until_answered(&mut client, TRICKLING, Duration::from_secs(25)).await;
    let trickling_after = restarted.elapsed();
    let held = until_answered(&mut client, HELD, Duration::from_secs(25)).await;
    let held_after = restarted.elapsed();
    let held_ids = delivered_ids(&sandbox, HELD).await;
    let trickling_ids = delivered_ids(&sandbox, TRICKLING).await;
    assert_eq!(
        trickling_ids.len(),
        1,
        "{TRICKLING}: one accepted query across the crash: {trickling_ids:?}"
    );
    assert_eq!(
        held_ids.len(),
        1,
        "{HELD}: one accepted query across the crash: {held_ids:?}"
    );
    assert_eq!(
        apistore_outcome(&sandbox, "10023").await,
        2,
        "one paid query per vehicle across the crash"
    );
    // The trickling answer is the one paid before the crash, filed under its reference.
    let db = StoreAt::open(&store).await;
    let stored = db
        .result_for_request(SOURCE, &claims[1].request_id)
        .await
        .expect("read")
        .expect("the answer to the submission made before the crash is stored");
    assert_eq!(stored.query_key, key(TRICKLING));
    // Whether the platform ever got the held query: its answer is filed under the
    // reference sent before the crash if so, under a new one if it was sent again after
    // the window.
    let held_before_crash = db
        .result_for_request(SOURCE, &claims[0].request_id)
        .await
        .expect("read")
        .is_some();
    if !held_before_crash {
        assert!(
            claims[0].claimed_at.elapsed().unwrap_or_default()
                >= SUBMIT_WINDOW + UNCLEAR_RESUBMIT_AFTER,
            "{HELD} was sent again only after the submit and unclear windows"
        );
    }
    drop(db);
    second.sigterm();
    let exit = second
        .exit_within(Duration::from_secs(15))
        .await
        .expect("stops on SIGTERM");
    assert!(exit.success(), "{}", second.log_text());
    println!(
        "violation-service kill during submissions ({tag}): both claims open after the \
         crash; {unclear_seen} told unclear (PENDING, VENDOR_SUBMISSION_UNCLEAR) past the \
         submit window, nothing sent; {TRICKLING} (taken by the platform, answer trickling at the kill) answered by \
         the platform's retried callback {} ms after the restart (states before: {trickling:?}); \
         {HELD} (held by the platform at the kill) {} after the restart at +{} ms (states \
         before: {held:?}); 1 accepted query per vehicle",
        trickling_after.as_millis(),
        if held_before_crash {
            "taken by the platform all the same, answered by its callback"
        } else {
            "never taken by the platform, sent again once after the submit and unclear \
             windows and answered"
        },
        held_after.as_millis(),
    );
    first.remove_log();
    second.remove_log();
}

async fn on_postgres(
    prefix: &str,
    tag: &'static str,
    run: fn(StoreAt, &'static str) -> ScenarioFuture,
) {
    let schema = match testkit::postgres::Schema::create(prefix).await {
        Ok(s) => s,
        Err(why) => {
            println!("skipping: {why}");
            return;
        }
    };
    run(StoreAt::Postgres(schema.url.clone()), tag).await;
    schema.drop().await;
}

type ScenarioFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn pending_scenario(store: StoreAt, tag: &'static str) -> ScenarioFuture {
    Box::pin(sigkill_with_callbacks_pending(store, tag))
}

fn submission_scenario(store: StoreAt, tag: &'static str) -> ScenarioFuture {
    Box::pin(sigkill_during_a_submission(store, tag))
}

async fn on_sqlite(tag: &'static str, run: fn(StoreAt, &'static str) -> ScenarioFuture) {
    let path = common::temp_store();
    run(StoreAt::Sqlite(path.clone()), tag).await;
    testkit::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_callbacks_pending_loses_nothing_and_pays_once_on_sqlite() {
    on_sqlite("violation-crash-sqlite", pending_scenario).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_callbacks_pending_loses_nothing_and_pays_once_on_postgres() {
    on_postgres("axle_vcrash", "violation-crash-postgres", pending_scenario).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_submission_pays_once_and_serves_the_answer_on_sqlite() {
    on_sqlite("violation-crash-submit-sqlite", submission_scenario).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_submission_pays_once_and_serves_the_answer_on_postgres() {
    on_postgres(
        "axle_vcrash_submit",
        "violation-crash-submit-postgres",
        submission_scenario,
    )
    .await;
}
