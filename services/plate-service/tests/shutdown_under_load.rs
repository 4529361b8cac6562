//! SIGTERM in the middle of a load run, sent to the real plate-service binary (issue 14,
//! part 4), with a platecb callback arriving during the drain.
//!
//! What a client may expect, and what is asserted:
//!
//! * every request sent before SIGTERM (those in flight at that moment included), and
//!   every one sent in the first half of `drain_delay`, gets OK: nothing in flight fails;
//! * a request may fail only if it was sent after health said NOT_SERVING (a client or
//!   load balancer following health would not have sent it), and only because it never
//!   reached a handler: UNAVAILABLE (connection refused once the listener closed, or the
//!   stream refused after GOAWAY), CANCELLED (the client's transport dropped the call
//!   queued on a connection that had received GOAWAY, before writing it) or INTERNAL "h2
//!   protocol error" (a stream refused by the final GOAWAY: tonic's name for h2's
//!   NO_ERROR reason). All are safe
//!   to send again, to another replica. That none of them ran is checked on the server's
//!   side: its access log has exactly as many calls as the clients got answers, every one
//!   OK. The grace period is long enough that nothing is cut, and the log says so;
//! * a health watcher sees NOT_SERVING before a connection is refused;
//! * the process exits with status 0 within `drain_delay + shutdown_grace + 2 s`;
//! * a lookup waiting for platecb's callback when SIGTERM comes gets it: the callback
//!   arrives after the listener closed (the webhook stays open while calls drain), is
//!   answered, stored, and served after a restart without a second paid submission.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use callback::Store as _;
use common::process::{Launch, Process, StoreAt};
use common::{faults, free_port, lookup_on, platecb_calls, status, temp_store};
use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::ParsePlateRequest;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use testkit::connect;
use testkit::drain::{self, ms};
use tonic::Code;
use tonic::transport::Channel;

const DRAIN_DELAY: Duration = Duration::from_secs(1);
const GRACE: Duration = Duration::from_secs(8);
/// The contract's bound after the grace period (kit's `CUT_BOUND` + the span flush).
const AFTER_GRACE: Duration = Duration::from_secs(2);
/// platecb's callback comes this long after a submission: after the drain delay.
const CALLBACK_AFTER_MS: u64 = 2000;
/// Each worker pauses this long between calls: load, not a busy loop on a shared machine.
const THINK: Duration = Duration::from_millis(10);
/// A fixture plate asked by many callers at once (one paid submission).
const SAME_PLATE: &str = "粤B12345";
/// The fixture plate whose callback arrives during the drain.
const MID_DRAIN_PLATE: &str = "闽DD22222";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// LookupVehicle of one plate by many callers (identical requests).
    SameLookup,
    /// LookupVehicle of a plate no other call asks (xiaoshibao is slowed down).
    DistinctLookup,
    /// ParsePlate of a plate no other call asks (local, fast).
    DistinctParse,
}

type Outcome = drain::Outcome<Kind>;

/// One closed-loop caller ([`drain::worker`]) of `kind`.
async fn worker(
    channel: Channel,
    kind: Kind,
    id: usize,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let client = PlateServiceClient::new(channel);
    drain::worker(kind, stop, in_flight, THINK, move |i| {
        let mut client = client.clone();
        async move {
            // Distinct plates: 京A + five digits, unique per worker and call.
            let distinct = format!("京A{:05}", (id * 7919 + i) % 100_000);
            match kind {
                Kind::SameLookup => lookup_on(&mut client, SAME_PLATE).await.map(drop),
                Kind::DistinctLookup => lookup_on(&mut client, &distinct).await.map(drop),
                Kind::DistinctParse => client
                    .parse_plate(ParsePlateRequest {
                        plate: distinct.replacen('京', "粤", 1),
                        color: 0,
                    })
                    .await
                    .map(drop),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, told in order
async fn sigterm_under_load_fails_nothing_in_flight_and_keeps_a_callback_arriving_mid_drain() {
    let sandbox = testkit::sandbox_url_with(|c| {
        c.platecb.first_delivery_ms = CALLBACK_AFTER_MS;
    })
    .await;
    // Lookups stay in flight for a while: xiaoshibao takes 100-600 ms.
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "xiaoshibao",
            "latency": { "kind": "uniform", "min_ms": 100, "max_ms": 600 } }]),
    )
    .await;
    let store = temp_store();
    let launch = Launch {
        service: common::process::SERVICE,
        sandbox: sandbox.clone(),
        store: StoreAt::Sqlite(store.clone()),
        webhook_port: free_port(),
        env: vec![
            ("AXLE_SERVER__DRAIN_DELAY", "1s".to_owned()),
            ("AXLE_SERVER__SHUTDOWN_GRACE", "8s".to_owned()),
            ("AXLE_VENDORS__PLATECB__MAX_WAIT", "6s".to_owned()),
            // Every call the server ran, with its code, for the server-side count.
            ("AXLE_TELEMETRY__LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ],
        tag: "shutdown-under-load",
    };
    let mut server = Process::start(&launch, 0).await;
    let addr = server.grpc;

    let watcher = tokio::spawn(drain::watch_health(
        connect(addr).await,
        plate_service::SERVICE_NAME,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let channels = [
        connect(addr).await,
        connect(addr).await,
        connect(addr).await,
    ];
    let mut workers = Vec::new();
    for id in 0..24 {
        let kind = [Kind::SameLookup, Kind::DistinctLookup, Kind::DistinctParse][id % 3];
        workers.push(tokio::spawn(worker(
            channels[id % channels.len()].clone(),
            kind,
            id,
            stop.clone(),
            in_flight.clone(),
        )));
    }
    // Warm: the shared plate's callback has come and its answer is served from the store.
    tokio::time::sleep(Duration::from_millis(CALLBACK_AFTER_MS + 1000)).await;

    // A lookup that waits for a callback due after the drain delay.
    let before = platecb_calls(&sandbox, "10023").await;
    let mid_drain = {
        let mut client = PlateServiceClient::new(connect(addr).await);
        tokio::spawn(async move {
            let r = lookup_on(&mut client, MID_DRAIN_PLATE).await;
            (r, Instant::now())
        })
    };
    let submitted = Instant::now() + Duration::from_secs(10);
    while platecb_calls(&sandbox, "10023").await < before + 1 {
        assert!(Instant::now() < submitted, "platecb never took the query");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let prober = tokio::spawn(drain::probe_listener(addr));
    let term_wall = SystemTime::now();
    let term = Instant::now();
    let in_flight_at_term = in_flight.load(Ordering::SeqCst);
    server.sigterm();

    let (last_accepted, refused) = prober.await.expect("prober");
    let refused = refused.expect("the listener closes within 30 s");
    // Clients keep calling a little after the refusal, as a client not following health
    // would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let (exited, log) =
        drain::check_clean_exit(&mut server, term, DRAIN_DELAY + GRACE + AFTER_GRACE).await;

    let health = tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .expect("the watch ends with the drain")
        .expect("watcher");
    let not_serving = drain::check_health_order(health, term, refused, DRAIN_DELAY);

    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("workers stop")
                .expect("worker"),
        );
    }
    let drain::Tally {
        sent_before_term,
        sent_in_drain_ok,
        failed,
    } = drain::check_outcomes(&outcomes, term, DRAIN_DELAY, not_serving);
    // The server ran exactly the calls the clients got answers for: the load's and the
    // mid-drain lookup.
    let answered_ok = outcomes.iter().filter(|o| o.code == Code::Ok).count() + 1;
    drain::check_server_log(&log, plate_service::SERVICE_NAME, answered_ok);
    assert!(
        in_flight_at_term > 0,
        "the signal came with calls in flight"
    );
    assert!(
        sent_in_drain_ok > 0,
        "calls sent during the drain delay are served"
    );
    for kind in [Kind::SameLookup, Kind::DistinctLookup, Kind::DistinctParse] {
        assert!(
            outcomes
                .iter()
                .any(|o| o.kind == kind && o.code == Code::Ok && o.sent < term),
            "{kind:?} ran"
        );
    }

    // The lookup in flight got the callback that arrived during the drain.
    let (answer, answered) = tokio::time::timeout(Duration::from_secs(5), mid_drain)
        .await
        .expect("the mid-drain lookup ended")
        .expect("task");
    let answer = answer.expect("the lookup waiting at SIGTERM gets its answer");
    assert_eq!(
        status(&answer, "platecb").state,
        SourceState::Ok as i32,
        "{:?}",
        answer.sources
    );
    assert!(
        answered > last_accepted,
        "answered after the listener closed ({} ms after SIGTERM)",
        ms(answered - term)
    );
    let stored = callback::SqliteStore::open(&store)
        .expect("store")
        .results_for_key(
            plate_service::connectors::platecb::SOURCE,
            MID_DRAIN_PLATE,
            Duration::from_secs(3600),
            10,
        )
        .await
        .expect("read");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].received_at >= term_wall, "stored after SIGTERM");
    assert!(stored[0].payload.contains("LNBSCC3H5JT920714"));

    // After a restart the stored answer is served; nobody paid twice.
    let restarted = Process::start(&launch, 1).await;
    let mut client = PlateServiceClient::new(connect(restarted.grpc).await);
    let again = lookup_on(&mut client, MID_DRAIN_PLATE)
        .await
        .expect("lookup after restart");
    assert_eq!(status(&again, "platecb").state, SourceState::Ok as i32);
    assert_eq!(
        platecb_calls(&sandbox, "10023").await,
        2,
        "one paid submission per fixture plate ({SAME_PLATE} asked by 8 callers, {MID_DRAIN_PLATE} twice)"
    );
    restarted.remove_log();
    drop(restarted);

    let failures: usize = failed.values().sum();
    println!(
        "shutdown under load: {} calls, {in_flight_at_term} in flight at SIGTERM, {sent_before_term} \
         sent before it (all OK), {sent_in_drain_ok} sent after it and OK, {failures} refused \
         after NOT_SERVING {failed:?}; NOT_SERVING seen at +{} ms, listener closed at +{} ms, \
         exit 0 at +{} ms (bound {} ms); platecb callback answered mid-drain at +{} ms",
        outcomes.len(),
        ms(not_serving - term),
        ms(refused - term),
        ms(exited),
        ms(DRAIN_DELAY + GRACE + AFTER_GRACE),
        ms(answered - term),
    );
    common::process::remove_sqlite(&store);
    server.remove_log();
}

/// A paid submission can outlive the lookup that started it (the caller's deadline ended
/// first; the submission runs to its end so that everyone learns how it went): here the
/// lookup leaves after 1 s and platecb answers after 2 s. SIGTERM
/// with no call in flight must still let it end and record it (accepted) before the
/// process exits, within the grace period: a process that left it half-done would leave
/// the plate claimed by a submission nobody will settle, so that lookups wait for
/// `submit_window` and then pay for the plate again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_paid_submission_that_outlived_its_lookup_settle() {
    let sandbox = testkit::sandbox_url().await;
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "platecb", "latency": { "kind": "fixed", "ms": 2000 } }]),
    )
    .await;
    let store = temp_store();
    let launch = Launch {
        service: common::process::SERVICE,
        sandbox: sandbox.clone(),
        store: StoreAt::Sqlite(store.clone()),
        webhook_port: free_port(),
        env: vec![
            ("AXLE_VENDORS__XIAOSHIBAO__ENABLED", "false".to_owned()),
            ("AXLE_SERVER__SHUTDOWN_GRACE", "8s".to_owned()),
        ],
        tag: "shutdown-submission",
    };
    let mut server = Process::start(&launch, 0).await;
    let mut client = PlateServiceClient::new(connect(server.grpc).await);
    let mut request = tonic::Request::new(contracts::axle::plate::v1::LookupVehicleRequest {
        plate: MID_DRAIN_PLATE.to_owned(),
        color: 0,
    });
    // Long enough for the claim and the submission to start on a busy machine (a caller
    // that leaves before that gives the claim back), shorter than platecb's 2 s (itself
    // under the connector's 3 s timeout, so the submission ends accepted).
    request.set_timeout(Duration::from_secs(1));
    let started = Instant::now();
    // Whatever the lookup says within its second, the submission goes on.
    let _ = client.lookup_vehicle(request).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the lookup left early"
    );
    drop(client);

    let term = Instant::now();
    server.sigterm();
    let (exited, log) = drain::check_clean_exit(&mut server, term, GRACE + AFTER_GRACE).await;

    let claim = callback::SqliteStore::open(&store)
        .expect("store")
        .claim(
            plate_service::connectors::platecb::SOURCE,
            MID_DRAIN_PLATE,
            "shutdown-test-probe",
            testkit::process::hold_everything(),
        )
        .await
        .expect("claim read");
    assert!(!claim.new, "the submission is known: {claim:?}");
    assert_eq!(
        claim.state,
        callback::ClaimState::Accepted,
        "the submission was settled before the exit ({} ms after SIGTERM):\n{log}",
        ms(exited)
    );
    assert_eq!(platecb_calls(&sandbox, "10023").await, 1);
    println!(
        "a submission outliving its lookup: settled as accepted, exit 0 {} ms after SIGTERM",
        ms(exited)
    );
    server.remove_log();
    common::process::remove_sqlite(&store);
}
