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
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

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

#[derive(Debug)]
struct Outcome {
    kind: Kind,
    sent: Instant,
    code: Code,
    message: String,
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .expect("connects")
}

/// One closed-loop caller: calls until `stop`, each call bounded, every outcome kept.
async fn worker(
    channel: Channel,
    kind: Kind,
    id: usize,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let mut client = PlateServiceClient::new(channel);
    let mut out = Vec::new();
    let mut i = 0_usize;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        // Distinct plates: 京A + five digits, unique per worker and call.
        let distinct = format!("京A{:05}", (id * 7919 + i) % 100_000);
        let sent = Instant::now();
        in_flight.fetch_add(1, Ordering::SeqCst);
        let call = async {
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
        };
        let result = tokio::time::timeout(Duration::from_secs(15), call).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let (code, message) = match result {
            Ok(Ok(())) => (Code::Ok, String::new()),
            Ok(Err(s)) => (s.code(), s.message().to_owned()),
            Err(_) => (Code::DeadlineExceeded, "no answer within 15 s".to_owned()),
        };
        let failed = code != Code::Ok;
        out.push(Outcome {
            kind,
            sent,
            code,
            message,
        });
        // After a refusal, do not spin on reconnecting.
        tokio::time::sleep(if failed { THINK * 3 } else { THINK }).await;
    }
    out
}

/// Watches health on a connection of its own: when SERVING was first seen, when
/// NOT_SERVING was, and when the stream ended.
async fn watch_health(channel: Channel) -> (Option<Instant>, Option<Instant>, Instant) {
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: plate_service::SERVICE_NAME.to_owned(),
        })
        .await
        .expect("watch starts")
        .into_inner();
    let (mut serving, mut not_serving) = (None, None);
    while let Ok(Ok(Some(msg))) =
        tokio::time::timeout(Duration::from_secs(30), stream.message()).await
    {
        match ServingStatus::try_from(msg.status) {
            Ok(ServingStatus::Serving) => serving = serving.or(Some(Instant::now())),
            Ok(ServingStatus::NotServing) => not_serving = not_serving.or(Some(Instant::now())),
            _ => {}
        }
    }
    (serving, not_serving, Instant::now())
}

/// Opens (and drops) a TCP connection every 10 ms: the last instant one was accepted and
/// the first instant one was refused.
async fn probe_listener(addr: std::net::SocketAddr) -> (Instant, Option<Instant>) {
    let mut accepted = Instant::now();
    let deadline = accepted + Duration::from_secs(30);
    while Instant::now() < deadline {
        let at = Instant::now();
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            accepted = at;
        } else {
            return (accepted, Some(at));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (accepted, None)
}

/// The PlateService calls the server logged as finished (JSON access lines): rpc, code.
fn served_calls(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "axle::access")
        .filter_map(|v| {
            let rpc = v["rpc"].as_str()?;
            rpc.starts_with(plate_service::SERVICE_NAME).then(|| {
                (
                    rpc.to_owned(),
                    v["grpc_code"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

/// A stream the server refused with its final GOAWAY (above the last stream id it
/// processes): h2 gives the client the GOAWAY's NO_ERROR reason, which tonic reports as
/// INTERNAL "h2 protocol error". The call never reached a handler (checked against the
/// server's access log below), so it is as safe to send again as an UNAVAILABLE one.
fn goaway_refusal(o: &Outcome) -> bool {
    o.code == Code::Internal && o.message.contains("h2 protocol error")
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
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

    let watcher = tokio::spawn(watch_health(connect(addr).await));
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

    let prober = tokio::spawn(probe_listener(addr));
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
    let exit = server
        .exit_within(DRAIN_DELAY + GRACE + AFTER_GRACE + Duration::from_secs(2))
        .await;
    let exited = term.elapsed();
    let log = server.log_text();
    let exit = exit.unwrap_or_else(|| panic!("still running after {exited:?}:\n{log}"));
    assert!(exit.success(), "exit status {exit:?}:\n{log}");
    assert!(
        exited <= DRAIN_DELAY + GRACE + AFTER_GRACE,
        "exited {exited:?} after SIGTERM"
    );
    assert!(
        !log.contains("grace period over"),
        "nothing needed cutting:\n{log}"
    );

    let (serving, not_serving, _) = tokio::time::timeout(Duration::from_secs(5), watcher)
        .await
        .expect("the watch ends with the drain")
        .expect("watcher");
    assert!(serving.is_some_and(|s| s < term), "SERVING before SIGTERM");
    let not_serving = not_serving.expect("the watcher saw NOT_SERVING");
    assert!(
        not_serving > term && not_serving < refused,
        "NOT_SERVING ({} ms after SIGTERM) before the first refused connection ({} ms)",
        ms(not_serving - term),
        ms(refused - term)
    );
    assert!(
        refused - term + Duration::from_millis(50) >= DRAIN_DELAY,
        "connections accepted through the drain delay: refused after {} ms",
        ms(refused - term)
    );

    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("workers stop")
                .expect("worker"),
        );
    }
    let served_window = term + DRAIN_DELAY / 2;
    let mut sent_before_term = 0;
    let mut sent_in_drain_ok = 0;
    let mut failed = std::collections::BTreeMap::<String, usize>::new();
    for o in &outcomes {
        if o.sent < served_window {
            assert_eq!(
                o.code,
                Code::Ok,
                "{:?} sent {} ms after SIGTERM failed: {}",
                o.kind,
                o.sent.saturating_duration_since(term).as_millis(),
                o.message
            );
        }
        if o.sent < term {
            sent_before_term += 1;
        } else if o.code == Code::Ok {
            sent_in_drain_ok += 1;
        } else {
            assert!(
                (matches!(o.code, Code::Unavailable | Code::Cancelled) || goaway_refusal(o))
                    && o.sent >= not_serving,
                "{:?} sent {} ms after SIGTERM ({} ms after NOT_SERVING was seen): {:?} {}",
                o.kind,
                ms(o.sent - term),
                o.sent.saturating_duration_since(not_serving).as_millis(),
                o.code,
                o.message
            );
            *failed.entry(format!("{:?}", o.code)).or_default() += 1;
        }
    }
    // The server's side: every call it ran answered OK, and it ran exactly the calls
    // the clients got answers for (the load's and the mid-drain lookup), so none of the
    // calls that failed on the client's side had started.
    let ran = served_calls(&log);
    let answered_ok = outcomes.iter().filter(|o| o.code == Code::Ok).count() + 1;
    assert!(
        ran.iter().all(|(_, code)| code == "OK"),
        "the server answered every call it ran with OK: {:?}",
        ran.iter().filter(|(_, c)| c != "OK").collect::<Vec<_>>()
    );
    assert_eq!(
        ran.len(),
        answered_ok,
        "calls run by the server = answers received"
    );
    assert!(
        log.lines().last().is_some_and(|l| l.contains("stopped")),
        "the last line logged is `stopped`:\n{log}"
    );
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
    let exit = server
        .exit_within(GRACE + AFTER_GRACE + Duration::from_secs(2))
        .await;
    let exited = term.elapsed();
    let log = server.log_text();
    let exit = exit.unwrap_or_else(|| panic!("still running after {exited:?}:\n{log}"));
    assert!(exit.success(), "exit status {exit:?}:\n{log}");
    assert!(
        exited <= GRACE + AFTER_GRACE,
        "exited {exited:?} after SIGTERM"
    );

    let claim = callback::SqliteStore::open(&store)
        .expect("store")
        .claim(
            plate_service::connectors::platecb::SOURCE,
            MID_DRAIN_PLATE,
            "shutdown-test-probe",
            callback::ClaimPolicy {
                submit_window: Duration::from_secs(3600),
                accepted_ttl: Duration::from_secs(3600),
                unclear_resubmit_after: Duration::from_secs(3600),
            },
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
