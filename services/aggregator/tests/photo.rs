//! GetVehicleProfile from a 行驶证 photo through the whole suite: ocr-service reads it
//! (with a test double of the local engine returning fixed readings, so that these
//! tests need no models; the real engine reads a rendered photo in tests/tests/suite.rs),
//! then its plate and VIN go through plate- and vin-service to the sandbox.

mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{
    GetVehicleProfileRequest, Hints, LicenseImage, license_image,
};
use contracts::axle::common::v1::SourceState;
use ocr_engine::{EngineError, Field, FieldName, Read, Side};
use ocr_service::config::{OcrServiceConfig, Strategy};
use ocr_service::local::Reader;
use tonic::Code;
use tonic_types::StatusExt as _;

const OK: i32 = SourceState::Ok as i32;

/// A local engine that "reads" fixed fields.
#[derive(Debug)]
struct FixedReader(Vec<(FieldName, &'static str)>);

impl Reader for FixedReader {
    fn read(&self, image: &image::DynamicImage, side: Option<Side>) -> Result<Read, EngineError> {
        #[allow(clippy::cast_precision_loss)]
        let w = image.width() as f32;
        Ok(Read {
            side: side.unwrap_or(Side::Front),
            fields: self
                .0
                .iter()
                .enumerate()
                .map(|(i, (name, text))| {
                    #[allow(clippy::cast_precision_loss)]
                    let y = 10.0 * i as f32;
                    Field {
                        name: *name,
                        text: (*text).to_owned(),
                        confidence: 0.95,
                        quad: [[0.0, y], [w, y], [w, y + 8.0], [0.0, y + 8.0]],
                    }
                })
                .collect(),
            lines: Vec::new(),
        })
    }
}

/// An engine that cannot read anything (a photo of something else, blurred to nothing).
#[derive(Debug)]
struct Blind;

impl Reader for Blind {
    fn read(&self, _: &image::DynamicImage, _: Option<Side>) -> Result<Read, EngineError> {
        Err(EngineError::Inference("no text found".to_owned()))
    }
}

/// The suite with ocr-service (local only, `engine`) wired to the aggregator.
async fn suite_reading(engine: Arc<dyn Reader>) -> Suite {
    let mut cfg = OcrServiceConfig {
        strategy: Strategy::LocalOnly,
        ..OcrServiceConfig::default()
    };
    cfg.server.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.server.metrics_listen = None;
    cfg.vendors.apihz.enabled = false;
    cfg.privacy.internal_token = settings::Secret::new(TOKEN.to_owned());
    let ocr = ocr_service::start_with_engine(
        cfg,
        kit::metrics::Metrics::new(),
        kit::server::Shutdown::new(),
        Some(engine),
    )
    .await
    .expect("ocr-service starts");
    let port = ocr.grpc_addr.port();
    std::mem::forget(ocr);
    suite_with(Tweaks {
        aggregator: Some(Box::new(move |c| {
            c.services.ocr = kit::client::ClientConfig::local(port);
        })),
        ..Tweaks::default()
    })
    .await
}

/// A real PNG (the double does not look at it; ocr-service decodes it first).
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 200, |x, y| {
        #[allow(clippy::cast_possible_truncation)]
        let v = ((x * 7 + y * 13) % 256) as u8;
        image::Rgb([v, v, 255 - v])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

fn by_photo(image: Vec<u8>) -> GetVehicleProfileRequest {
    GetVehicleProfileRequest {
        subject: Some(Subject::LicenseImage(LicenseImage {
            source: Some(license_image::Source::Image(image)),
            side: 0,
        })),
        ..GetVehicleProfileRequest::default()
    }
}

fn front() -> Arc<dyn Reader> {
    Arc::new(FixedReader(vec![
        (FieldName::Plate, PLATE),
        (FieldName::Vin, VIN),
        (FieldName::Owner, "沙箱用户"),
        (FieldName::UseCharacter, "非营运"),
        (FieldName::VehicleType, "小型轿车"),
        (FieldName::Model, "保时捷牌WP0AA2978"),
        (FieldName::EngineNumber, "8B12345"),
        (FieldName::RegisterDate, "2019-05-20"),
    ]))
}

#[tokio::test]
async fn a_photo_is_read_then_its_plate_and_vin_go_through_the_plan() {
    let mut s = suite_reading(front()).await;
    let mut req = by_photo(png());
    req.attach_responses = true;
    let r = profile(&mut s, req, Duration::from_secs(10))
        .await
        .expect("answer");
    // The OCR step first in the table, its reader below it; then what it made possible.
    assert_eq!(r.sources[0].source, "ocr-service", "{:#?}", r.sources);
    assert_eq!(r.sources[0].state, OK, "{:#?}", r.sources);
    assert_eq!(status(&r, "ocr-engine", "ocr-service").state, OK);
    assert_eq!(status(&r, "plate-service", "").state, OK);
    assert_eq!(status(&r, "vin-service", "").state, OK);
    assert_eq!(status(&r, "connapi", "vin-service").state, OK);
    let p = r.profile.expect("profile");
    let vin = p.vin.expect("vin");
    // The photo's VIN, masked for this caller, and decoded by the VIN vendor (it was
    // revealed to the aggregator through the internal token).
    assert_eq!(vin.value, "WP0**********2976");
    assert_eq!(
        vin.provenance.as_ref().map(|p| p.source.as_str()),
        Some("ocr-engine")
    );
    assert_eq!(p.vin_valid, Some(true));
    assert!(p.series.is_some(), "only DecodeVin states the series");
    assert!(
        r.attached.as_ref().is_some_and(|a| a.decode_vin.is_none()),
        "the decode names the whole VIN: attached only when the caller gave it"
    );
    assert_eq!(
        p.brand
            .and_then(|b| b.provenance)
            .map(|p| p.source)
            .as_deref(),
        Some("connapi"),
        "the catalogue names the brand before the licence's 品牌型号"
    );
    assert_eq!(p.plate.expect("plate").value, PLATE);
    assert!(
        p.issuing_authority.is_some(),
        "ParsePlate on the photo's plate"
    );
    let usage = p.usage.expect("usage");
    assert_eq!(
        usage.provenance.map(|p| p.source).as_deref(),
        Some("ocr-engine"),
        "the licence outranks the plate vendors on 使用性质"
    );
    assert_eq!(p.owner_name.expect("owner").value, "沙***", "masked");
    assert_eq!(p.engine_number.expect("engine").value, "***2345");
    // The attached reading is masked like the profile.
    let license = r
        .attached
        .and_then(|a| a.license)
        .expect("attached reading");
    let f = license.front.expect("front");
    assert_eq!(f.vin.expect("vin").value, "WP0**********2976");
    assert_eq!(f.engine_number.expect("engine").value, "***2345");
}

#[tokio::test]
async fn an_unreadable_photo_is_a_partial_answer_with_the_ocr_step_failed() {
    let mut s = suite_reading(Arc::new(Blind)).await;
    let mut req = by_photo(png());
    // What the caller knows still counts.
    req.hints = Some(Hints {
        plate: PLATE.to_owned(),
        ..Hints::default()
    });
    let r = profile(&mut s, req, Duration::from_secs(10))
        .await
        .expect("a partial answer, not an error");
    assert!(!r.complete);
    let ocr = status(&r, "ocr-service", "");
    assert_eq!(ocr.state, SourceState::Failed as i32, "{ocr:?}");
    assert!(ocr.message.contains("RecognizeVehicleLicense"), "{ocr:?}");
    assert_eq!(status(&r, "plate-service", "").state, OK);
    let p = r.profile.expect("profile");
    assert_eq!(p.plate.expect("plate from the hint").value, PLATE);
}

#[tokio::test]
async fn an_invalid_image_is_invalid_argument_naming_the_field() {
    let mut s = suite_reading(front()).await;
    let before = calls(&s.sandbox, "xiaoshibao").await;
    let err = profile(
        &mut s,
        by_photo(b"GIF89a not a licence".to_vec()),
        Duration::from_secs(5),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let details = err.get_error_details();
    let bad = details.bad_request().expect("BadRequest");
    assert_eq!(bad.field_violations[0].field, "license_image.image");
    assert!(
        bad.field_violations[0].description.contains("ocr-service"),
        "{bad:?}"
    );
    assert_eq!(
        calls(&s.sandbox, "xiaoshibao").await,
        before,
        "nothing paid"
    );
}

#[tokio::test]
async fn a_streamed_photo_shows_the_reading_pending_then_what_it_made_possible() {
    use contracts::axle::aggregator::v1::StreamVehicleProfileRequest;
    let mut s = suite_reading(front()).await;
    let mut req = tonic::Request::new(StreamVehicleProfileRequest {
        request: Some(by_photo(png())),
    });
    req.set_timeout(Duration::from_secs(10));
    let mut st = Box::pin(s.client.stream_vehicle_profile(req))
        .await
        .expect("stream")
        .into_inner();
    let mut messages = Vec::new();
    while let Some(m) = Box::pin(st.message()).await.expect("message") {
        messages.push(m);
    }
    let first = messages[0].snapshot.as_ref().expect("snapshot");
    let rows: Vec<(&str, i32)> = first
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.state))
        .collect();
    assert_eq!(rows, [("ocr-service", SourceState::Pending as i32)]);
    // The reading's own message lists the steps planned from it as pending.
    let read = messages
        .iter()
        .find(|m| m.trigger == "ocr-service")
        .and_then(|m| m.snapshot.as_ref())
        .expect("a message when the photo is read");
    assert!(
        read.sources
            .iter()
            .any(|s| s.source == "plate-service" && s.state == SourceState::Pending as i32),
        "{:?}",
        read.sources
    );
    let last = messages.last().expect("last");
    assert!(last.r#final);
    let snap = last.snapshot.as_ref().expect("snapshot");
    assert_eq!(status(snap, "vin-service", "").state, OK);
}
