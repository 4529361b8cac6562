//! Two plate-service replicas sharing platecb's store on PostgreSQL (127.0.0.1:5432,
//! database `test`, trust auth; override with AXLE_TEST_POSTGRES_URL), as `store_url`
//! configures it: one paid query per plate across replicas, the callback received by
//! one replica answering lookups on the other, and a refusal reaching the other
//! replica's lookups promptly. Each run works in a schema of its own (through the URL's
//! `options`), and skips, saying why, when PostgreSQL is down.
//!
//! The store's own PostgreSQL behaviour (first write wins, reconnection, secrets in
//! errors, exclusive claims) is tested in crates/callback/tests/store_postgres.rs.

mod common;

use std::time::{Duration, Instant};

use common::{faults, lookup_on, platecb_calls, status};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use plate_service::config::PlateServiceConfig;
use tonic::transport::Channel;

fn pg_url() -> String {
    std::env::var("AXLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of this run's own, dropped at the end; `None` (said) when PostgreSQL is down.
struct Schema {
    name: String,
    admin: tokio_postgres::Client,
}

impl Schema {
    async fn create() -> Option<Self> {
        let mut config: tokio_postgres::Config = pg_url().parse().expect("test URL parses");
        config.connect_timeout(Duration::from_secs(3));
        let (admin, conn) = match config.connect(tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => {
                println!("skipping: PostgreSQL unreachable at {}: {e}", pg_url());
                return None;
            }
        };
        tokio::spawn(conn);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let name = format!(
            "axle_plate_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create schema");
        Some(Self { name, admin })
    }

    /// The store URL of a replica: the test database, this schema first on the path.
    fn store_url(&self) -> String {
        let sep = if pg_url().contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", pg_url(), self.name)
    }

    async fn drop(self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await;
    }
}

/// A replica on the shared store and sandbox.
async fn replica(schema: &Schema, sandbox: &str) -> PlateServiceClient<Channel> {
    let mut cfg = PlateServiceConfig::default();
    cfg.vendors.xiaoshibao.enabled = false;
    cfg.vendors.platecb.http.base_url = sandbox.to_owned();
    cfg.vendors.platecb.store_url = schema.store_url().into();
    cfg.vendors.platecb.max_wait = Duration::from_secs(10);
    cfg.vendors.platecb.poll_interval = Duration::from_millis(200);
    common::start(cfg).await.0
}

/// `n` lookups of `plate` on each replica at once: what each saw and how long it took.
async fn on_both(
    replicas: &[PlateServiceClient<Channel>],
    plate: &str,
    n: usize,
) -> Vec<(SourceStatus, Duration)> {
    let mut set = tokio::task::JoinSet::new();
    for client in replicas {
        for _ in 0..n {
            let mut client = client.clone();
            let plate = plate.to_owned();
            set.spawn(async move {
                let started = Instant::now();
                let r = lookup_on(&mut client, &plate).await.expect("answer");
                (status(&r, "platecb").clone(), started.elapsed())
            });
        }
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.expect("lookup task"));
    }
    out
}

#[tokio::test]
async fn replicas_share_one_paid_query_and_its_outcome() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let sb = sandbox::start(
        sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            platecb: sandbox::config::PlatecbConfig {
                // Every lookup is in flight before the callback comes.
                first_delivery_ms: 800,
                ..sandbox::config::PlatecbConfig::default()
            },
            ..sandbox::SandboxConfig::default()
        },
        std::future::pending(),
    )
    .await
    .expect("sandbox");
    let sandbox = format!("http://{}", sb.addr);
    let replicas = [
        replica(&schema, &sandbox).await,
        replica(&schema, &sandbox).await,
    ];

    // The callback reaches the replica that submitted; the other one's lookups find it
    // in the shared store.
    for (st, took) in on_both(&replicas, "闽DD22222", 3).await {
        assert_eq!(st.state, SourceState::Ok as i32, "{st:?}");
        assert!(took < Duration::from_secs(8), "{took:?}");
    }
    assert_eq!(
        platecb_calls(&sandbox, "10023").await,
        1,
        "one submission for six lookups on two replicas"
    );

    // A refusal that takes platecb 2.5 s reaches every lookup on both replicas promptly.
    faults(
        &sandbox,
        serde_json::json!([{ "vendor": "platecb", "latency": { "kind": "fixed", "ms": 2500 } }]),
    )
    .await;
    for (st, took) in on_both(&replicas, "粤B99999", 3).await {
        assert_eq!(st.state, SourceState::NotFound as i32, "{st:?}");
        assert_eq!(st.vendor_code, "10025", "{st:?}");
        assert!(
            took < Duration::from_secs(8),
            "waited {took:?} (max_wait is 10 s): {st:?}"
        );
    }
    assert_eq!(platecb_calls(&sandbox, "10025").await, 1, "asked once");
    // The answer is in this run's schema, where `store_url` put it.
    let row = schema
        .admin
        .query_one(
            &format!(
                "SELECT count(*) FROM {}.callback_results WHERE vendor = 'platecb' \
                 AND query_key = '闽DD22222'",
                schema.name
            ),
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 1);
    schema.drop().await;
}
