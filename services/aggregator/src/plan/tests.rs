use super::*;

const VIN: &str = "LNBSCC3H8GF308384";

fn rules() -> &'static RuleTable {
    domain::violation::embedded().expect("the embedded table parses")
}

fn plate(p: &str) -> Known {
    Known {
        plate: Some(p.to_owned()),
        ..Known::default()
    }
}

/// A plate with its 号牌种类 known (from the colour or a hint).
fn typed(p: &str) -> Known {
    Known {
        plate_type: Some("02".to_owned()),
        ..plate(p)
    }
}

fn vin() -> Known {
    Known {
        vin: Some(VIN.to_owned()),
        ..Known::default()
    }
}

fn steps(plan: &Plan) -> Vec<(Step, Start)> {
    plan.steps.iter().map(|p| (p.step, p.start)).collect()
}

fn all() -> Fields {
    Fields::default_include()
}

#[test]
fn a_plate_parses_and_looks_up_at_once_then_decodes_the_vin_it_finds() {
    let p = plan(&plate("粤B12345"), all(), rules());
    assert_eq!(
        steps(&p),
        vec![
            (Step::ParsePlate, Start::Now),
            (Step::LookupVehicle, Start::Now),
            (Step::DecodeVin, Start::AfterLookup),
            (Step::ValidateVin, Start::AfterLookup),
        ]
    );
    assert!(p.not_planned.is_empty(), "{p:?}");
    assert!(p.chained());
}

#[test]
fn a_vin_validates_and_decodes_at_once_and_never_looks_up_without_a_plate() {
    let p = plan(&vin(), all(), rules());
    assert_eq!(
        steps(&p),
        vec![
            (Step::ValidateVin, Start::Now),
            (Step::DecodeVin, Start::Now),
        ]
    );
    assert!(!p.chained());
}

#[test]
fn a_vin_and_a_plate_hint_look_up_only_for_what_the_vin_vendors_cannot_say() {
    let known = Known {
        plate: Some("粤B12345".to_owned()),
        ..vin()
    };
    let p = plan(&known, all(), rules());
    assert_eq!(
        steps(&p),
        vec![
            (Step::ParsePlate, Start::Now),
            (Step::ValidateVin, Start::Now),
            (Step::DecodeVin, Start::Now),
            (Step::LookupVehicle, Start::Now),
        ]
    );
    // Brand only: the VIN vendors say it; nobody pays the plate vendors for it.
    let p = plan(&known, Fields::of(&[Field::Brand]), rules());
    assert_eq!(steps(&p), vec![(Step::DecodeVin, Start::Now)]);
    // 使用性质 only: only the plate vendors say it.
    let p = plan(&known, Fields::of(&[Field::Usage]), rules());
    assert_eq!(steps(&p), vec![(Step::LookupVehicle, Start::Now)]);
}

#[test]
fn local_fields_cost_nothing() {
    let p = plan(
        &vin(),
        Fields::of(&[Field::Manufacturer, Field::ModelYear, Field::VinValid]),
        rules(),
    );
    assert_eq!(steps(&p), vec![(Step::ValidateVin, Start::Now)]);
    let p = plan(
        &plate("京AD12345"),
        Fields::of(&[Field::PlateType, Field::IssuingAuthority]),
        rules(),
    );
    assert_eq!(steps(&p), vec![(Step::ParsePlate, Start::Now)]);
    // What the request itself says needs no call at all.
    let p = plan(&vin(), Fields::of(&[Field::Vin]), rules());
    assert!(p.steps.is_empty());
}

#[test]
fn a_plate_with_only_local_vin_facts_wanted_looks_up_then_validates() {
    let p = plan(&plate("粤B12345"), Fields::of(&[Field::ModelYear]), rules());
    assert_eq!(
        steps(&p),
        vec![
            (Step::LookupVehicle, Start::Now),
            (Step::ValidateVin, Start::AfterLookup),
        ]
    );
}

#[test]
fn a_plate_with_a_brand_wanted_pays_the_lookup_only() {
    let p = plan(&plate("粤B12345"), Fields::of(&[Field::Brand]), rules());
    assert_eq!(steps(&p), vec![(Step::LookupVehicle, Start::Now)]);
    // The series is only in the VIN vendors' catalogue: the lookup finds the VIN first.
    let p = plan(
        &plate("粤B12345"),
        Fields::of(&[Field::Brand, Field::Series]),
        rules(),
    );
    assert_eq!(
        steps(&p),
        vec![
            (Step::LookupVehicle, Start::Now),
            (Step::DecodeVin, Start::AfterLookup),
            (Step::ValidateVin, Start::AfterLookup),
        ]
    );
}

#[test]
fn violations_only_when_included() {
    let p = plan(&plate("藏A12345"), all(), rules());
    assert!(!p.has(Step::QueryViolations));
    assert!(p.not_planned.is_empty());
}

#[test]
fn violations_at_once_when_the_city_rule_is_met_by_the_request() {
    // 粤B: last 6 of the engine number and last 6 of the VIN.
    let known = Known {
        plate: Some("粤B12345".to_owned()),
        vin: Some(VIN.to_owned()),
        engine_number: Some("AD50EG081600062".to_owned()),
        plate_type: Some("02".to_owned()),
        ..Known::default()
    };
    let p = plan(&known, Fields::of(&[Field::Violations]), rules());
    assert_eq!(steps(&p), vec![(Step::QueryViolations, Start::Now)]);
    // Without the type (an ordinary plate without its colour), the query cannot be
    // answered: reported, not paid.
    let untyped = Known {
        plate_type: None,
        ..known
    };
    let p = plan(&untyped, Fields::of(&[Field::Violations]), rules());
    assert!(p.steps.is_empty(), "{p:?}");
    assert_eq!(p.not_planned[0].reason, "PLATE_TYPE_NEEDED");
}

#[test]
fn violations_after_the_lookup_when_it_can_supply_what_the_city_asks() {
    let p = plan(
        &typed("粤B12345"),
        Fields::of(&[Field::Violations]),
        rules(),
    );
    assert_eq!(
        steps(&p),
        vec![
            (Step::LookupVehicle, Start::Now),
            (Step::QueryViolations, Start::AfterLookup),
        ]
    );
}

#[test]
fn violations_are_reported_not_called_when_they_cannot_be_asked() {
    let p = plan(&vin(), Fields::of(&[Field::Violations]), rules());
    assert!(p.steps.is_empty());
    assert_eq!(p.not_planned.len(), 1);
    assert_eq!(p.not_planned[0].reason, "PLATE_NEEDED");

    let p = plan(&plate("WJ01234"), Fields::of(&[Field::Violations]), rules());
    assert!(!p.has(Step::QueryViolations), "{p:?}");
    assert_eq!(p.not_planned.len(), 1, "{p:?}");
    assert!(
        matches!(
            p.not_planned[0].reason,
            "PLATE_NOT_COVERED" | "CITY_RULE_UNKNOWN"
        ),
        "{p:?}"
    );

    let known = Known {
        plate_type: Some("X9".to_owned()),
        ..plate("粤B12345")
    };
    let p = plan(&known, Fields::of(&[Field::Violations]), rules());
    assert_eq!(p.not_planned[0].reason, "CITY_RULE_UNKNOWN", "{p:?}");
    assert!(p.not_planned[0].message.contains("X9"), "{p:?}");
}

#[test]
fn no_step_needing_the_vin_starts_before_it_is_known() {
    for wanted in Field::ALL {
        let p = plan(&plate("粤B12345"), Fields::of(&[wanted]), rules());
        for s in &p.steps {
            if matches!(s.step, Step::DecodeVin | Step::ValidateVin) {
                assert_eq!(s.start, Start::AfterLookup, "{wanted}: {p:?}");
                assert!(p.has(Step::LookupVehicle), "{wanted}: {p:?}");
            }
        }
    }
}

#[test]
fn every_wanted_field_some_step_can_state_is_planned_for() {
    for known in [plate("粤B12345"), vin()] {
        for wanted in Field::ALL {
            let p = plan(&known, Fields::of(&[wanted]), rules());
            let possible = Step::ALL.iter().any(|s| {
                s.supplies().contains(wanted)
                    && *s != Step::Recognize
                    && (known.plate.is_some()
                        || *s != Step::LookupVehicle && *s != Step::ParsePlate)
            });
            let stated = known.fields().contains(wanted);
            if possible && !stated && wanted != Field::Violations {
                assert!(p.supplies().contains(wanted), "{wanted}: {p:?}");
            }
            // Nothing paid unless a paid step supplies a wanted field (or is needed for
            // the VIN of one that does).
            for s in p.steps.iter().filter(|s| s.step.paid()) {
                let direct = s.step.supplies().contains(wanted);
                let for_vin = s.step == Step::LookupVehicle;
                assert!(direct || for_vin, "{wanted}: {p:?}");
            }
        }
    }
}

fn timing() -> Timing {
    Timing {
        merge_reserve_fraction: 0.1,
        merge_reserve_min: Duration::from_millis(5),
        merge_reserve_max: Duration::from_millis(100),
        lookup_share: 0.6,
        recognize_share: 0.5,
    }
}

#[test]
fn the_deadline_keeps_a_reserve_and_shares_a_chain() {
    let now = Instant::now();
    let chained = plan(&plate("粤B12345"), all(), rules());
    let d = deadlines(&chained, now, now + Duration::from_secs(1), &timing());
    assert_eq!(d.steps, now + Duration::from_millis(900));
    assert_eq!(d.lookup, now + Duration::from_millis(540));

    let flat = plan(&vin(), all(), rules());
    let d = deadlines(&flat, now, now + Duration::from_secs(10), &timing());
    assert_eq!(
        d.steps,
        now + Duration::from_millis(9900),
        "reserve capped at 100 ms"
    );
    assert_eq!(d.lookup, d.steps);

    let d = deadlines(&flat, now, now + Duration::from_millis(20), &timing());
    assert_eq!(
        d.steps,
        now + Duration::from_millis(15),
        "at least 5 ms kept"
    );

    // A deadline already past leaves nothing, never an instant before now.
    let d = deadlines(&flat, now, now, &timing());
    assert_eq!((d.steps, d.lookup), (now, now));
}

fn photo() -> Known {
    Known {
        photo: true,
        ..Known::default()
    }
}

#[test]
fn a_photo_is_read_first_and_nothing_else_is_planned_before() {
    let p = plan(&photo(), all(), rules());
    assert_eq!(steps(&p), vec![(Step::Recognize, Start::Now)]);
    // Even with hints: what the photo shows decides the rest.
    let hinted = Known {
        plate: Some("粤B12345".to_owned()),
        ..photo()
    };
    assert_eq!(
        steps(&plan(&hinted, all(), rules())),
        vec![(Step::Recognize, Start::Now)]
    );
}

#[test]
fn what_a_photo_showed_is_planned_like_a_plate_and_a_vin() {
    // The photo gave both: the VIN is asked at once, the plate too.
    let read = Known {
        plate: Some("粤B12345".to_owned()),
        vin: Some(VIN.to_owned()),
        read: Step::Recognize.supplies(),
        ..Known::default()
    };
    let p = plan(&read, all(), rules());
    assert_eq!(
        steps(&p),
        vec![
            (Step::ParsePlate, Start::Now),
            (Step::ValidateVin, Start::Now),
            (Step::DecodeVin, Start::Now),
            (Step::LookupVehicle, Start::Now),
        ]
    );
    // Only its plate: the lookup finds the VIN, as for a plate.
    let plate_only = Known {
        vin: None,
        ..read.clone()
    };
    let p = plan(&plate_only, all(), rules());
    assert_eq!(
        p.get(Step::DecodeVin).map(|s| s.start),
        Some(Start::AfterLookup)
    );
}

#[test]
fn nobody_pays_for_what_the_licence_already_says() {
    let read = Known {
        plate: Some("粤B12345".to_owned()),
        vin: Some(VIN.to_owned()),
        read: Step::Recognize.supplies(),
        ..Known::default()
    };
    let printed = Fields::of(&[
        Field::Usage,
        Field::VehicleType,
        Field::FirstRegistrationDate,
        Field::EngineNumber,
    ]);
    let p = plan(&read, printed, rules());
    assert!(
        p.steps.iter().all(|s| !s.step.paid()),
        "the licence states them all: {p:?}"
    );
    // The same fields without the photo need the plate vendors.
    let p = plan(
        &Known {
            read: Fields::EMPTY,
            ..read
        },
        printed,
        rules(),
    );
    assert!(p.has(Step::LookupVehicle), "{p:?}");
}

#[test]
fn reading_a_photo_leaves_the_rest_time_for_what_follows() {
    let now = Instant::now();
    let p = plan(&photo(), all(), rules());
    let d = deadlines(&p, now, now + Duration::from_secs(1), &timing());
    assert_eq!(d.steps, now + Duration::from_millis(900));
    assert_eq!(d.recognize, now + Duration::from_millis(450));
    // What follows shares the time left until the same end.
    let then = plan(&plate("粤B12345"), all(), rules());
    let later = now + Duration::from_millis(400);
    let d2 = split(&then, later, d.steps, &timing());
    assert_eq!(d2.steps, d.steps);
    assert_eq!(d2.lookup, later + Duration::from_millis(300));
    assert_eq!(d2.recognize, d.steps, "nothing to read any more");
}
