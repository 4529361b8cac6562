//! What keeps paid vendors from being called more than needed: the answer cache, short
//! negative caching, and one call for identical queries in flight (asserted on the
//! sandbox's own call counters).

mod common;

use std::time::Duration;

use common::*;
use contracts::axle::common::v1::SourceState;
use serde_json::json;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_repeated_query_is_answered_from_the_cache_at_no_cost() {
    let mut s = suite().await;
    let first = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!(first.paid_calls.len(), 1);
    let again = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!(
        calls(&s.sandbox, "connapi").await,
        1,
        "one vendor call for both"
    );
    assert!(again.complete);
    assert!(
        again.paid_calls.is_empty() && again.cost.is_none(),
        "{:?}",
        again.paid_calls
    );
    let vin = status(&again, "vin-service", "");
    assert!(vin.from_cache && vin.cache_age.is_some(), "{vin:?}");
    assert!(status(&again, "connapi", "vin-service").from_cache);
    // The same facts, from the same vendor answer.
    let (a, b) = (first.profile.expect("first"), again.profile.expect("again"));
    assert_eq!(a.brand, b.brand);
    assert_eq!(a.model, b.model);
    assert_eq!(a.msrp, b.msrp);
}

/// The value of `aggregator_response_cache_lookups_total{outcome}`.
fn replays(s: &Suite, outcome: &str) -> u64 {
    let text = s.metrics.encode();
    let line = format!("aggregator_response_cache_lookups_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

#[tokio::test]
async fn a_request_answered_from_kept_answers_is_replayed_whole_next_time() {
    let mut s = suite().await;
    // Cold: connapi is called, so this response is not kept whole.
    let cold = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!(cold.paid_calls.len(), 1);
    // Warm: every step from the answer cache, so the response is kept whole.
    let warm = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!((replays(&s, "hit"), replays(&s, "miss")), (0, 2));
    tokio::time::sleep(Duration::from_millis(60)).await;
    let replay = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!(replays(&s, "hit"), 1, "{}", s.metrics.encode());
    assert_eq!(calls(&s.sandbox, "connapi").await, 1, "no call for either");

    // What a fresh merge of the same kept answers says, only older.
    let age = |r: &contracts::axle::aggregator::v1::GetVehicleProfileResponse| {
        let a = status(r, "connapi", "vin-service")
            .cache_age
            .expect("a kept answer has an age");
        Duration::try_from(a).expect("non-negative")
    };
    assert!(
        age(&replay) >= age(&warm) + Duration::from_millis(60),
        "{:?} then {:?}",
        age(&warm),
        age(&replay)
    );
    let same = |mut r: contracts::axle::aggregator::v1::GetVehicleProfileResponse| {
        r.latency = None;
        for st in &mut r.sources {
            st.cache_age = None;
        }
        r
    };
    assert_eq!(same(replay), same(warm.clone()));
    assert!(warm.paid_calls.is_empty() && warm.cost.is_none());

    // Another request (another include mask) is merged, not replayed.
    let mut other = by_vin(VIN);
    other.include = Some(prost_types::FieldMask {
        paths: vec!["brand".into()],
    });
    profile(&mut s, other, T).await.expect("answer");
    assert_eq!(replays(&s, "hit"), 1);
}

#[tokio::test]
async fn a_response_that_made_a_call_or_lacks_an_answer_is_not_kept_whole() {
    let mut s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "action": { "kind": "http_status", "status": 503 } }]),
    )
    .await;
    // connapi fails each time: the VIN's local answers are kept, the response never is.
    for _ in 0..3 {
        let r = profile(&mut s, by_vin(VIN), T).await.expect("answer");
        assert!(!r.complete);
    }
    assert_eq!(replays(&s, "hit"), 0);
    faults(&s.sandbox, json!([])).await;
    let r = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert!(
        r.complete,
        "recovered at once, not a kept failure: {:#?}",
        r.sources
    );
}

#[tokio::test]
async fn identical_queries_in_flight_make_one_vendor_call() {
    let s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "latency": { "kind": "fixed", "ms": 300 } }]),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = s.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = tonic::Request::new(by_vin(VIN));
            r.set_timeout(T);
            Box::pin(client.get_vehicle_profile(r))
                .await
                .map(tonic::Response::into_inner)
        }));
    }
    let mut paid = 0;
    for t in tasks {
        let r = t.await.expect("task").expect("answer");
        assert!(r.complete, "{:#?}", r.sources);
        assert!(r.profile.is_some_and(|p| p.brand.is_some()));
        paid += r.paid_calls.len();
    }
    assert_eq!(calls(&s.sandbox, "connapi").await, 1, "coalesced");
    assert_eq!(paid, 1, "one request paid, the others shared its answer");
}

#[tokio::test]
async fn no_record_is_remembered_too() {
    let mut s = suite().await;
    // connapi has no record of this VIN.
    for _ in 0..2 {
        let r = profile(&mut s, by_vin(VIOLATION_VIN), T)
            .await
            .expect("answer");
        assert_eq!(
            status(&r, "connapi", "vin-service").state,
            SourceState::NotFound as i32
        );
    }
    assert_eq!(calls(&s.sandbox, "connapi").await, 1);
}

#[tokio::test]
async fn a_failed_answer_is_asked_again() {
    let mut s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "action": { "kind": "http_status", "status": 503 } }]),
    )
    .await;
    profile(&mut s, by_vin(VIN), T).await.expect("answer");
    let after_first = calls(&s.sandbox, "connapi").await;
    faults(&s.sandbox, json!([])).await;
    let r = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert!(calls(&s.sandbox, "connapi").await > after_first);
    assert!(r.complete, "recovered: {:#?}", r.sources);
    assert!(!status(&r, "vin-service", "").from_cache);
}

#[tokio::test]
async fn with_the_cache_off_every_query_asks_again() {
    let mut s = suite_with(Tweaks {
        aggregator: Some(Box::new(|c| c.cache.enabled = false)),
        ..Tweaks::default()
    })
    .await;
    profile(&mut s, by_vin(VIN), T).await.expect("answer");
    profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert_eq!(calls(&s.sandbox, "connapi").await, 2);
}

#[tokio::test]
async fn a_failing_service_is_left_alone_then_probed_and_recovers() {
    let port = closed_port();
    let mut s = suite_with(Tweaks {
        aggregator: Some(Box::new(move |c| {
            c.services.plate = kit::client::ClientConfig {
                breaker: kit::client::breaker::BreakerConfig {
                    enabled: true,
                    failure_threshold: 2,
                    open_for: Duration::from_millis(500),
                },
                ..kit::client::ClientConfig::local(port)
            };
        })),
        ..Tweaks::default()
    })
    .await;
    let mut req = by_plate(PLATE);
    req.include = Some(prost_types::FieldMask {
        paths: vec!["usage".into()],
    });
    // plate-service is down: two failures open the breaker.
    for _ in 0..2 {
        let r = profile(&mut s, req.clone(), T).await.expect("answer");
        let st = status(&r, "plate-service", "");
        assert_eq!(st.code, tonic::Code::Unavailable as i32, "{st:?}");
        assert_ne!(st.reason, "CIRCUIT_OPEN");
    }
    // Open: not called at all, with when to try again.
    let r = profile(&mut s, req.clone(), T).await.expect("answer");
    let st = status(&r, "plate-service", "");
    assert_eq!(st.reason, "CIRCUIT_OPEN", "{st:?}");
    assert!(st.retry_after.is_some());
    assert!(!r.complete);

    // plate-service comes up on its port; after open_for, one probe goes through and
    // closes the breaker.
    let mut cfg = plate_config(&s.sandbox);
    cfg.server.listen = format!("127.0.0.1:{port}").parse().expect("addr");
    let server = plate_service::start(cfg, kit::metrics::Metrics::new(), s.shutdown.clone())
        .await
        .expect("plate-service starts");
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..2 {
        let r = profile(&mut s, req.clone(), T).await.expect("answer");
        assert_eq!(
            status(&r, "plate-service", "").state,
            SourceState::Ok as i32
        );
        assert!(r.profile.is_some_and(|p| p.usage.is_some()));
    }
    drop(server);
}

#[tokio::test]
async fn a_hedged_vin_service_cuts_a_vendor_tail() {
    let hedged = |c: &mut vin_service::config::VinServiceConfig| {
        // As a configuration file says it (the aggregator does not depend on `sources`).
        c.vendors.strategy = serde_json::from_value(json!("hedged")).expect("a strategy");
        c.vendors.hedge_delay_min = Duration::from_millis(20);
        c.vendors.hedge_delay_max = Duration::from_millis(100);
    };
    let mut s = suite_with(Tweaks {
        vin: Some(Box::new(hedged)),
        ..Tweaks::default()
    })
    .await;
    // Only the first connapi call is stuck: the hedge, 100 ms later (no latency history
    // yet: the maximum), meets the fast path.
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "times": 1, "latency": { "kind": "fixed", "ms": 3000 } }]),
    )
    .await;
    let started = std::time::Instant::now();
    let r = profile(&mut s, by_vin(VIN), Duration::from_secs(2))
        .await
        .expect("answer");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        status(&r, "connapi", "vin-service").state,
        SourceState::Ok as i32,
        "{:#?}",
        r.sources
    );
    assert!(r.complete, "{:#?}", r.sources);
}
