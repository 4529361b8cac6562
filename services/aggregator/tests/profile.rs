//! GetVehicleProfile through the whole suite on the sandbox: healthy sources, a source
//! down, slow or malformed, the deadline, the spend cap and bad input.

mod common;

use std::time::{Duration, Instant};

use common::*;
use contracts::axle::common::v1::{Money, SourceState};
use serde_json::json;
use tonic::Code;

const OK: i32 = SourceState::Ok as i32;

#[tokio::test]
async fn a_plate_gives_a_merged_profile_with_provenance_and_every_source() {
    let mut s = suite().await;
    let r = profile(&mut s, by_plate(PLATE), Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(r.complete, "{:#?}", r.sources);
    for (source, via) in [
        ("plate-service", ""),
        ("vin-service", ""),
        ("xiaoshibao", "plate-service"),
        ("platecb", "plate-service"),
        ("connapi", "vin-service"),
    ] {
        assert_eq!(status(&r, source, via).state, OK, "{source}");
    }
    let p = r.profile.expect("profile");
    // The plate vendors found the VIN, the VIN vendor decoded it; the VIN is masked.
    let vin = p.vin.expect("vin");
    assert!(
        vin.value.contains('*') && vin.value.len() == 17,
        "{}",
        vin.value
    );
    assert_eq!(p.vin_valid, Some(true));
    let brand = p.brand.expect("brand");
    assert_eq!(
        brand.provenance.expect("prov").source,
        "connapi",
        "VIN vendor first"
    );
    assert!(p.series.is_some(), "only DecodeVin says the series");
    assert!(
        p.usage.is_some_and(|u| !u.code.is_empty()),
        "only the lookup says 使用性质"
    );
    assert!(p.first_registration_date.is_some());
    assert_eq!(p.plate.expect("plate").value, PLATE);
    assert_eq!(p.issuing_authority.expect("authority").city, "深圳市");
    assert!(p.model_year.is_some() && p.manufacturer.is_some());
    assert!(p.violations.is_none(), "not included");
    // What was paid: connapi's decode.
    assert_eq!(r.paid_calls.len(), 1, "{:?}", r.paid_calls);
    assert_eq!(r.paid_calls[0].source, "connapi");
    assert_eq!(r.paid_calls[0].via, "vin-service");
    assert_eq!(
        r.cost,
        Some(Money {
            currency_code: "CNY".into(),
            units: 0,
            nanos: 500_000_000
        })
    );
    // The seed's vendors disagree; every disagreement names its field and values.
    assert!(!r.disagreements.is_empty());
    for d in &r.disagreements {
        assert!(!d.values.is_empty(), "{d:?}");
        if d.field == "vin" {
            assert!(
                d.chosen_value.contains('*'),
                "masked in disagreements too: {d:?}"
            );
            assert!(d.values.iter().all(|v| v.value.contains('*')), "{d:?}");
        }
    }
}

#[tokio::test]
async fn a_vin_gives_local_and_vendor_facts_without_asking_plate_vendors() {
    let mut s = suite().await;
    let r = profile(&mut s, by_vin(VIN), Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(r.complete, "{:#?}", r.sources);
    assert!(r.sources.iter().all(|s| s.source != "plate-service"));
    assert_eq!(calls(&s.sandbox, "xiaoshibao").await, 0);
    let p = r.profile.expect("profile");
    assert_eq!(p.vin.expect("vin").value, "WP0**********2976");
    assert_eq!(p.country.expect("country").value, "DE");
    assert!(p.brand.is_some() && p.model.is_some() && p.model_year.is_some());
}

#[tokio::test]
async fn local_fields_only_cost_nothing() {
    let mut s = suite().await;
    let mut req = by_vin(VIN);
    req.include = Some(prost_types::FieldMask {
        paths: vec![
            "manufacturer".into(),
            "model_year".into(),
            "vin_valid".into(),
        ],
    });
    let r = profile(&mut s, req, Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(r.complete);
    assert!(r.paid_calls.is_empty() && r.cost.is_none());
    assert_eq!(
        calls(&s.sandbox, "connapi").await,
        0,
        "nobody pays for what was not asked"
    );
    let p = r.profile.expect("profile");
    assert!(p.manufacturer.is_some() && p.model_year.is_some());
    assert_eq!(p.vin_valid, Some(true));
    assert!(
        p.brand.is_none() && p.vin.is_none(),
        "only what was included"
    );
}

#[tokio::test]
async fn a_vendor_down_gives_a_partial_profile_not_an_error() {
    let mut s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "action": { "kind": "http_status", "status": 503 } }]),
    )
    .await;
    let r = profile(&mut s, by_vin(VIN), Duration::from_secs(5))
        .await
        .expect("a partial answer");
    assert!(!r.complete);
    assert_eq!(
        status(&r, "vin-service", "").state,
        OK,
        "the service answered"
    );
    let connapi = status(&r, "connapi", "vin-service");
    assert_eq!(connapi.state, SourceState::Failed as i32, "{connapi:?}");
    assert!(r.paid_calls.is_empty(), "a 503 is not billed");
    let p = r.profile.expect("profile");
    assert!(
        p.manufacturer.is_some() && p.model_year.is_some(),
        "local facts stay"
    );
    assert!(p.brand.is_none(), "only connapi says the brand of this VIN");
}

#[tokio::test]
async fn a_malformed_vendor_answer_is_a_failed_source() {
    let mut s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "action": { "kind": "malformed" } }]),
    )
    .await;
    let r = profile(&mut s, by_vin(VIN), Duration::from_secs(5))
        .await
        .expect("a partial answer");
    assert!(!r.complete);
    assert_eq!(
        status(&r, "connapi", "vin-service").state,
        SourceState::Failed as i32
    );
    assert!(r.profile.expect("profile").model_year.is_some());
}

#[tokio::test]
async fn a_service_down_gives_a_partial_profile_with_its_status() {
    let mut s = suite_with(Tweaks {
        aggregator: Some(Box::new(|c| {
            c.services.plate = kit::client::ClientConfig::local(closed_port());
        })),
        ..Tweaks::default()
    })
    .await;
    let r = profile(&mut s, by_plate(PLATE), Duration::from_secs(5))
        .await
        .expect("a partial answer");
    assert!(!r.complete);
    let plate = status(&r, "plate-service", "");
    assert_eq!(plate.state, SourceState::Failed as i32, "{plate:?}");
    assert_eq!(plate.code, Code::Unavailable as i32, "{plate:?}");
    // No lookup, no VIN: the decode was not called, and says why.
    let vin = status(&r, "vin-service", "");
    assert_eq!(vin.state, SourceState::Skipped as i32, "{vin:?}");
    assert_eq!(vin.reason, "LOOKUP_UNANSWERED");
    assert_eq!(calls(&s.sandbox, "connapi").await, 0);
    // What the request itself says is still there.
    assert_eq!(
        r.profile.expect("profile").plate.expect("plate").value,
        PLATE
    );
}

#[tokio::test]
async fn a_slow_vendor_is_cut_at_the_deadline_and_the_rest_returned() {
    let mut s = suite().await;
    faults(
        &s.sandbox,
        json!([{ "vendor": "connapi", "latency": { "kind": "fixed", "ms": 3000 } }]),
    )
    .await;
    let started = Instant::now();
    let r = profile(&mut s, by_vin(VIN), Duration::from_millis(800))
        .await
        .expect("an answer within the deadline");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(800), "answered in {took:?}");
    assert!(!r.complete);
    // vin-service gave up on connapi itself (its own reserve) and answered with the
    // local decode; or, on a starved machine, the aggregator cut vin-service.
    let vin = status(&r, "vin-service", "");
    if vin.state == OK {
        let connapi = status(&r, "connapi", "vin-service");
        assert_eq!(connapi.state, SourceState::Timeout as i32, "{connapi:?}");
        assert!(r.profile.expect("profile").model_year.is_some());
    } else {
        assert_eq!(vin.state, SourceState::Timeout as i32, "{vin:?}");
    }
}

#[tokio::test]
async fn the_deadline_expiring_mid_fan_out_reports_the_chain_it_cut() {
    let mut s = suite().await;
    // Both plate vendors slow: the lookup uses its share of the deadline and no more, and
    // the decode that needed its VIN is reported, not waited for.
    faults(
        &s.sandbox,
        json!([
            { "vendor": "xiaoshibao", "latency": { "kind": "fixed", "ms": 3000 } },
            { "vendor": "platecb", "latency": { "kind": "fixed", "ms": 3000 } }
        ]),
    )
    .await;
    let started = Instant::now();
    let r = profile(&mut s, by_plate(PLATE), Duration::from_secs(1))
        .await
        .expect("an answer within the deadline");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(!r.complete);
    let vin = status(&r, "vin-service", "");
    assert_ne!(vin.state, OK, "{vin:?}");
    assert_eq!(calls(&s.sandbox, "connapi").await, 0, "no VIN, no decode");
    let p = r.profile.expect("profile");
    assert_eq!(p.plate.expect("plate").value, PLATE);
    assert!(
        p.issuing_authority.is_some(),
        "ParsePlate is local: never waits"
    );
}

#[tokio::test]
async fn a_spend_cap_skips_the_call_it_cannot_afford() {
    let mut s = suite().await;
    let mut req = by_vin(VIN);
    req.spend_cap = Some(Money {
        currency_code: "CNY".into(),
        units: 0,
        nanos: 100_000_000,
    });
    let r = profile(&mut s, req, Duration::from_secs(5))
        .await
        .expect("answer");
    let vin = status(&r, "vin-service", "");
    assert_eq!(vin.state, SourceState::SkippedByBudget as i32, "{vin:?}");
    assert_eq!(vin.code, Code::ResourceExhausted as i32);
    assert!(vin.message.contains("CNY 0.50"), "{}", vin.message);
    assert!(!r.complete);
    assert!(r.paid_calls.is_empty() && r.cost.is_none());
    assert_eq!(calls(&s.sandbox, "connapi").await, 0);
    // The free ValidateVin still ran.
    assert!(r.profile.expect("profile").model_year.is_some());
}

#[tokio::test]
async fn the_deployment_cap_applies_too() {
    let mut s = suite_with(Tweaks {
        aggregator: Some(Box::new(|c| {
            c.spend.max_per_request = Some(aggregator::config::Price::cny(0.0));
        })),
        ..Tweaks::default()
    })
    .await;
    let r = profile(&mut s, by_vin(VIN), Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(
        status(&r, "vin-service", "").state,
        SourceState::SkippedByBudget as i32
    );
    assert_eq!(calls(&s.sandbox, "connapi").await, 0);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_and_costs_nothing() {
    let mut s = suite().await;
    for req in [
        by_vin("LNBSCC3H9GF308384"),
        by_plate("粤B1"),
        contracts::axle::aggregator::v1::GetVehicleProfileRequest::default(),
    ] {
        let err = profile(&mut s, req, Duration::from_secs(5))
            .await
            .expect_err("invalid");
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(!err.message().is_empty());
    }
    assert_eq!(calls(&s.sandbox, "connapi").await, 0);
    assert_eq!(calls(&s.sandbox, "xiaoshibao").await, 0);
}

#[tokio::test]
async fn a_masked_vin_from_plate_service_is_reported_for_the_operator() {
    let mut s = suite_with(Tweaks {
        plate: Some(Box::new(|c| {
            c.privacy.internal_token = settings::Secret::default();
        })),
        ..Tweaks::default()
    })
    .await;
    let r = profile(&mut s, by_plate(PLATE), Duration::from_secs(5))
        .await
        .expect("answer");
    let vin = status(&r, "vin-service", "");
    assert_eq!(vin.state, SourceState::Skipped as i32, "{vin:?}");
    assert_eq!(vin.reason, "VIN_MASKED");
    assert!(vin.operator_action_required);
    assert!(!r.complete);
    assert_eq!(calls(&s.sandbox, "connapi").await, 0);
    let p = r.profile.expect("profile");
    assert!(p.usage.is_some(), "the lookup's own facts stay");
}

#[tokio::test]
async fn violations_are_reported_when_they_cannot_be_asked() {
    let mut s = suite().await;
    // A VIN alone: no plate to ask with.
    let mut req = by_vin(VIN);
    req.include = Some(prost_types::FieldMask {
        paths: vec!["violations".into()],
    });
    let r = profile(&mut s, req, Duration::from_secs(5))
        .await
        .expect("answer");
    let v = status(&r, "violation-service", "");
    assert_eq!(v.state, SourceState::Skipped as i32);
    assert_eq!(v.reason, "PLATE_NEEDED");
    assert!(!r.complete);
}

fn violations_request() -> contracts::axle::aggregator::v1::GetVehicleProfileRequest {
    let mut req = by_vin(VIOLATION_VIN);
    req.hints = Some(contracts::axle::aggregator::v1::Hints {
        plate: VIOLATION_PLATE.into(),
        engine_number: VIOLATION_ENGINE.into(),
        plate_color: contracts::axle::plate::v1::PlateColor::Blue as i32,
        ..Default::default()
    });
    req.include = Some(prost_types::FieldMask {
        paths: vec!["violations".into(), "model_year".into()],
    });
    req
}

#[tokio::test]
async fn violations_come_from_violation_service_when_the_city_rule_is_met() {
    let mut s = suite().await;
    let r = profile(&mut s, violations_request(), Duration::from_secs(5))
        .await
        .expect("answer");
    assert!(r.complete, "{:#?}", r.sources);
    assert_eq!(status(&r, "violation-service", "").state, OK);
    assert_eq!(status(&r, "apistore", "violation-service").state, OK);
    let v = r.profile.expect("profile").violations.expect("violations");
    assert_eq!((v.count, v.total_points), (2, 5), "{v:?}");
    assert!(
        v.provenance
            .is_some_and(|p| p.source == "apistore" && p.sandbox)
    );
}

#[tokio::test]
async fn violation_service_down_is_a_failed_source_not_an_error() {
    let mut s = suite_with(Tweaks {
        aggregator: Some(Box::new(|c| {
            c.services.violation = kit::client::ClientConfig::local(closed_port());
        })),
        ..Tweaks::default()
    })
    .await;
    let r = profile(&mut s, violations_request(), Duration::from_secs(5))
        .await
        .expect("answer");
    let v = status(&r, "violation-service", "");
    assert_eq!(v.state, SourceState::Failed as i32, "{v:?}");
    assert_eq!(v.code, Code::Unavailable as i32);
    assert!(!r.complete);
    let p = r.profile.expect("profile");
    assert!(p.violations.is_none());
    assert!(p.model_year.is_some(), "the other sources still answer");
}
