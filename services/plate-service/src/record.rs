//! LookupVehicle's record: what the sources reported, merged field by field under the
//! configured source priority by the facts crate.
//!
//! The record describes one vehicle. The VIN is merged first, and a VIN that fails the
//! local rules (its mandatory check digit) never wins over one that passes; then every
//! source whose VIN differs from the chosen one describes another vehicle (or the right
//! one under a wrong VIN), so its other fields rank after those of the chosen VIN's
//! sources and never count as agreement (where they differ they stay visible as
//! alternatives marked OTHER_VEHICLE). Its damage records and unmapped fields are listed
//! with their provenance like every source's.

use contracts::axle::plate::v1::{
    DamageRecord, LookupVehicleResponse, VehicleDetails, VendorField,
};
use domain::vin::CheckDigitState;
use facts::{Admission, Facts, Stated};
use merge::MergePolicy;

use crate::report::VehicleReport;

/// The merged record (without the parse, the source statuses and masking).
pub fn build(policy: &MergePolicy, reports: &[VehicleReport]) -> LookupVehicleResponse {
    let mut f = Facts::new(policy);
    let stated = |pick: fn(&VehicleReport) -> &str| -> Vec<Stated<String>> {
        reports
            .iter()
            .map(|r| Stated::new(pick(r).to_owned(), r.provenance.clone(), r.confidence))
            .collect()
    };
    let vin = f.text_with("vin", stated(|r| &r.vin), |s| {
        if vin_passes(&s.value) {
            Admission::Admissible
        } else {
            Admission::Rejected("VIN_INVALID")
        }
    });
    let other_vehicle: Vec<&str> = match &vin {
        Some(chosen) => {
            let chosen = domain::vin::normalize(&chosen.value);
            reports
                .iter()
                .filter(|r| {
                    !facts::agreement::is_placeholder(&r.vin)
                        && domain::vin::normalize(&r.vin) != chosen
                })
                .map(|r| r.provenance.source.as_str())
                .collect()
        }
        None => Vec::new(),
    };
    let admission = |s: &Stated<String>| {
        if other_vehicle.contains(&s.source()) {
            Admission::Demoted("OTHER_VEHICLE")
        } else {
            Admission::Admissible
        }
    };
    let text = |f: &mut Facts<'_>, field: &str, pick: fn(&VehicleReport) -> &str| {
        f.text_with(field, stated(pick), admission)
    };
    // Code-table fields agree by code, prices by amount, not by their wording.
    let by =
        |f: &mut Facts<'_>,
         field: &str,
         pick: fn(&VehicleReport) -> &str,
         same: fn(&str, &str) -> bool| { f.text_by(field, stated(pick), admission, same) };
    let mut resp = LookupVehicleResponse {
        vin,
        brand: text(&mut f, "brand", |r| &r.brand),
        model: text(&mut f, "model", |r| &r.model),
        ..LookupVehicleResponse::default()
    };
    let date = |f: &mut Facts<'_>, field: &str, pick: fn(&VehicleReport) -> &str| {
        f.date_with(field, stated(pick), admission)
    };
    resp.first_registration_date = date(&mut f, "first_registration_date", |r| {
        &r.first_registration_date
    });
    resp.vehicle_type = by(
        &mut f,
        "vehicle_type",
        |r| &r.vehicle_type,
        facts::agreement::same_vehicle_type,
    );
    resp.body_color = text(&mut f, "body_color", |r| &r.color);
    resp.engine_number = text(&mut f, "engine_number", |r| &r.engine_number);
    resp.insurance_expiry_date = date(&mut f, "insurance_expiry_date", |r| {
        &r.insurance_expiry_date
    });
    resp.production_date = date(&mut f, "production_date", |r| &r.production_date);
    resp.emission_standard = text(&mut f, "emission_standard", |r| &r.emission_standard);
    let usage = by(&mut f, "usage", |r| &r.usage, facts::agreement::same_usage);
    let mut details = VehicleDetails {
        fuel_type: text(&mut f, "fuel_type", |r| &r.details.fuel_type),
        transmission: text(&mut f, "transmission", |r| &r.details.transmission),
        engine_model: text(&mut f, "engine_model", |r| &r.details.engine_model),
        power: text(&mut f, "power", |r| &r.details.power),
        length: text(&mut f, "length", |r| &r.details.length),
        width: text(&mut f, "width", |r| &r.details.width),
        height: text(&mut f, "height", |r| &r.details.height),
        wheelbase: text(&mut f, "wheelbase", |r| &r.details.wheelbase),
        front_track: text(&mut f, "front_track", |r| &r.details.front_track),
        rear_track: text(&mut f, "rear_track", |r| &r.details.rear_track),
        curb_weight: text(&mut f, "curb_weight", |r| &r.details.curb_weight),
        total_weight: text(&mut f, "total_weight", |r| &r.details.total_weight),
        rated_load_weight_kg: text(&mut f, "rated_load_weight_kg", |r| {
            &r.details.rated_load_weight_kg
        }),
        axle_count: text(&mut f, "axle_count", |r| &r.details.axle_count),
        body_boxes: text(&mut f, "body_boxes", |r| &r.details.body_boxes),
        front_tire_size: text(&mut f, "front_tire_size", |r| &r.details.front_tire_size),
        rear_tire_size: text(&mut f, "rear_tire_size", |r| &r.details.rear_tire_size),
        insurance_start_date: date(&mut f, "insurance_start_date", |r| {
            &r.details.insurance_start_date
        }),
        market_launch_date: date(&mut f, "market_launch_date", |r| {
            &r.details.market_launch_date
        }),
        production_year_month: date(&mut f, "production_year_month", |r| {
            &r.details.production_year_month
        }),
        guide_price_10k_cny: by(
            &mut f,
            "guide_price_10k_cny",
            |r| &r.details.guide_price_10k_cny,
            facts::agreement::same_wan_yuan,
        ),
        vendor_brand_id: text(&mut f, "vendor_brand_id", |r| &r.details.vendor_brand_id),
        guide_price: None,
    };
    // The guide price as money too, converted exactly from the 万元 text.
    details.guide_price = details
        .guide_price_10k_cny
        .as_ref()
        .and_then(facts::money::from_wan_yuan_fact);
    if details != VehicleDetails::default() {
        resp.details = Some(details);
    }
    for r in reports {
        resp.damage_records
            .extend(r.damage.iter().map(|d| DamageRecord {
                r#type: d.kind.clone(),
                part: d.part.clone(),
                amount: d.amount.clone(),
                provenance: Some(r.provenance.clone()),
            }));
        resp.unmapped_fields
            .extend(r.unmapped.iter().map(|(name, value)| VendorField {
                source: r.provenance.source.clone(),
                name: name.clone(),
                value: value.clone(),
            }));
    }
    resp.vehicle_type_code = resp
        .vehicle_type
        .as_ref()
        .and_then(facts::codes::vehicle_type);
    // Seat counts go through the same policy as the text fields: a vendor's count never
    // silently shadows another's.
    resp.approved_passengers = f.int_with(
        "approved_passengers",
        reports
            .iter()
            .filter_map(|r| {
                let n = i32::try_from(r.approved_passengers?).ok()?;
                Some(Stated::new(n, r.provenance.clone(), r.confidence))
            })
            .collect(),
        |s| {
            if other_vehicle.contains(&s.source()) {
                Admission::Demoted("OTHER_VEHICLE")
            } else {
                Admission::Admissible
            }
        },
    );
    resp.disagreements = f.into_disagreements();
    resp.usage = usage.map(facts::codes::usage);
    resp.vin_valid = resp.vin.as_ref().map(|v| vin_passes(&v.value));
    resp
}

/// Whether a vendor's VIN passes the local VIN rules. One that breaks its mandatory check
/// digit is not the vehicle's VIN as registered: it stays visible, flagged, with low
/// confidence, and any VIN that passes is preferred to it.
fn vin_passes(vin: &str) -> bool {
    let report = domain::vin::validate(vin, kit::clock::current_year());
    report.valid && report.check_digit.state != CheckDigitState::Invalid
}
