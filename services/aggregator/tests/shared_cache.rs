//! The Redis cache shared by aggregator replicas, against a real Redis
//! (redis://127.0.0.1:6379, installed and started by scripts/setup.sh; override with
//! AXLE_TEST_REDIS_URL). Each test uses a key prefix of its own. Without a reachable
//! Redis the tests that need one say so and skip.

mod common;

use std::time::Duration;

use common::*;
use contracts::axle::common::v1::SourceState;

const T: Duration = Duration::from_secs(5);

fn redis_url() -> String {
    std::env::var("AXLE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// A key prefix no other test (or run) uses, or `None` when Redis is not reachable.
async fn prefix(test: &str) -> Option<String> {
    let client = redis::Client::open(redis_url()).expect("test URL parses");
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await;
    if !matches!(reachable, Ok(Ok(_))) {
        println!("skipping {test}: Redis unreachable at {}", redis_url());
        return None;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    Some(format!("axle-test:{test}:{}:{nanos}:", std::process::id()))
}

/// A suite whose aggregator shares Redis under `prefix`.
async fn replica(prefix: &str, url: String) -> Suite {
    let prefix = prefix.to_owned();
    suite_with(Tweaks {
        aggregator: Some(Box::new(move |c| {
            c.cache.redis.url = settings::Secret::new(url);
            c.cache.redis.key_prefix = prefix;
        })),
        ..Tweaks::default()
    })
    .await
}

async fn keys(prefix: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).expect("test URL parses");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS")
}

/// Forgets this test's keys (they would otherwise live out their TTL).
async fn forget(prefix: &str) {
    let client = redis::Client::open(redis_url()).expect("test URL parses");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    for key in keys(prefix).await {
        let _: () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }
}

/// Until the background write of `n` keys under `prefix` has landed (bounded).
async fn written(prefix: &str, n: usize) -> Vec<String> {
    for _ in 0..50 {
        let k = keys(prefix).await;
        if k.len() >= n {
            return k;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    keys(prefix).await
}

#[tokio::test]
async fn a_vehicle_one_replica_paid_for_is_free_on_another() {
    let Some(prefix) = prefix("paid_once").await else {
        return;
    };
    let mut a = replica(&prefix, redis_url()).await;
    let first = profile(&mut a, by_vin(VIN), T).await.expect("answer");
    assert_eq!(first.paid_calls.len(), 1);
    assert_eq!(calls(&a.sandbox, "connapi").await, 1);
    let stored = written(&prefix, 2).await;
    // ValidateVin and DecodeVin, keyed by digest: no VIN in Redis's key space.
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().all(|k| !k.contains(VIN)), "{stored:?}");

    // Another replica: its own process cache is empty, its vendors untouched.
    let mut b = replica(&prefix, redis_url()).await;
    let again = profile(&mut b, by_vin(VIN), T).await.expect("answer");
    assert_eq!(calls(&b.sandbox, "connapi").await, 0, "answered from Redis");
    assert!(again.complete, "{:#?}", again.sources);
    assert!(again.paid_calls.is_empty() && again.cost.is_none());
    let vin = status(&again, "vin-service", "");
    assert!(vin.from_cache && vin.cache_age.is_some(), "{vin:?}");
    assert!(status(&again, "connapi", "vin-service").from_cache);
    let (p, q) = (first.profile.expect("first"), again.profile.expect("again"));
    assert_eq!(p.brand, q.brand);
    assert_eq!(p.msrp, q.msrp);
    forget(&prefix).await;
}

#[tokio::test]
async fn a_failed_answer_is_not_shared() {
    let Some(prefix) = prefix("failed").await else {
        return;
    };
    let mut a = replica(&prefix, redis_url()).await;
    faults(
        &a.sandbox,
        serde_json::json!([{ "vendor": "connapi", "action": { "kind": "http_status", "status": 503 } }]),
    )
    .await;
    let r = profile(&mut a, by_vin(VIN), T)
        .await
        .expect("partial answer");
    assert!(!r.complete);
    // Only the local ValidateVin is whole.
    let stored = written(&prefix, 1).await;
    assert!(
        stored.iter().all(|k| k.contains(":ValidateVin:")),
        "{stored:?}"
    );
    let mut b = replica(&prefix, redis_url()).await;
    let r = profile(&mut b, by_vin(VIN), T).await.expect("answer");
    assert_eq!(calls(&b.sandbox, "connapi").await, 1, "asked again");
    assert_eq!(
        status(&r, "connapi", "vin-service").state,
        SourceState::Ok as i32
    );
    forget(&prefix).await;
}

#[tokio::test]
async fn an_unreachable_redis_costs_an_answer_nothing() {
    // Nothing listens there: every operation fails at once, then Redis is paused.
    let url = format!("redis://127.0.0.1:{}/0", closed_port());
    let mut s = replica("axle-test:down:", url).await;
    let r = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert!(r.complete, "{:#?}", r.sources);
    assert_eq!(r.paid_calls.len(), 1);
    // The process cache still works on its own.
    let again = profile(&mut s, by_vin(VIN), T).await.expect("answer");
    assert!(status(&again, "vin-service", "").from_cache);
    assert_eq!(calls(&s.sandbox, "connapi").await, 1);
}

#[tokio::test]
async fn a_bad_url_is_refused_at_start_without_echoing_it() {
    let mut cfg = aggregator::config::AggregatorConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.cache.redis.url = settings::Secret::new("http://user:hunter2@cache:6379".to_owned());
    let err = aggregator::start(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
    )
    .await
    .expect_err("not a Redis URL");
    let text = err.to_string();
    assert!(text.contains("cache.redis.url"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
