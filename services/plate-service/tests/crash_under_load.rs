//! SIGKILL of the real plate-service binary during a load run with platecb callbacks
//! pending (issue 14, part 5), with the callback store on SQLite and on PostgreSQL
//! (127.0.0.1:5432, database `test`, trust auth; override with AXLE_TEST_POSTGRES_URL;
//! a schema per run, skipped, saying why, when PostgreSQL is down).
//!
//! Before the crash one plate's answer is stored and two plates' paid submissions are
//! accepted with their callbacks still to come; many callers ask those plates (and
//! distinct ones) when the process is killed. The platform's first delivery then finds
//! nobody listening and it retries later, as seed 004 says. Asserted: the pending
//! queries are still claimed in the store after the crash (accepted, or open when the
//! kill came between the platform's answer and its recording); the process
//! restarted on the same store takes the retried callbacks and serves them; lookups on
//! the restarted process join the pending submissions instead of paying again (the
//! sandbox counts exactly one accepted submission per plate over the whole run); the
//! answer stored before the crash is unchanged, byte for byte.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callback::ClaimState;
use common::process::{Launch, Process, StoreAt};
use common::{free_port, lookup_on, platecb_calls, status};
use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::ParsePlateRequest;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use testkit::connect;
use tonic::transport::Channel;

const VENDOR: &str = plate_service::connectors::platecb::SOURCE;
/// Answered and stored before the crash (its VIN in the sandbox's fixture).
const ANSWERED: (&str, &str) = ("闽DD22222", "LNBSCC3H5JT920714");
/// Submitted and accepted before the crash; their callbacks come after it.
const PENDING: [(&str, &str); 2] = [
    ("粤B12345", "LFV2B25G2M3012345"),
    ("沪A12345", "LSVAM4182N2123456"),
];
/// The platform's first delivery comes this long after a submission.
const FIRST_DELIVERY_MS: u64 = 1500;
/// Its retries come 5 min, 1 h, 12 h after the attempt before, times this: the first
/// retry 6 s after the delivery that found the process dead.
const TIME_SCALE: f64 = 0.02;

/// Callers until `stop`: lookups of `plate` (`None`: a distinct plate per call, half of
/// them ParsePlate). Returns how many calls were made.
async fn caller(
    addr: std::net::SocketAddr,
    plate: Option<&'static str>,
    id: usize,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> usize {
    let mut client = PlateServiceClient::new(connect(addr).await);
    let mut calls = 0;
    while !stop.load(Ordering::SeqCst) {
        calls += 1;
        let distinct = format!("京A{:05}", (id * 7919 + calls) % 100_000);
        in_flight.fetch_add(1, Ordering::SeqCst);
        let call = async {
            match plate {
                Some(p) => lookup_on(&mut client, p).await.map(drop),
                None if calls % 2 == 0 => lookup_on(&mut client, &distinct).await.map(drop),
                None => client
                    .parse_plate(ParsePlateRequest {
                        plate: distinct,
                        color: 0,
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

/// Asks `plate` on `client` until platecb answers it (bounded); the states seen before.
async fn until_answered(
    client: &mut PlateServiceClient<Channel>,
    plate: &str,
    within: Duration,
) -> Vec<i32> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let r = lookup_on(client, plate).await.expect("lookup");
        let st = status(&r, "platecb").state;
        if st == SourceState::Ok as i32 {
            return seen;
        }
        seen.push(st);
        assert!(
            Instant::now() < deadline,
            "{plate}: platecb still not answered after {within:?}: {:?}",
            r.sources
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn sigkill_with_callbacks_pending(store: StoreAt, tag: &'static str) {
    let sandbox = testkit::sandbox_url_with(|c| {
        c.platecb.first_delivery_ms = FIRST_DELIVERY_MS;
        c.platecb.time_scale = TIME_SCALE;
    })
    .await;
    let launch = Launch {
        service: common::process::SERVICE,
        sandbox: sandbox.clone(),
        store: store.clone(),
        webhook_port: free_port(),
        env: vec![
            // platecb is the paid vendor under test; xiaoshibao is asked on every lookup
            // by design (nothing to recover), so it is left out of the count.
            ("AXLE_VENDORS__XIAOSHIBAO__ENABLED", "false".to_owned()),
            // Lookups give up waiting quickly (PENDING) and callers ask again: load.
            ("AXLE_VENDORS__PLATECB__MAX_WAIT", "300ms".to_owned()),
            ("AXLE_VENDORS__PLATECB__POLL_INTERVAL", "100ms".to_owned()),
        ],
        tag,
    };
    let mut first = Process::start(&launch, 0).await;

    // One answer stored before the crash.
    let mut client = PlateServiceClient::new(connect(first.grpc).await);
    until_answered(&mut client, ANSWERED.0, Duration::from_secs(10)).await;
    drop(client);

    // Load: many callers of the two plates about to be submitted, and distinct plates.
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for id in 0..12 {
        let plate = match id % 3 {
            0 => Some(PENDING[0].0),
            1 => Some(PENDING[1].0),
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
    // Killed as soon as both submissions are accepted: their callbacks are still due.
    let accepted = Instant::now() + Duration::from_secs(10);
    while platecb_calls(&sandbox, "10023").await < 3 {
        assert!(Instant::now() < accepted, "platecb never took both queries");
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

    // What the dead process left: every pending query still claimed, as accepted.
    let db = StoreAt::open(&store).await;
    let mut request_ids = Vec::new();
    let mut pending = Vec::new();
    let mut open_at_kill = 0;
    for (plate, _) in PENDING {
        let claim = db
            .claim(
                VENDOR,
                plate,
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
            .result_for_request(VENDOR, &claim.request_id)
            .await
            .expect("read")
            .is_none()
        {
            pending.push(plate);
        }
        request_ids.push(claim.request_id);
    }
    let before = db
        .results_for_key(VENDOR, ANSWERED.0, Duration::from_secs(3600), 10)
        .await
        .expect("read");
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].payload.contains(ANSWERED.1));
    drop(db);
    let pending_at_kill = pending.len();
    assert!(pending_at_kill > 0, "callbacks were pending at the crash");

    // Restarted on the same store and webhook port once the first deliveries have failed:
    // the lookups join the submissions made before the crash, and the platform's retried
    // callbacks answer them.
    tokio::time::sleep_until(first_deliveries_over.into()).await;
    let mut second = Process::start(&launch, 1).await;
    let restarted = Instant::now();
    let mut client = PlateServiceClient::new(connect(second.grpc).await);
    for plate in &pending {
        let r = lookup_on(&mut client, plate).await.expect("lookup");
        assert_eq!(
            status(&r, "platecb").state,
            SourceState::Pending as i32,
            "{plate}: joins the submission made before the crash: {:?}",
            r.sources
        );
    }
    for (plate, _) in PENDING {
        until_answered(&mut client, plate, Duration::from_secs(20)).await;
    }
    let recovered_after = restarted.elapsed();
    until_answered(&mut client, ANSWERED.0, Duration::from_secs(1)).await;
    assert_eq!(
        platecb_calls(&sandbox, "10023").await,
        3,
        "one paid submission per plate across the crash"
    );
    drop(client);
    second.sigterm();
    let exit = second
        .exit_within(Duration::from_secs(15))
        .await
        .expect("stops on SIGTERM");
    assert!(exit.success(), "{}", second.log_text());

    // Every answer intact: the recovered ones as the platform sent them, the one
    // stored before the crash unchanged.
    let db = StoreAt::open(&store).await;
    for ((plate, vin), request_id) in PENDING.iter().zip(&request_ids) {
        let r = db
            .result_for_request(VENDOR, request_id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{plate}: the callback after the crash is stored"));
        assert_eq!(r.query_key, *plate);
        assert!(r.payload.contains(vin), "{plate}: {}", r.payload);
    }
    let after = db
        .results_for_key(VENDOR, ANSWERED.0, Duration::from_secs(3600), 10)
        .await
        .expect("read");
    assert_eq!(
        after, before,
        "the answer stored before the crash is unchanged"
    );
    drop(db);

    println!(
        "crash under load ({tag}): {calls} calls, {in_flight_at_kill} in flight at SIGKILL; \
         {pending_at_kill} of {} callbacks pending at the crash ({open_at_kill} of their \
         claims not yet recorded as accepted), their first delivery \
         refused, all recovered by the platform's retry {} ms after the restart (lookups \
         on the restarted process joined the submissions made before the crash: PENDING, \
         no new charge); platecb paid submissions: 3 for 3 plates; stored answer \
         unchanged; {} ms from SIGKILL to the last recovery",
        PENDING.len(),
        recovered_after.as_millis(),
        killed.elapsed().as_millis(),
    );
    first.remove_log();
    second.remove_log();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_callbacks_pending_loses_nothing_and_pays_once_on_sqlite() {
    let path = common::temp_store();
    sigkill_with_callbacks_pending(StoreAt::Sqlite(path.clone()), "crash-sqlite").await;
    common::process::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_callbacks_pending_loses_nothing_and_pays_once_on_postgres() {
    let schema = match testkit::postgres::Schema::create("axle_crash").await {
        Ok(s) => s,
        Err(why) => {
            println!("skipping: {why}");
            return;
        }
    };
    sigkill_with_callbacks_pending(StoreAt::Postgres(schema.url.clone()), "crash-postgres").await;
    schema.drop().await;
}

/// SIGKILL while platecb's answer to a submission is still on its way (a slow body: the
/// platform has taken the query, 10023 counted, its callback scheduled), so the process
/// never learns how the submission went and its claim stays open. The platform's first
/// delivery finds nobody; its retry comes after `submit_window`. The callback crate
/// holds such a claim as unclear for `unclear_resubmit_after` after the window (the same
/// code as violation-service's `sigkill_during_a_submission_*`): lookups are PENDING
/// (joined, then `VENDOR_SUBMISSION_UNCLEAR`), nothing is sent again, and the retried
/// callback answers the plate. One paid submission across the crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_submission_pays_once_and_serves_the_answer() {
    const PLATE: &str = "苏EF0001";
    const SUBMIT_WINDOW: Duration = Duration::from_secs(10);
    const UNCLEAR_RESUBMIT_AFTER: Duration = Duration::from_secs(10);
    let sandbox = testkit::sandbox_url_with(|c| {
        c.platecb.first_delivery_ms = FIRST_DELIVERY_MS;
        // First retry 12 s after the failed delivery: past the submit window.
        c.platecb.time_scale = 0.04;
    })
    .await;
    common::faults(
        &sandbox,
        serde_json::json!([{ "vendor": "platecb", "plate": PLATE,
            "action": { "kind": "slow_body", "chunk_bytes": 1, "interval_ms": 200 } }]),
    )
    .await;
    let path = common::temp_store();
    let store = StoreAt::Sqlite(path.clone());
    let launch = Launch {
        service: common::process::SERVICE,
        sandbox: sandbox.clone(),
        store: store.clone(),
        webhook_port: free_port(),
        env: vec![
            ("AXLE_VENDORS__XIAOSHIBAO__ENABLED", "false".to_owned()),
            ("AXLE_VENDORS__PLATECB__MAX_WAIT", "300ms".to_owned()),
            ("AXLE_VENDORS__PLATECB__POLL_INTERVAL", "100ms".to_owned()),
            ("AXLE_VENDORS__PLATECB__SUBMIT_TIMEOUT", "5s".to_owned()),
            ("AXLE_VENDORS__PLATECB__SUBMIT_WINDOW", "10s".to_owned()),
            (
                "AXLE_VENDORS__PLATECB__UNCLEAR_RESUBMIT_AFTER",
                "10s".to_owned(),
            ),
        ],
        tag: "crash-submission",
    };
    let mut first = Process::start(&launch, 0).await;
    let mut client = PlateServiceClient::new(connect(first.grpc).await);
    let lookup = tokio::spawn(async move {
        let _ = lookup_on(&mut client, PLATE).await;
    });
    let taken = Instant::now() + Duration::from_secs(10);
    while platecb_calls(&sandbox, "10023").await < 1 {
        assert!(Instant::now() < taken, "platecb never took {PLATE}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.sigkill();
    let killed = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(5), lookup).await;
    common::faults(&sandbox, serde_json::json!([])).await;
    let calls_at_kill = common::calls(&sandbox).await["calls"]["platecb"].clone();

    let claim = StoreAt::open(&store)
        .await
        .claim(
            VENDOR,
            PLATE,
            "crash-test-probe",
            testkit::process::hold_everything(),
        )
        .await
        .expect("claim read");
    assert_eq!(
        (claim.new, claim.state),
        (false, ClaimState::Open),
        "{claim:?}"
    );

    tokio::time::sleep_until((killed + Duration::from_millis(FIRST_DELIVERY_MS + 500)).into())
        .await;
    let mut second = Process::start(&launch, 1).await;
    let mut client = PlateServiceClient::new(connect(second.grpc).await);
    let joined = lookup_on(&mut client, PLATE).await.expect("lookup");
    assert_eq!(
        status(&joined, "platecb").state,
        SourceState::Pending as i32,
        "{:?}",
        joined.sources
    );
    let since_claim = claim.claimed_at.elapsed().unwrap_or_default();
    tokio::time::sleep((SUBMIT_WINDOW + Duration::from_millis(500)).saturating_sub(since_claim))
        .await;
    let unclear = lookup_on(&mut client, PLATE).await.expect("lookup");
    let st = status(&unclear, "platecb");
    // The retried callback may already have come on a slow machine.
    if st.state != SourceState::Ok as i32 {
        assert_eq!(st.state, SourceState::Pending as i32, "{st:?}");
        assert_eq!(st.reason, "VENDOR_SUBMISSION_UNCLEAR", "{st:?}");
        assert!(
            claim.claimed_at.elapsed().unwrap_or_default() < SUBMIT_WINDOW + UNCLEAR_RESUBMIT_AFTER
        );
    }
    assert_eq!(
        common::calls(&sandbox).await["calls"]["platecb"],
        calls_at_kill,
        "nothing sent again past the submit window"
    );
    let seen = until_answered(&mut client, PLATE, Duration::from_secs(25)).await;
    assert_eq!(
        platecb_calls(&sandbox, "10023").await,
        1,
        "one paid submission across the crash"
    );
    let stored = StoreAt::open(&store)
        .await
        .result_for_request(VENDOR, &claim.request_id)
        .await
        .expect("read")
        .expect("the answer to the submission made before the crash is stored");
    assert_eq!(stored.query_key, PLATE);
    drop(client);
    second.sigterm();
    let exit = second
        .exit_within(Duration::from_secs(15))
        .await
        .expect("stops on SIGTERM");
    assert!(exit.success(), "{}", second.log_text());
    println!(
        "plate-service kill during a submission: claim open after the crash, PENDING \
         (joined, then unclear past the submit window), nothing sent again; answered by \
         the platform's retried callback {} ms after the kill (states before: {seen:?}); \
         1 paid submission",
        killed.elapsed().as_millis()
    );
    first.remove_log();
    second.remove_log();
    common::process::remove_sqlite(&path);
}
