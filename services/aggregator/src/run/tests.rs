use super::*;
use contracts::axle::common::v1::{Provenance, StringFact};
use contracts::axle::plate::v1::ParsePlateResponse;
use contracts::axle::vin::v1::DecodeVinResponse;
use proptest::prelude::*;

use crate::fields::Fields;
use crate::plan::{Known, plan};

fn status(source: &str, state: SourceState) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: state as i32,
        ..SourceStatus::default()
    }
}

fn fact(value: &str, source: &str) -> StringFact {
    StringFact {
        value: value.to_owned(),
        confidence: 0.8,
        provenance: Some(Provenance {
            source: source.to_owned(),
            ..Provenance::default()
        }),
        alternatives: Vec::new(),
    }
}

fn outcomes() -> Vec<Done> {
    vec![
        Done {
            step: Step::ParsePlate,
            status: status("plate-service", SourceState::Ok),
            answer: Answer::ParsePlate(Box::new(ParsePlateResponse {
                valid: true,
                normalized_plate: "粤B12345".to_owned(),
                ..ParsePlateResponse::default()
            })),
            fresh_for: None,
        },
        Done {
            step: Step::LookupVehicle,
            status: status("plate-service", SourceState::Ok),
            answer: Answer::Lookup(Box::new(LookupVehicleResponse {
                brand: Some(fact("宝马", "xiaoshibao")),
                sources: vec![
                    status("xiaoshibao", SourceState::Ok),
                    status("platecb", SourceState::Pending),
                ],
                ..LookupVehicleResponse::default()
            })),
            fresh_for: None,
        },
        Done {
            step: Step::DecodeVin,
            status: status("vin-service", SourceState::Ok),
            answer: Answer::DecodeVin(Box::new(DecodeVinResponse {
                summary: Some(contracts::axle::vin::v1::VehicleSummary {
                    brand: Some(fact("大众", "connapi")),
                    ..Default::default()
                }),
                sources: vec![status("connapi", SourceState::Ok)],
                ..DecodeVinResponse::default()
            })),
            fresh_for: None,
        },
        Done::nothing(
            Step::ValidateVin,
            kit::client::source_status::timed_out("vin-service", Duration::from_millis(5)),
        ),
    ]
}

fn the_plan() -> Plan {
    let known = Known {
        plate: Some("粤B12345".to_owned()),
        ..Known::default()
    };
    plan(
        &known,
        Fields::default_include(),
        domain::violation::embedded().expect("table"),
    )
}

#[test]
fn a_collector_starts_with_every_planned_step_pending() {
    let c = Collector::new(&the_plan());
    assert!(!c.finished());
    let t = c.table();
    assert!(!t.complete);
    assert!(
        t.sources
            .iter()
            .all(|s| s.state == SourceState::Pending as i32),
        "{t:?}"
    );
}

proptest! {
    // Whichever order the services answer in, the response says the same.
    #[test]
    fn arrival_order_does_not_change_the_outcome(order in Just(outcomes()).prop_shuffle()) {
        let mut in_plan_order = Collector::new(&the_plan());
        for d in outcomes() {
            in_plan_order.apply(d);
        }
        let mut shuffled = Collector::new(&the_plan());
        for d in order {
            shuffled.apply(d);
        }
        prop_assert!(shuffled.finished());
        prop_assert_eq!(&shuffled, &in_plan_order);
        prop_assert_eq!(shuffled.table(), in_plan_order.table());
        let t = shuffled.table();
        prop_assert!(!t.complete, "platecb pending, ValidateVin late");
    }
}

#[test]
fn a_read_photo_sets_what_follows_running_and_lists_the_ocr_service_first() {
    let photo = plan(
        &Known {
            photo: true,
            ..Known::default()
        },
        Fields::default_include(),
        domain::violation::embedded().expect("table"),
    );
    let mut c = Collector::new(&photo);
    assert_eq!(c.table().sources[0].source, "ocr-service");
    let then = the_plan();
    let mut engine = status("ocr-engine", SourceState::Ok);
    engine.latency = Some(prost_types::Duration::default());
    c.apply(Done {
        step: Step::Recognize,
        status: status("ocr-service", SourceState::Ok),
        answer: Answer::Recognize(Box::new(Recognized {
            response: Some(contracts::axle::ocr::v1::RecognizeVehicleLicenseResponse {
                sources: vec![engine],
                ..Default::default()
            }),
            then: then.clone(),
        })),
        fresh_for: None,
    });
    assert!(!c.finished(), "the plate's steps are running");
    let t = c.table();
    let rows: Vec<(&str, &str, i32)> = t
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.via.as_str(), s.state))
        .collect();
    assert_eq!(rows[0], ("ocr-service", "", SourceState::Ok as i32));
    assert!(
        rows.contains(&("plate-service", "", SourceState::Pending as i32)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("ocr-engine", "ocr-service", SourceState::Ok as i32)),
        "{rows:?}"
    );
    for d in outcomes() {
        c.apply(d);
    }
    assert!(c.finished());
}

#[test]
fn only_a_photo_ocr_service_refuses_fails_the_request() {
    let mut s = status("ocr-service", SourceState::Failed);
    s.code = tonic::Code::InvalidArgument as i32;
    s.reason = "IMAGE_NOT_DECODABLE".to_owned();
    assert!(photo_refused(&s));
    s.reason = "NO_LICENSE_FOUND".to_owned();
    assert!(
        !photo_refused(&s),
        "a good image without a licence: partial"
    );
    s.code = tonic::Code::Unavailable as i32;
    s.reason = "OCR_UNAVAILABLE".to_owned();
    assert!(!photo_refused(&s));
}

#[test]
fn a_response_is_replayable_only_when_every_step_was_kept_for_the_least_time_left() {
    let kept = |mut d: Done, left: u64| {
        d.fresh_for = Some(Duration::from_secs(left));
        d
    };
    let all = outcomes();
    // Every step served from the cache: the shortest time left is the response's.
    let mut c = Collector::new(&the_plan());
    for (d, left) in all.iter().cloned().zip([60, 30, 90, 120]) {
        c.apply(kept(d, left));
    }
    assert_eq!(c.replayable_for(), Some(Duration::from_secs(30)));

    // Still running: not yet.
    let mut c = Collector::new(&the_plan());
    c.apply(kept(all[0].clone(), 60));
    assert_eq!(c.replayable_for(), None);

    // One answer came from a call (or failed, or was late): never.
    for fresh in 0..all.len() {
        let mut c = Collector::new(&the_plan());
        for (i, d) in all.iter().cloned().enumerate() {
            c.apply(if i == fresh { d } else { kept(d, 60) });
        }
        assert!(c.finished());
        assert_eq!(c.replayable_for(), None, "step {fresh} was not kept");
    }

    // A step not called for a reason the request decides keeps it replayable; one
    // skipped by the budget does not.
    let not_called = |state| {
        Done::nothing(
            Step::ValidateVin,
            table::skipped(Step::ValidateVin, state, "NO_VIN_FOUND", "not called"),
        )
    };
    for (state, replayable) in [
        (SourceState::Skipped, true),
        (SourceState::SkippedByBudget, false),
    ] {
        let mut c = Collector::new(&the_plan());
        for d in all.iter().take(3).cloned() {
            c.apply(kept(d, 60));
        }
        c.apply(not_called(state));
        assert_eq!(c.replayable_for().is_some(), replayable, "{state:?}");
    }
}
