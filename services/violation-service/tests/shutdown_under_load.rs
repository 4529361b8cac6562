//! SIGTERM in the middle of a load run, sent to the real violation-service binary (issue
//! 14, part 4), with an apistore callback arriving during the drain. The same contract as
//! plate-service's `shutdown_under_load.rs`, for seed 003's platform.
//!
//! What a client may expect, and what is asserted:
//!
//! * every request sent before SIGTERM (those in flight at that moment included), and
//!   every one sent in the first half of `drain_delay`, gets OK (an answer, or PENDING
//!   with a query handle): nothing in flight fails;
//! * a request may fail only if it was sent after health said NOT_SERVING, and only
//!   because it never reached a handler: UNAVAILABLE (connection refused, or the stream
//!   refused after GOAWAY), CANCELLED (dropped by the client's transport before it was
//!   written), or INTERNAL "h2 protocol error" (a stream opened as the final GOAWAY
//!   came, refused by it: tonic's name for h2's NO_ERROR reason). That none of them ran
//!   is checked on the server's side: its access log has exactly as many calls as the
//!   clients got answers, every one OK;
//! * a health watcher sees NOT_SERVING before a connection is refused;
//! * the process exits with status 0 within `drain_delay + shutdown_grace + 2 s`;
//! * a query waiting for apistore's callback when SIGTERM comes gets it: the callback
//!   arrives after the listener closed (the webhook stays open while calls drain), is
//!   stored, and served after a restart without a second paid query.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use callback::Store as _;
use common::process::{Launch, Process, StoreAt};
use common::{apistore_outcome, faults, req, status, temp_store};
use contracts::axle::common::v1::SourceState;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use contracts::axle::violation::v1::{
    GetCityRulesRequest, QueryOutcome, QueryViolationsResponse, get_city_rules_request,
};
use testkit::drain::{self, ms};
use testkit::{connect, free_port};
use tonic::Code;
use tonic::transport::Channel;
use violation_service::connectors::apistore::SOURCE;

const DRAIN_DELAY: Duration = Duration::from_secs(1);
const GRACE: Duration = Duration::from_secs(8);
/// The contract's bound after the grace period (kit's `CUT_BOUND` + the span flush).
const AFTER_GRACE: Duration = Duration::from_secs(2);
/// apistore's callback comes this long after it takes a query: after the drain delay.
const CALLBACK_AFTER_MS: u64 = 2000;
/// Each worker pauses this long between calls: load, not a busy loop on a shared machine.
const THINK: Duration = Duration::from_millis(10);
/// The numbers every 苏E fixture (and generated vehicle) is asked with.
const ENGINE: &str = "M20A3108452";
const VIN: &str = "LVGBE40K7MG052917";
/// A vehicle answered at once (10000), asked by many callers: one paid query.
const SAME_SYNC: (&str, &str, &str, &str) =
    ("粤AJ44E6", "02", "AD50EG081600062", "LNBSCC3H8GF308384");
/// A vehicle answered by callback (10023), asked by many callers: one paid query.
const SAME_ASYNC: &str = "苏E9T8R1";
/// The vehicle whose callback arrives during the drain.
const MID_DRAIN: &str = "苏E9T8R7";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// QueryViolations of one vehicle answered at once, by many callers.
    SameSync,
    /// QueryViolations of one vehicle answered by callback, by many callers.
    SameAsync,
    /// QueryViolations of a vehicle no other call asks (apistore knows none: 10025,
    /// unbilled; apistore is slowed down).
    DistinctQuery,
    /// GetCityRules of a plate no other call asks (local, fast).
    DistinctRules,
}

type Outcome = drain::Outcome<Kind>;

async fn query_on(
    client: &mut ViolationServiceClient<Channel>,
    plate: &str,
) -> Result<QueryViolationsResponse, tonic::Status> {
    let r = if plate == SAME_SYNC.0 {
        req(SAME_SYNC.0, SAME_SYNC.1, SAME_SYNC.2, SAME_SYNC.3)
    } else {
        req(plate, "02", ENGINE, VIN)
    };
    client
        .query_violations(r)
        .await
        .map(tonic::Response::into_inner)
}

/// One closed-loop caller ([`drain::worker`]) of `kind`.
async fn worker(
    channel: Channel,
    kind: Kind,
    id: usize,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let client = ViolationServiceClient::new(channel);
    drain::worker(kind, stop, in_flight, THINK, move |i| {
        let mut client = client.clone();
        async move {
            // Distinct plates: 苏E + a letter + four digits (unknown to apistore), unique
            // per worker and call.
            let n = (id * 7919 + i) % 10_000;
            match kind {
                Kind::SameSync => query_on(&mut client, SAME_SYNC.0).await.map(drop),
                Kind::SameAsync => query_on(&mut client, SAME_ASYNC).await.map(drop),
                Kind::DistinctQuery => query_on(&mut client, &format!("苏EA{n:04}"))
                    .await
                    .map(drop),
                Kind::DistinctRules => client
                    .get_city_rules(GetCityRulesRequest {
                        city: Some(get_city_rules_request::City::Plate(format!("苏EB{n:04}"))),
                        plate_type: "02".to_owned(),
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
    let sandbox =
        testkit::sandbox_url_with(|c| c.apistore.first_delivery_ms = CALLBACK_AFTER_MS).await;
    // Queries stay in flight for a while: apistore takes 100-600 ms.
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "apistore",
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
            (
                "AXLE_VENDORS__APISTORE__CALLBACK__MAX_WAIT",
                "6s".to_owned(),
            ),
            // Every call the server ran, with its code, for the server-side count.
            ("AXLE_TELEMETRY__LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ],
        tag: "violation-shutdown-under-load",
    };
    let mut server = Process::start(&launch, 0).await;
    let addr = server.grpc;

    let watcher = tokio::spawn(drain::watch_health(
        connect(addr).await,
        violation_service::SERVICE_NAME,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let channels = [
        connect(addr).await,
        connect(addr).await,
        connect(addr).await,
    ];
    let kinds = [
        Kind::SameSync,
        Kind::SameAsync,
        Kind::DistinctQuery,
        Kind::DistinctRules,
    ];
    let mut workers = Vec::new();
    for id in 0..24 {
        workers.push(tokio::spawn(worker(
            channels[id % channels.len()].clone(),
            kinds[id % kinds.len()],
            id,
            stop.clone(),
            in_flight.clone(),
        )));
    }
    // Warm: the shared async vehicle's callback has come and its answer is served from
    // the store.
    tokio::time::sleep(Duration::from_millis(CALLBACK_AFTER_MS + 1500)).await;

    // A query that waits for a callback due after the drain delay.
    let before = apistore_outcome(&sandbox, "10023").await;
    let mid_drain = {
        let mut client = ViolationServiceClient::new(connect(addr).await);
        tokio::spawn(async move {
            let r = query_on(&mut client, MID_DRAIN).await;
            (r, Instant::now())
        })
    };
    let submitted = Instant::now() + Duration::from_secs(10);
    while apistore_outcome(&sandbox, "10023").await < before + 1 {
        assert!(Instant::now() < submitted, "apistore never took the query");
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
    // mid-drain query.
    let answered_ok = outcomes.iter().filter(|o| o.code == Code::Ok).count() + 1;
    drain::check_server_log(&log, violation_service::SERVICE_NAME, answered_ok);
    assert!(
        in_flight_at_term > 0,
        "the signal came with calls in flight"
    );
    assert!(
        sent_in_drain_ok > 0,
        "calls sent during the drain delay are served"
    );
    for kind in kinds {
        assert!(
            outcomes
                .iter()
                .any(|o| o.kind == kind && o.code == Code::Ok && o.sent < term),
            "{kind:?} ran"
        );
    }

    // The query in flight got the callback that arrived during the drain.
    let (answer, answered) = tokio::time::timeout(Duration::from_secs(5), mid_drain)
        .await
        .expect("the mid-drain query ended")
        .expect("task");
    let answer = answer.expect("the query waiting at SIGTERM gets its answer");
    assert_eq!(
        status(&answer, SOURCE).state,
        SourceState::Ok as i32,
        "{:?}",
        answer.sources
    );
    assert_eq!(answer.outcome, QueryOutcome::Violations as i32);
    assert!(
        answered > last_accepted,
        "answered after the listener closed ({} ms after SIGTERM)",
        ms(answered - term)
    );
    // Stored: the answer names its query, and the store has it, received after SIGTERM.
    let provenance = answer.violations[0].provenance.clone().expect("provenance");
    let stored = callback::SqliteStore::open(&store)
        .expect("store")
        .result_for_request(SOURCE, &provenance.vendor_request_id)
        .await
        .expect("read")
        .expect("the callback that came mid-drain is stored");
    assert!(stored.received_at >= term_wall, "stored after SIGTERM");
    assert!(stored.query_key.starts_with(MID_DRAIN), "{stored:?}");
    assert!(stored.payload.contains("苏州市"), "{}", stored.payload);

    // After a restart the stored answer is served; nobody paid twice.
    let restarted = Process::start(&launch, 1).await;
    let mut client = ViolationServiceClient::new(connect(restarted.grpc).await);
    let again = query_on(&mut client, MID_DRAIN)
        .await
        .expect("query after restart");
    assert_eq!(status(&again, SOURCE).state, SourceState::Ok as i32);
    assert!(status(&again, SOURCE).from_cache, "{:?}", again.sources);
    assert_eq!(
        apistore_outcome(&sandbox, "10023").await,
        2,
        "one paid query per vehicle answered by callback ({SAME_ASYNC} asked by 6 callers, \
         {MID_DRAIN} twice)"
    );
    assert_eq!(
        apistore_outcome(&sandbox, "10000").await,
        1,
        "one paid query for the vehicle answered at once ({} asked by 6 callers)",
        SAME_SYNC.0
    );
    restarted.remove_log();
    drop(restarted);

    let failures: usize = failed.values().sum();
    println!(
        "violation-service shutdown under load: {} calls, {in_flight_at_term} in flight at \
         SIGTERM, {sent_before_term} sent before it (all OK), {sent_in_drain_ok} sent after it \
         and OK, {failures} refused after NOT_SERVING {failed:?}; NOT_SERVING seen at +{} ms, \
         listener closed at +{} ms, exit 0 at +{} ms (bound {} ms); apistore callback \
         answered mid-drain at +{} ms",
        outcomes.len(),
        ms(not_serving - term),
        ms(refused - term),
        ms(exited),
        ms(DRAIN_DELAY + GRACE + AFTER_GRACE),
        ms(answered - term),
    );
    testkit::remove_sqlite(&store);
    server.remove_log();
}
