//! SIGTERM under load, as the services' `shutdown_under_load` tests check it (issue 14,
//! part 4): closed-loop callers whose every outcome is kept, a health watcher, a TCP
//! prober, and the checks of what a client may expect of a drain.
//!
//! * every call sent before SIGTERM, and in the first half of `drain_delay`, gets OK;
//! * a call may fail only if it was sent after health said NOT_SERVING, and only as a
//!   call that never reached a handler: UNAVAILABLE, CANCELLED, or a stream refused by
//!   the final GOAWAY ([`goaway_refusal`]); the server's access log proves none ran;
//! * health says NOT_SERVING before the first refused connection, and connections are
//!   accepted through `drain_delay`;
//! * the process exits with status 0 within its bound, nothing cut, last line `stopped`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::process::Process;

/// How one call of a load run ended.
#[derive(Debug)]
pub struct Outcome<K> {
    pub kind: K,
    pub sent: Instant,
    pub code: Code,
    pub message: String,
}

/// One closed-loop caller: `call(i)` for i = 1, 2 ... until `stop`, each call bounded
/// (15 s), every outcome kept, `think` between calls (three times that after a failure:
/// no spinning on reconnects). `in_flight` counts the calls under way.
pub async fn worker<K, F, Fut>(
    kind: K,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    think: Duration,
    mut call: F,
) -> Vec<Outcome<K>>
where
    K: Copy,
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    let mut out = Vec::new();
    let mut i = 0_usize;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let sent = Instant::now();
        in_flight.fetch_add(1, Ordering::SeqCst);
        let result = tokio::time::timeout(Duration::from_secs(15), call(i)).await;
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
        tokio::time::sleep(if failed { think * 3 } else { think }).await;
    }
    out
}

/// Watches `service`'s health on a connection of its own until the stream ends: when
/// SERVING was first seen, when NOT_SERVING was.
pub async fn watch_health(channel: Channel, service: &str) -> (Option<Instant>, Option<Instant>) {
    let mut stream = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: service.to_owned(),
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
    (serving, not_serving)
}

/// Opens (and drops) a TCP connection every 10 ms: the last instant one was accepted and
/// the first instant one was refused (bounded: 30 s).
pub async fn probe_listener(addr: std::net::SocketAddr) -> (Instant, Option<Instant>) {
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

/// The calls of `service` the server logged as finished (JSON access lines): rpc, code.
pub fn served_calls(log: &str, service: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "axle::access")
        .filter_map(|v| {
            let rpc = v["rpc"].as_str()?;
            rpc.starts_with(service).then(|| {
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
/// server's access log), so it is as safe to send again as an UNAVAILABLE one.
pub fn goaway_refusal(code: Code, message: &str) -> bool {
    code == Code::Internal && message.contains("h2 protocol error")
}

pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Waits for the exit after a SIGTERM at `term`: status 0 within `bound` (asked for 2 s
/// longer, so that a late exit is reported as late, not as hung), nothing cut by the
/// grace period. The time it took, and the log.
pub async fn check_clean_exit(
    process: &mut Process,
    term: Instant,
    bound: Duration,
) -> (Duration, String) {
    let exit = process.exit_within(bound + Duration::from_secs(2)).await;
    let exited = term.elapsed();
    let log = process.log_text();
    let exit = exit.unwrap_or_else(|| panic!("still running after {exited:?}:\n{log}"));
    assert!(exit.success(), "exit status {exit:?}:\n{log}");
    assert!(exited <= bound, "exited {exited:?} after SIGTERM");
    assert!(
        !log.contains("grace period over"),
        "nothing needed cutting:\n{log}"
    );
    (exited, log)
}

/// The watcher's verdict: SERVING before SIGTERM at `term`, NOT_SERVING after it and
/// before the first refused connection, connections accepted through `drain_delay`.
/// When NOT_SERVING was seen.
pub fn check_health_order(
    (serving, not_serving): (Option<Instant>, Option<Instant>),
    term: Instant,
    refused: Instant,
    drain_delay: Duration,
) -> Instant {
    assert!(serving.is_some_and(|s| s < term), "SERVING before SIGTERM");
    let not_serving = not_serving.expect("the watcher saw NOT_SERVING");
    assert!(
        not_serving > term && not_serving < refused,
        "NOT_SERVING ({} ms after SIGTERM) before the first refused connection ({} ms)",
        ms(not_serving - term),
        ms(refused - term)
    );
    assert!(
        refused - term + Duration::from_millis(50) >= drain_delay,
        "connections accepted through the drain delay: refused after {} ms",
        ms(refused - term)
    );
    not_serving
}

/// What the calls of a load run did around the SIGTERM.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent_before_term: usize,
    pub sent_in_drain_ok: usize,
    /// Calls refused after NOT_SERVING, by code.
    pub failed: BTreeMap<String, usize>,
}

/// Checks every call against the drain contract (module documentation) and counts them.
pub fn check_outcomes<K: Debug>(
    outcomes: &[Outcome<K>],
    term: Instant,
    drain_delay: Duration,
    not_serving: Instant,
) -> Tally {
    let served_window = term + drain_delay / 2;
    let mut tally = Tally::default();
    for o in outcomes {
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
            tally.sent_before_term += 1;
        } else if o.code == Code::Ok {
            tally.sent_in_drain_ok += 1;
        } else {
            assert!(
                (matches!(o.code, Code::Unavailable | Code::Cancelled)
                    || goaway_refusal(o.code, &o.message))
                    && o.sent >= not_serving,
                "{:?} sent {} ms after SIGTERM ({} ms after NOT_SERVING was seen): {:?} {}",
                o.kind,
                ms(o.sent - term),
                o.sent.saturating_duration_since(not_serving).as_millis(),
                o.code,
                o.message
            );
            *tally.failed.entry(format!("{:?}", o.code)).or_default() += 1;
        }
    }
    tally
}

/// The server's side: every call of `service` it ran answered OK, and it ran exactly the
/// `answered_ok` calls the clients got answers for, so none of the calls that failed on
/// the client's side had started; its last line is `stopped`.
pub fn check_server_log(log: &str, service: &str, answered_ok: usize) {
    let ran = served_calls(log, service);
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
}
