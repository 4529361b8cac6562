//! The strategies with a local engine (a test double returning fixed readings: the real
//! engine is its own crate): a good local read is not sent to the vendor; a missing or
//! unsure required field is; a VIN with a look-alike misread is corrected locally.

#![allow(clippy::many_single_char_names, clippy::unnecessary_wraps)]

mod common;

use std::sync::Arc;

use common::{FixedReader, bytes_request, png, suite};
use contracts::axle::common::v1::SourceState;
use contracts::axle::ocr::v1::{CrossCheckResult, LicenseSide};
use ocr_engine::{FieldName, Side};
use ocr_service::config::Strategy;
use reqwest::Method;

fn reader(
    fields: Vec<(FieldName, &'static str, f32)>,
) -> Option<Arc<dyn ocr_service::local::Reader>> {
    Some(Arc::new(FixedReader {
        side: Side::Front,
        fields,
    }))
}

#[tokio::test]
async fn a_good_local_read_stays_local_with_its_boxes_and_corrections() {
    let mut s = suite(
        |_| {},
        |c| c.privacy.reveal_full_vin = true,
        reader(vec![
            (FieldName::Plate, "沪A12345", 0.97),
            // 8 read as B at position 8: one correction passes.
            (FieldName::Vin, "LSVAM41B2N2123456", 0.93),
            (FieldName::Owner, "沙箱用户", 0.9),
        ]),
    )
    .await;
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(png(200, 120), LicenseSide::Unspecified))
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(resp.side, LicenseSide::Front as i32);
    let f = resp.front.expect("front");
    let vin = f.vin.expect("vin");
    assert_eq!(vin.value, "LSVAM4182N2123456");
    let r = vin.reading.expect("reading");
    assert_eq!(
        r.text, "LSVAM41B2N2123456",
        "the text as read stays visible"
    );
    let c = r.cross_check.expect("check");
    assert_eq!(c.result, CrossCheckResult::CheckedCorrected as i32);
    assert!(
        c.message.contains("position 8: B read, 8 corrected"),
        "{}",
        c.message
    );
    let p = r.provenance.expect("provenance");
    assert!(p.local && p.source == "ocr-engine");
    assert_eq!(r.quad.expect("box").corners.len(), 4);
    let states: Vec<i32> = resp.sources.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [SourceState::Ok as i32, SourceState::Skipped as i32]
    );
    let calls = s.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 0, "the vendor was not paid");
}

#[tokio::test]
async fn a_missing_or_unsure_required_field_asks_the_vendor_and_merges() {
    let mut s = suite(
        |_| {},
        |_| {},
        reader(vec![
            (FieldName::Plate, "沪A12345", 0.97),
            (FieldName::Vin, "LSVAM4182N2123456", 0.4),
        ]),
    )
    .await;
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(png(200, 120), LicenseSide::Front))
        .await
        .expect("answers")
        .into_inner();
    let f = resp.front.expect("front");
    // The plate is the engine's (sure and valid); the unsure VIN is the vendor's.
    let plate = f.plate.expect("plate");
    assert_eq!(plate.value, "沪A12345");
    assert!(
        plate
            .reading
            .and_then(|r| r.provenance)
            .is_some_and(|p| p.local)
    );
    let vin_source = f
        .vin
        .and_then(|v| v.reading)
        .and_then(|r| r.provenance)
        .map(|p| p.source);
    assert_eq!(vin_source.as_deref(), Some("apihz"));
    // Fields only the vendor read are there too.
    assert!(f.seal.is_some());
    let states: Vec<(String, i32)> = resp
        .sources
        .iter()
        .map(|s| (s.source.clone(), s.state))
        .collect();
    assert_eq!(states[1], ("apihz".to_owned(), SourceState::Ok as i32));
}

#[tokio::test]
async fn local_only_never_calls_the_vendor() {
    let mut s = suite(
        |_| {},
        |c| c.strategy = Strategy::LocalOnly,
        reader(vec![(FieldName::Plate, "沪A12345", 0.5)]),
    )
    .await;
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(png(100, 60), LicenseSide::Front))
        .await
        .expect("answers")
        .into_inner();
    assert!(resp.front.is_some_and(|f| f.vin.is_none()));
    let calls = s.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 0);
}

#[tokio::test]
async fn the_internal_token_reveals_the_vin_and_engine_number_but_not_the_owner() {
    let mut s = suite(
        |_| {},
        |c| c.privacy.internal_token = settings::Secret::new("inside".to_owned()),
        reader(vec![
            (FieldName::Plate, "沪A12345", 0.97),
            (FieldName::Vin, "LSVAM4182N2123456", 0.93),
            (FieldName::EngineNumber, "8B12345", 0.9),
            (FieldName::Owner, "沙箱用户", 0.9),
        ]),
    )
    .await;
    let ask = |token: Option<&str>| {
        let mut r = tonic::Request::new(bytes_request(png(200, 120), LicenseSide::Front));
        if let Some(t) = token {
            r.metadata_mut().insert(
                kit::client::INTERNAL_TOKEN_METADATA,
                t.parse().expect("ascii"),
            );
        }
        r
    };
    let front = |resp: contracts::axle::ocr::v1::RecognizeVehicleLicenseResponse| {
        let f = resp.front.expect("front");
        (
            f.vin.expect("vin").value,
            f.engine_number.expect("engine").value,
            f.owner.expect("owner").value,
        )
    };
    let inside = s
        .client
        .recognize_vehicle_license(ask(Some("inside")))
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        front(inside),
        (
            "LSVAM4182N2123456".to_owned(),
            "8B12345".to_owned(),
            "沙***".to_owned()
        )
    );
    for token in [None, Some("guess")] {
        let outside = s
            .client
            .recognize_vehicle_license(ask(token))
            .await
            .expect("answers")
            .into_inner();
        let (vin, engine, _) = front(outside);
        assert_eq!(vin, "LSV**********3456", "{token:?}");
        assert_eq!(engine, "***2345", "{token:?}");
    }
}
