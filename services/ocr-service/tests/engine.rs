//! The real local engine behind the service: a synthetic 行驶证 photo (the engine's own
//! test photo, rendered by scripts/ocr_synth/render.py) read in-process through the
//! generated client, no vendor asked. The models come from scripts/ocr-models.sh (run
//! by scripts/setup.sh).

mod common;

use common::bytes_request;
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::ocr::v1::{CrossCheckResult, LicenseSide};
use ocr_service::config::{OcrServiceConfig, Strategy};
use tonic::transport::Channel;

fn truth(side: &str) -> serde_json::Value {
    let text = include_str!("../../../crates/ocr-engine/tests/data/truth.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["side"] == side)
        .expect("truth")
}

#[tokio::test]
async fn a_front_photo_is_read_locally_with_its_vin_and_plate() {
    let mut cfg = OcrServiceConfig {
        strategy: Strategy::LocalOnly,
        ..OcrServiceConfig::default()
    };
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.apihz.enabled = false;
    cfg.privacy.reveal_full_vin = true;
    let server = ocr_service::start(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
    )
    .await
    .unwrap_or_else(|e| {
        panic!("{e} (the test command runs scripts/setup.sh, which fetches the models)")
    });
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    let mut client = OcrServiceClient::new(channel);
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/ocr-engine/tests/data/front.jpg"
    ))
    .expect("photo");
    let resp = client
        .recognize_vehicle_license(bytes_request(photo, LicenseSide::Unspecified))
        .await
        .expect("read")
        .into_inner();
    assert!(resp.side_detected);
    assert_eq!(resp.side, LicenseSide::Front as i32);
    let want = truth("front");
    let f = resp.front.expect("front");
    let vin = f.vin.expect("vin");
    assert_eq!(
        vin.value,
        want["fields"]["vin"].as_str().expect("truth vin")
    );
    let r = vin.reading.expect("reading");
    let c = r.cross_check.expect("checked");
    assert!(
        c.result == CrossCheckResult::CheckedPassed as i32
            || c.result == CrossCheckResult::CheckedCorrected as i32,
        "{c:?}"
    );
    assert!(
        r.provenance
            .is_some_and(|p| p.local && p.source == "ocr-engine")
    );
    assert_eq!(r.quad.expect("box").corners.len(), 4);
    let plate = f.plate.expect("plate");
    assert_eq!(
        plate.value,
        want["fields"]["plate"].as_str().expect("truth plate")
    );
    assert_eq!(
        resp.sources
            .iter()
            .map(|s| s.source.as_str())
            .collect::<Vec<_>>(),
        ["ocr-engine"],
        "local only: the vendor is not even listed"
    );
    drop(server);
}

#[tokio::test]
async fn missing_models_stop_the_start_with_what_to_run() {
    let mut cfg = OcrServiceConfig::default();
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.local.models_dir = std::env::temp_dir().join("axle-no-models-here");
    let err = ocr_service::start(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
    )
    .await
    .expect_err("no models");
    assert!(err.to_string().contains("ocr-models.sh"), "{err}");
}
