//! What plate-service asks its sources and what they answer, in vendor-neutral terms:
//! every plate vendor's connector turns its own answer into a [`VehicleReport`].

use contracts::axle::common::v1::Provenance;
use contracts::axle::plate::v1::ParsePlateResponse;

/// A plate to look up, as the local parse understood it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateQuery {
    /// Normalised, e.g. "粤B12345".
    pub plate: String,
    /// Province and city of the issuing authority, as the local tables name them
    /// ("广东省", "深圳市"); empty when the plate has none (WJ, embassy).
    pub province: String,
    pub city: String,
}

impl PlateQuery {
    pub fn from_parse(parsed: &ParsePlateResponse) -> Self {
        let (province, city) = parsed
            .issuing_authority
            .as_ref()
            .map(|a| (a.province.clone(), a.city.clone()))
            .unwrap_or_default();
        Self {
            plate: parsed.normalized_plate.clone(),
            province,
            city,
        }
    }
}

/// A plate vendor.
pub type PlateSource = dyn sources::Source<PlateQuery, VehicleReport>;

/// What one source said about the vehicle, field by field ("" where it said nothing).
/// Dates are ISO 8601 where they read as dates.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VehicleReport {
    pub provenance: Provenance,
    /// The source's confidence: its configuration's, or the vendor's own per answer.
    pub confidence: f32,
    pub vin: String,
    /// 使用性质 as the vendor wrote it.
    pub usage: String,
    pub brand: String,
    pub model: String,
    pub first_registration_date: String,
    pub vehicle_type: String,
    pub color: String,
    pub engine_number: String,
    pub insurance_expiry_date: String,
    pub production_date: String,
    pub emission_standard: String,
    pub approved_passengers: Option<i64>,
    pub details: Details,
    pub damage: Vec<Damage>,
    /// Fields the vendor's document does not describe, as sent, in a stable order.
    pub unmapped: Vec<(String, String)>,
}

/// Specifications and registration details (seed 004's fields), as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub fuel_type: String,
    pub transmission: String,
    pub engine_model: String,
    pub power: String,
    pub length: String,
    pub width: String,
    pub height: String,
    pub wheelbase: String,
    pub front_track: String,
    pub rear_track: String,
    pub curb_weight: String,
    pub total_weight: String,
    pub rated_load_weight_kg: String,
    pub axle_count: String,
    pub body_boxes: String,
    pub front_tire_size: String,
    pub rear_tire_size: String,
    pub insurance_start_date: String,
    pub market_launch_date: String,
    pub production_year_month: String,
    pub guide_price_10k_cny: String,
    pub vendor_brand_id: String,
}

/// One damage / claim record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    pub kind: String,
    pub part: String,
    pub amount: String,
}

/// Vendor leftovers in a stable order (maps iterate randomly).
pub fn sorted(map: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort();
    v
}

/// A vendor's date in ISO 8601 when it reads as one (the contract's promise), else as
/// sent: an unreadable date is passed on, not dropped.
pub fn iso(date: String) -> String {
    domain::dates::iso_date(&date).unwrap_or(date)
}
