//! RecognizeVehicleLicense through the generated client against the sandbox's apihz:
//! the seed's answers typed and checked, failover across addresses, the per-address
//! concurrency cap, and every vendor failure as a status.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{bytes_request, details, png, suite};
use contracts::axle::common::v1::SourceState;
use contracts::axle::ocr::v1::{CrossCheckResult, LicensePhoto, LicenseSide, license_photo};
use ocr_service::config::Strategy;
use reqwest::Method;
use serde_json::json;

fn vendor_only(c: &mut ocr_service::config::OcrServiceConfig) {
    c.strategy = Strategy::VendorOnly;
}

fn check(r: Option<&contracts::axle::ocr::v1::Reading>) -> CrossCheckResult {
    CrossCheckResult::try_from(
        r.and_then(|r| r.cross_check.as_ref())
            .map_or(0, |c| c.result),
    )
    .expect("known")
}

#[tokio::test]
async fn the_seed_front_is_typed_checked_and_masked() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(png(64, 40), LicenseSide::Front))
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(resp.side, LicenseSide::Front as i32);
    assert!(!resp.side_detected);
    let f = resp.front.expect("front");
    let plate = f.plate.expect("plate");
    assert_eq!(plate.value, "粤BB4321");
    assert_eq!(
        check(plate.reading.as_ref()),
        CrossCheckResult::CheckedPassed
    );
    // The seed's sample VIN fails its check digit: flagged, kept, masked.
    let vin = f.vin.expect("vin");
    assert_eq!(vin.value, "123**********EFGH");
    let reading = vin.reading.expect("reading");
    assert_eq!(reading.text, "123**********EFGH");
    let c = reading.cross_check.expect("checked");
    assert_eq!(c.result, CrossCheckResult::CheckedFailed as i32);
    assert_eq!(c.rule, "vin-check-digit");
    assert!(
        !c.message.contains("123456789ABC0EFGH"),
        "a masked VIN must not leak through the message: {}",
        c.message
    );
    let p = reading.provenance.expect("provenance");
    assert_eq!(
        (p.source.as_str(), p.sandbox, p.local),
        ("apihz", true, false)
    );
    assert!(reading.quad.is_none(), "the vendor gives no boxes");
    assert_eq!(f.owner.expect("owner").value, "艾*");
    assert_eq!(f.engine_number.expect("engine").value, "***2345");
    let usage = f.use_character.and_then(|u| u.usage).expect("usage");
    assert_eq!(
        (usage.code.as_str(), usage.original_text.as_str()),
        ("A", "非营运")
    );
    assert_eq!(
        f.vehicle_type
            .and_then(|t| t.vehicle_type)
            .expect("type")
            .code,
        "K33"
    );
    let issue = f.issue_date.expect("issue");
    assert_eq!(issue.date.expect("date").value, "2015-04-11");
    assert_eq!(
        check(issue.reading.as_ref()),
        CrossCheckResult::CheckedPassed
    );
    assert_eq!(
        f.seal.expect("seal").value,
        "广东省深圳市公安局交通警察支队"
    );
    let states: Vec<(String, i32)> = resp
        .sources
        .iter()
        .map(|s| (s.source.clone(), s.state))
        .collect();
    assert_eq!(
        states,
        [
            ("ocr-engine".to_owned(), SourceState::Skipped as i32),
            ("apihz".to_owned(), SourceState::Ok as i32)
        ]
    );
    let apihz = &resp.sources[1];
    assert!(apihz.sandbox);
    assert_eq!(
        apihz.cost.as_ref().map(|c| (c.units, c.nanos)),
        Some((0, 200_000_000))
    );
}

#[tokio::test]
async fn the_seed_back_in_units_and_both_sides_checked_against_each_other() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    let mut req = bytes_request(png(64, 40), LicenseSide::Front);
    req.other_side = Some(LicensePhoto {
        source: Some(license_photo::Source::Image(png(50, 30))),
    });
    let resp = s
        .client
        .recognize_vehicle_license(req)
        .await
        .expect("answers")
        .into_inner();
    let b = resp.back.expect("back");
    assert_eq!(b.approved_passengers.as_ref().map(|c| c.value), Some(5));
    assert_eq!(b.total_mass.as_ref().map(|m| m.kilograms), Some(2085));
    assert_eq!(b.curb_weight.as_ref().map(|m| m.kilograms), Some(1610));
    assert!(b.rated_load.as_ref().is_some_and(|m| m.not_applicable));
    assert!(b.traction_mass.as_ref().is_some_and(|m| m.not_applicable));
    let size = b.external_size.expect("size");
    assert_eq!(
        (size.length_mm, size.width_mm, size.height_mm),
        (4667, 1839, 1694)
    );
    let record = b.inspection_record.expect("record");
    assert_eq!(record.valid_until.expect("expiry").value, "2019-11");
    assert_eq!(b.sub_page_code.expect("code").value, "4460040587965");
    assert_eq!(b.fuel_type.expect("fuel").value, "汽油");
    // The seed's two examples are two different cars: the back's plate says so.
    let plate = b.plate.expect("plate");
    assert_eq!(plate.value, "粤B2177C");
    let c = plate.reading.and_then(|r| r.cross_check).expect("checked");
    assert_eq!(
        (c.result, c.rule.as_str()),
        (CrossCheckResult::CheckedFailed as i32, "front-back-plate")
    );
    assert!(resp.front.is_some());
}

#[tokio::test]
async fn an_unspecified_side_is_detected() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(png(64, 40), LicenseSide::Unspecified))
        .await
        .expect("answers")
        .into_inner();
    assert!(resp.side_detected);
    assert_eq!(resp.side, LicenseSide::Front as i32);
}

#[tokio::test]
async fn failing_addresses_are_failed_over_then_tried_last() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    // The paid endpoint resets connections; the domain answers 502.
    s.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!([
            {"vendor": "apihz", "path_prefix": "/apihz/vip", "action": {"kind": "reset"}},
            {"vendor": "apihz", "path_prefix": "/apihz/domain", "action": {"kind": "http_status", "status": 502}}
        ])),
    )
    .await;
    for _ in 0..3 {
        let resp = s
            .client
            .recognize_vehicle_license(bytes_request(png(32, 32), LicenseSide::Front))
            .await
            .expect("answered by ip1")
            .into_inner();
        assert!(resp.front.is_some());
    }
    let calls = s.admin(Method::GET, "/_sandbox/calls", None).await;
    let apihz = &calls["calls"]["apihz"];
    let n = |a: &str| {
        apihz[format!("/apihz/{a}/api/kazheng/xingshizheng.php")]
            .as_object()
            .map_or(0, |o| {
                o.values()
                    .filter_map(serde_json::Value::as_u64)
                    .sum::<u64>()
            })
    };
    // Two failures in a row eject an address (eject_after = 2): the first two requests
    // try vip and domain, the third goes to ip1 first.
    assert_eq!((n("vip"), n("domain"), n("ip1")), (2, 2, 3), "{apihz}");
}

#[tokio::test]
async fn at_most_twenty_requests_reach_one_address_at_once() {
    let s = suite(
        |sb| sb.apihz.processing_ms = 150,
        |c| {
            vendor_only(c);
            c.vendors.apihz.addresses.truncate(1);
            c.local.max_concurrent = 4;
        },
        None,
    )
    .await;
    let photo = Arc::new(png(16, 16));
    let tasks: Vec<_> = (0..45)
        .map(|_| {
            let mut client = s.client.clone();
            let photo = photo.clone();
            tokio::spawn(async move {
                client
                    .recognize_vehicle_license(bytes_request(photo.to_vec(), LicenseSide::Back))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let resp = t
            .await
            .expect("task")
            .expect("every request answered: queued, not refused");
        assert!(resp.into_inner().back.is_some());
    }
    let peaks = s.admin(Method::GET, "/_sandbox/apihz/peaks", None).await;
    let peak = peaks["vip"].as_u64().expect("vip was called");
    assert!(peak <= 20, "the sandbox saw {peak} at once");
    assert!(
        peak >= 10,
        "requests were not run concurrently at all: {peak}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_the_operators_problem_with_the_vendors_words() {
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.vendors.apihz.key = settings::Secret::new("wrong-key".to_owned());
        },
        None,
    )
    .await;
    let err = s
        .client
        .recognize_vehicle_license(bytes_request(png(16, 16), LicenseSide::Front))
        .await
        .expect_err("no reading");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        err.message().contains("通讯秘钥错误。"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("wrong-key"), "the key never shows");
    let d = details(&err);
    assert_eq!(d.error_info().expect("info").reason, "OCR_VENDOR_ACCOUNT");
    assert!(d.retry_info().is_none(), "retrying will not help");
    // Only one address was asked: a wrong key is wrong everywhere.
    let calls = s.admin(Method::GET, "/_sandbox/calls", None).await;
    assert_eq!(calls["total"], 1, "{calls}");
}

#[tokio::test]
async fn an_exhausted_balance_says_so() {
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.vendors.apihz.id = sandbox::APIHZ_LIMITED_ID.to_owned();
            c.vendors.apihz.key = settings::Secret::new(sandbox::APIHZ_LIMITED_KEY.to_owned());
        },
        None,
    )
    .await;
    for _ in 0..2 {
        s.client
            .recognize_vehicle_license(bytes_request(png(16, 16), LicenseSide::Front))
            .await
            .expect("within the balance");
    }
    let err = s
        .client
        .recognize_vehicle_license(bytes_request(png(16, 16), LicenseSide::Front))
        .await
        .expect_err("balance used up");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(err.message().contains("盟点余额不足"), "{}", err.message());
}

#[tokio::test]
async fn a_photo_over_the_vendors_limit_is_reencoded_before_it_is_sent() {
    let mut s = suite(
        |_| {},
        |c| {
            vendor_only(c);
            c.vendors.apihz.max_base64_bytes = 100_000;
        },
        None,
    )
    .await;
    let photo = png(400, 300);
    assert!(photo.len() * 4 / 3 > 100_000);
    let resp = s
        .client
        .recognize_vehicle_license(bytes_request(photo, LicenseSide::Front))
        .await
        .expect("sent re-encoded, not refused")
        .into_inner();
    assert!(resp.front.is_some());
}

#[tokio::test]
async fn every_address_down_is_unavailable_with_retry_info() {
    let mut s = suite(|_| {}, vendor_only, None).await;
    s.admin(
        Method::POST,
        "/_sandbox/faults",
        Some(json!([{"vendor": "apihz", "action": {"kind": "http_status", "status": 503}}])),
    )
    .await;
    let err = s
        .client
        .recognize_vehicle_license(bytes_request(png(16, 16), LicenseSide::Front))
        .await
        .expect_err("down");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(details(&err).retry_info().is_some());
    let _ = Duration::ZERO;
}
