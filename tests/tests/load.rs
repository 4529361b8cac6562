//! The load generator (`axle bench load`) against the suite as `axle up` starts it, on
//! ephemeral ports: short, bounded runs that check what it counts, not how fast it is.

mod common;

use std::time::Duration;

use cli::load::{LoadOptions, Mode, Rpc};
use kit::server::Shutdown;

async fn up() -> (cli::up::Suite, Shutdown) {
    let mut cfg = cli::up::load(None).expect("embedded default loads");
    common::ephemeral(&mut cfg, "load");
    cfg.ocr.local.enabled = false;
    cfg.metrics_listen = None;
    let shutdown = Shutdown::new();
    let suite = Box::pin(cli::up::start(cfg, shutdown.clone()))
        .await
        .expect("suite starts");
    (suite, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_closed_loops_count_every_request_and_sample_the_server() {
    let (suite, shutdown) = up().await;
    let open = cli::load::run(&LoadOptions {
        rpc: Rpc::ValidateVin,
        endpoint: format!("http://{}", suite.vin_addr),
        mode: Mode::Open {
            rate: 200.0,
            max_in_flight: 1000,
        },
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        distinct: 100,
        // The suite runs in this process: sample it.
        server_pid: Some(std::process::id()),
        photos: cli::load::Photos::default(),
    })
    .await
    .expect("open loop runs");
    // Exactly the requests due in the second, each answered or counted.
    assert_eq!(open.sent, 200, "{open:?}");
    assert_eq!(
        open.ok, 200,
        "every generated VIN is valid: {:?}",
        open.errors
    );
    assert!(open.errors.is_empty());
    let l = &open.latency_us;
    assert!(l.p50 > 0 && l.p50 <= l.p99 && l.p99 <= l.max, "{l:?}");
    let server = open.server.expect("sampled");
    assert!(server.rss_kib_first > 0 && server.rss_kib_max >= server.rss_kib_first);
    assert!(server.fds_first > 0 && server.threads_first > 0);

    let closed = cli::load::run(&LoadOptions {
        rpc: Rpc::ParsePlate,
        endpoint: format!("http://{}", suite.plate_addr),
        mode: Mode::Closed { concurrency: 4 },
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        distinct: 500,
        server_pid: None,
        photos: cli::load::Photos::default(),
    })
    .await
    .expect("closed loop runs");
    assert!(closed.sent > 0);
    assert_eq!(closed.ok, closed.sent, "{:?}", closed.errors);
    assert!(closed.server.is_none());

    // An open loop against a server that never answers in time: every request counted
    // with the status it got, none lost.
    let late = cli::load::run(&LoadOptions {
        rpc: Rpc::ProfileVin,
        endpoint: format!("http://{}", suite.aggregator_addr),
        mode: Mode::Open {
            rate: 50.0,
            max_in_flight: 5,
        },
        duration: Duration::from_millis(400),
        timeout: Duration::from_millis(1),
        distinct: 10,
        server_pid: None,
        photos: cli::load::Photos::default(),
    })
    .await
    .expect("runs");
    let counted = late.ok + late.errors.values().sum::<u64>();
    assert_eq!(counted, late.sent, "{late:?}");
    assert_eq!(late.sent, 20);
    assert!(
        late.errors
            .keys()
            .all(|k| k == "DEADLINE_EXCEEDED" || k == "CANCELLED" || k == "NOT_SENT"),
        "{:?}",
        late.errors
    );

    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = cli::load::run(&LoadOptions {
        rpc: Rpc::ValidateVin,
        endpoint: format!("http://127.0.0.1:{port}"),
        mode: Mode::Closed { concurrency: 1 },
        duration: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        distinct: 1,
        server_pid: None,
        photos: cli::load::Photos::default(),
    })
    .await
    .expect_err("nothing listens");
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_photo_sends_the_photos_of_a_directory_in_turn() {
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/ocr-engine/tests/data");
    let photos = cli::load::Photos::from_dir(&data).expect("the engine's test photos");
    assert_eq!(
        photos.len(),
        2,
        "front.jpg and back.jpg, not truth.jsonl: {photos:?}"
    );
    let empty = std::env::temp_dir().join(format!("axle-load-no-photos-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = cli::load::Photos::from_dir(&empty).expect_err("no photo there");
    let _ = std::fs::remove_dir(&empty);
    assert!(format!("{err:#}").contains("no .jpg"), "{err:#}");

    let (suite, shutdown) = up().await;
    let options = |photos| LoadOptions {
        rpc: Rpc::ProfilePhoto,
        endpoint: format!("http://{}", suite.aggregator_addr),
        mode: Mode::Closed { concurrency: 2 },
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(5),
        distinct: 1,
        server_pid: None,
        photos,
    };
    let err = cli::load::run(&options(cli::load::Photos::default()))
        .await
        .expect_err("photos are required");
    assert!(format!("{err:#}").contains("--photos"), "{err:#}");
    let report = cli::load::run(&options(photos)).await.expect("runs");
    // The engine is off here and the sandbox's apihz knows neither photo: each answer is
    // a partial profile (ocr-service FAILED), still an answer.
    assert!(report.sent > 0, "{report:?}");
    assert_eq!(report.ok, report.sent, "{:?}", report.errors);
    shutdown.trigger();
    Box::pin(suite.wait()).await.expect("stops cleanly");
}
