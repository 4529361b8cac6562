//! The merged profile: what every downstream answer states about each field, handed to
//! the facts crate under the aggregator's merge policy. This module only says which
//! answer states what; it never decides between values itself.
//!
//! Each downstream fact arrives already merged by its service: its chosen value (with
//! the service's merged confidence) and the other sources' values as alternatives (with
//! their own confidence and, when a local rule or the record's VIN ruled them out, the
//! reason). Every one of them is a statement here, under its own source's name, so the
//! aggregator's per-field priority decides across services. Statements are gathered in
//! a fixed order (by step, never by arrival), so the result does not depend on which
//! service answered first.

use std::time::SystemTime;

use contracts::axle::aggregator::v1::{PlateTypeFact, VehicleProfile, ViolationsSummary};
use contracts::axle::common::v1::{
    Alternative, BoolFact, DateFact, Disagreement, Int32Fact, Money, MoneyFact, Provenance,
    StringFact,
};
use contracts::axle::ocr::v1::{CrossCheckResult, Reading, RecognizeVehicleLicenseResponse};
use contracts::axle::plate::v1::{LookupVehicleResponse, ParsePlateResponse, PlateType};
use contracts::axle::vin::v1::{DecodeVinResponse, ModelYearBasis, ValidateVinResponse};
use contracts::axle::violation::v1::{HandlingState, QueryViolationsResponse};
use facts::{Admission, Facts, Stated, agreement, confidence};
use merge::MergePolicy;

use crate::config::Privacy;
use crate::fields::{Field, Fields};
use crate::plan::Known;

/// The source name of what the caller gave (subject and hints).
pub const REQUEST: &str = "request";
/// The source name of Axle's own rules and tables.
pub const LOCAL: &str = "local";

/// What the downstream services answered (any of them may be missing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub parse_plate: Option<ParsePlateResponse>,
    pub validate_vin: Option<ValidateVinResponse>,
    pub decode_vin: Option<DecodeVinResponse>,
    pub lookup: Option<LookupVehicleResponse>,
    pub violations: Option<QueryViolationsResponse>,
    /// RecognizeVehicleLicense: the photo, read.
    pub license: Option<RecognizeVehicleLicenseResponse>,
}

/// A VIN as the plate vendors gave it, full or masked by plate-service.
pub fn is_masked(value: &str) -> bool {
    value.contains('*')
}

/// The full VIN LookupVehicle found, when it passes the local rules (the VIN the
/// steps after the lookup ask about).
pub fn vin_found(lookup: &LookupVehicleResponse) -> Option<String> {
    let v = lookup.vin.as_ref()?;
    if is_masked(&v.value) {
        return None;
    }
    let report = domain::vin::validate(&v.value, kit::clock::current_year());
    report.valid.then_some(report.normalized)
}

/// One statement with how it may take part in the merge.
type Said<V> = Vec<(Stated<V>, Admission)>;

/// A licence field as a statement under its reader's name ("ocr-engine" for the
/// in-process engine, "apihz" for the vendor), with the reading's confidence; a value
/// whose cross-check failed is not proven wrong (the rule may not cover it) but ranks
/// after the admissible ones.
fn reading<V>(value: V, r: Option<&Reading>) -> Option<(Stated<V>, Admission)> {
    let r = r?;
    let provenance = r.provenance.clone().filter(|p| !p.source.is_empty())?;
    let failed = r
        .cross_check
        .as_ref()
        .is_some_and(|c| c.result == CrossCheckResult::CheckedFailed as i32);
    let admission = if failed {
        Admission::Demoted("CROSS_CHECK_FAILED")
    } else {
        Admission::Admissible
    };
    Some((Stated::new(value, provenance, r.confidence), admission))
}

/// The brand in a licence's 品牌型号 ("本田牌HG7154BAC5" is 本田): what precedes 牌.
fn brand_of(model: &str) -> Option<String> {
    let (brand, _) = model.split_once('牌')?;
    let brand = brand.trim();
    (!brand.is_empty()).then(|| brand.to_owned())
}

/// What the licence photo states about a text field (and dates, as text).
fn from_license(read: Option<&RecognizeVehicleLicenseResponse>, field: Field) -> Said<String> {
    let Some(read) = read else {
        return Vec::new();
    };
    let front = read.front.as_ref();
    let back = read.back.as_ref();
    let text = |f: Option<&contracts::axle::ocr::v1::TextField>| {
        f.filter(|f| !f.value.trim().is_empty())
            .and_then(|f| reading(f.value.clone(), f.reading.as_ref()))
    };
    let one = match field {
        Field::Vin => text(front.and_then(|f| f.vin.as_ref())).map(|(s, adm)| {
            let adm = if is_masked(&s.value)
                || domain::vin::validate(&s.value, kit::clock::current_year()).valid
            {
                adm
            } else {
                Admission::Rejected("VIN_INVALID")
            };
            (s, adm)
        }),
        Field::Plate => text(front.and_then(|f| f.plate.as_ref()))
            .or_else(|| text(back.and_then(|b| b.plate.as_ref())))
            .map(|(s, adm)| {
                if domain::plate::parse(&s.value, None).valid {
                    (s, adm)
                } else {
                    (s, Admission::Rejected("PLATE_INVALID"))
                }
            }),
        Field::EngineNumber => text(front.and_then(|f| f.engine_number.as_ref())),
        Field::Model => text(front.and_then(|f| f.model.as_ref())),
        Field::Brand => front
            .and_then(|f| f.model.as_ref())
            .and_then(|m| reading(brand_of(&m.value)?, m.reading.as_ref())),
        Field::FuelType => text(back.and_then(|b| b.fuel_type.as_ref())),
        Field::OwnerName => text(front.and_then(|f| f.owner.as_ref())),
        Field::OwnerAddress => text(front.and_then(|f| f.address.as_ref())),
        Field::Usage => front.and_then(|f| f.use_character.as_ref()).and_then(|u| {
            let code = u.usage.as_ref()?;
            let printed = if code.original_text.is_empty() {
                code.name_zh.clone()
            } else {
                code.original_text.clone()
            };
            (!printed.is_empty()).then_some(())?;
            reading(printed, u.reading.as_ref())
        }),
        Field::VehicleType => front.and_then(|f| f.vehicle_type.as_ref()).and_then(|t| {
            let printed = t
                .vehicle_type
                .as_ref()
                .map(|c| {
                    if c.original_text.is_empty() {
                        c.name_zh.clone()
                    } else {
                        c.original_text.clone()
                    }
                })
                .filter(|p| !p.is_empty())
                .or_else(|| t.reading.as_ref().map(|r| r.text.clone()))?;
            reading(printed, t.reading.as_ref())
        }),
        Field::FirstRegistrationDate => {
            front.and_then(|f| f.register_date.as_ref()).and_then(|d| {
                let date = d.date.as_ref().filter(|d| !d.value.is_empty())?;
                reading(date.value.clone(), d.reading.as_ref())
            })
        }
        _ => None,
    };
    one.into_iter().collect()
}

/// What the licence photo states about an integer field (核定载人数, on the back).
fn int_from_license(read: Option<&RecognizeVehicleLicenseResponse>, field: Field) -> Said<i32> {
    let seats = read
        .and_then(|r| r.back.as_ref())
        .and_then(|b| b.approved_passengers.as_ref())
        .filter(|c| c.value > 0 && field == Field::Seats);
    seats
        .and_then(|c| reading(c.value, c.reading.as_ref()))
        .into_iter()
        .collect()
}

/// Whether the licence photo states `field` (so that nobody pays to be told it again).
pub fn license_states(read: &RecognizeVehicleLicenseResponse, field: Field) -> bool {
    !from_license(Some(read), field).is_empty() || !int_from_license(Some(read), field).is_empty()
}

/// The VIN the photo showed, when it passes the local rules.
fn license_vin(read: Option<&RecognizeVehicleLicenseResponse>) -> Option<String> {
    from_license(read, Field::Vin)
        .into_iter()
        .find(|(s, adm)| *adm == Admission::Admissible && !is_masked(&s.value))
        .map(|(s, _)| domain::vin::normalize(&s.value))
}

/// The downstream reason an alternative was ruled out, as an admission.
fn admission_of(rejected_reason: &str) -> Admission {
    match rejected_reason {
        "" => Admission::Admissible,
        "VIN_INVALID" => Admission::Rejected("VIN_INVALID"),
        "OTHER_VEHICLE" => Admission::Demoted("OTHER_VEHICLE"),
        _ => Admission::Demoted("RULED_OUT_DOWNSTREAM"),
    }
}

/// A downstream fact of any kind: its chosen value and its alternatives.
trait Fact {
    type V: Clone + PartialEq;
    fn chosen(&self) -> Option<(Self::V, Option<&Provenance>, f32)>;
    fn alternatives(&self) -> &[Alternative];
    /// An alternative's text read back as a value.
    fn read(text: &str) -> Option<Self::V>;
}

macro_rules! text_fact {
    ($t:ty) => {
        impl Fact for $t {
            type V = String;
            fn chosen(&self) -> Option<(String, Option<&Provenance>, f32)> {
                Some((
                    self.value.clone(),
                    self.provenance.as_ref(),
                    self.confidence,
                ))
            }
            fn alternatives(&self) -> &[Alternative] {
                &self.alternatives
            }
            fn read(text: &str) -> Option<String> {
                Some(text.to_owned())
            }
        }
    };
}
text_fact!(StringFact);
text_fact!(DateFact);

impl Fact for Int32Fact {
    type V = i32;
    fn chosen(&self) -> Option<(i32, Option<&Provenance>, f32)> {
        Some((self.value, self.provenance.as_ref(), self.confidence))
    }
    fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }
    fn read(text: &str) -> Option<i32> {
        text.trim().parse().ok()
    }
}

impl Fact for BoolFact {
    type V = bool;
    fn chosen(&self) -> Option<(bool, Option<&Provenance>, f32)> {
        Some((self.value, self.provenance.as_ref(), self.confidence))
    }
    fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }
    fn read(text: &str) -> Option<bool> {
        text.trim().parse().ok()
    }
}

impl Fact for MoneyFact {
    type V = Money;
    fn chosen(&self) -> Option<(Money, Option<&Provenance>, f32)> {
        Some((
            self.value.clone()?,
            self.provenance.as_ref(),
            self.confidence,
        ))
    }
    fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }
    /// "CNY 129900.00", as `facts::money::display` renders it.
    fn read(text: &str) -> Option<Money> {
        let (currency, amount) = text.trim().split_once(' ')?;
        let amount: f64 = amount.trim().parse().ok()?;
        Some(facts::money::from_decimal(currency, amount))
    }
}

/// Adds what `fact` states (chosen value and alternatives); `demote` marks every
/// statement of an answer that describes another vehicle.
fn add<F: Fact>(out: &mut Said<F::V>, fact: Option<&F>, demote: Option<&'static str>) {
    let Some(fact) = fact else { return };
    let mut push = |value: F::V, provenance: Provenance, conf: f32, adm: Admission| {
        let adm = match (adm, demote) {
            (Admission::Admissible, Some(why)) => Admission::Demoted(why),
            (a, _) => a,
        };
        // The same source saying the same thing through two services is one statement.
        if let Some(existing) = out
            .iter_mut()
            .find(|(s, _)| s.provenance.source == provenance.source && s.value == value)
        {
            if conf > existing.0.confidence {
                existing.0.confidence = conf;
            }
            return;
        }
        out.push((Stated::new(value, provenance, conf), adm));
    };
    if let Some((value, provenance, conf)) = fact.chosen() {
        let provenance = provenance.cloned().unwrap_or_default();
        if !provenance.source.is_empty() {
            push(value, provenance, conf, Admission::Admissible);
        }
    }
    for a in fact.alternatives() {
        let provenance = a.provenance.clone().unwrap_or_default();
        if provenance.source.is_empty() {
            continue;
        }
        if let Some(v) = F::read(&a.value) {
            push(
                v,
                provenance,
                a.confidence,
                admission_of(&a.rejected_reason),
            );
        }
    }
}

fn split<V: Clone + PartialEq>(
    said: Said<V>,
) -> (Vec<Stated<V>>, impl Fn(&Stated<V>) -> Admission) {
    let stated = said.iter().map(|(s, _)| s.clone()).collect();
    let admission = move |s: &Stated<V>| {
        said.iter()
            .find(|(x, _)| x.provenance.source == s.provenance.source && x.value == s.value)
            .map_or(Admission::Admissible, |(_, a)| *a)
    };
    (stated, admission)
}

fn request_provenance(rule: &str, now: SystemTime) -> Provenance {
    Provenance {
        source: REQUEST.to_owned(),
        local: true,
        rule: rule.to_owned(),
        fetched_at: Some(now.into()),
        ..Provenance::default()
    }
}

fn local_provenance(rule: &str, now: SystemTime) -> Provenance {
    Provenance {
        source: LOCAL.to_owned(),
        local: true,
        rule: rule.to_owned(),
        fetched_at: Some(now.into()),
        ..Provenance::default()
    }
}

/// Builds the profile of the `wanted` fields from `answers`.
pub fn build(
    policy: &MergePolicy,
    known: &Known,
    wanted: Fields,
    answers: &Answers,
    privacy: &Privacy,
    now: SystemTime,
) -> (VehicleProfile, Vec<Disagreement>) {
    let mut b = Facts::new(policy);
    let mut p = VehicleProfile::default();
    let summary = answers.decode_vin.as_ref().and_then(|d| d.summary.as_ref());
    let lookup = answers.lookup.as_ref();
    let license = answers.license.as_ref();
    // A lookup whose VIN is not the one asked about (given, or shown on the photo)
    // describes another vehicle (a fuzzy match on the vendor's side): its statements
    // rank after every admissible one.
    let asked_vin = known.vin.clone().or_else(|| license_vin(license));
    let other_vehicle = match (asked_vin.as_deref(), lookup.and_then(vin_found)) {
        (Some(asked), Some(found)) if asked != found => Some("OTHER_VEHICLE"),
        _ => None,
    };
    let details = lookup.and_then(|l| l.details.as_ref());
    let want = |f: Field| wanted.contains(f);

    if want(Field::Vin) {
        let mut said: Said<String> = Vec::new();
        if let Some(v) = &known.vin {
            said.push((
                Stated::new(v.clone(), request_provenance("subject", now), 1.0),
                Admission::Admissible,
            ));
        }
        let mut from_lookup: Said<String> = Vec::new();
        add(&mut from_lookup, lookup.and_then(|l| l.vin.as_ref()), None);
        for (mut s, adm) in from_lookup {
            // A VIN plate-service masked can only agree with the one asked about.
            if is_masked(&s.value)
                && let Some(v) = &known.vin
                && domain::pii::mask_vin(v) == s.value
            {
                s.value.clone_from(v);
            }
            let adm = if is_masked(&s.value) {
                adm
            } else if domain::vin::validate(&s.value, kit::clock::current_year()).valid {
                Admission::Admissible
            } else {
                Admission::Rejected("VIN_INVALID")
            };
            said.push((s, adm));
        }
        said.extend(from_license(license, Field::Vin));
        let (stated, admission) = split(said);
        p.vin = b.text_with("vin", stated, admission);
    }
    if want(Field::VinValid) {
        p.vin_valid = match &p.vin {
            Some(v) if !is_masked(&v.value) => {
                Some(domain::vin::validate(&v.value, kit::clock::current_year()).valid)
            }
            Some(_) => lookup.and_then(|l| l.vin_valid),
            None => known.vin.as_ref().map(|_| true),
        };
    }
    if want(Field::Plate) {
        let mut said: Said<String> = Vec::new();
        if let Some(plate) = &known.plate {
            said.push((
                Stated::new(plate.clone(), request_provenance("subject", now), 1.0),
                Admission::Admissible,
            ));
        }
        said.extend(from_license(license, Field::Plate));
        let (stated, admission) = split(said);
        p.plate = b.text_with("plate", stated, admission);
    }
    if want(Field::PlateType) {
        p.plate_type = plate_type(known, answers.parse_plate.as_ref(), now);
    }
    if want(Field::IssuingAuthority) {
        p.issuing_authority = answers
            .parse_plate
            .as_ref()
            .and_then(|r| r.issuing_authority.clone());
    }
    if want(Field::EngineNumber) {
        let mut said: Said<String> = Vec::new();
        if let Some(e) = &known.engine_number {
            said.push((
                Stated::new(e.clone(), request_provenance("hint", now), 1.0),
                Admission::Admissible,
            ));
        }
        add(
            &mut said,
            lookup.and_then(|l| l.engine_number.as_ref()),
            other_vehicle,
        );
        said.extend(from_license(license, Field::EngineNumber));
        let (stated, admission) = split(said);
        p.engine_number = b.text_with("engine_number", stated, admission);
    }

    // Names in a source's own words.
    let names: [(Field, Option<&StringFact>, Option<&StringFact>); 6] = [
        (
            Field::Brand,
            summary.and_then(|s| s.brand.as_ref()),
            lookup.and_then(|l| l.brand.as_ref()),
        ),
        (
            Field::Model,
            summary.and_then(|s| s.model_name.as_ref()),
            lookup.and_then(|l| l.model.as_ref()),
        ),
        (Field::Series, summary.and_then(|s| s.series.as_ref()), None),
        (
            Field::EngineModel,
            summary.and_then(|s| s.engine_model.as_ref()),
            details.and_then(|d| d.engine_model.as_ref()),
        ),
        (
            Field::BodyType,
            summary.and_then(|s| s.body_type.as_ref()),
            None,
        ),
        (
            Field::DriveMode,
            summary.and_then(|s| s.drive_mode.as_ref()),
            None,
        ),
    ];
    for (field, by_vin, by_plate) in names {
        if !want(field) {
            continue;
        }
        let mut said: Said<String> = Vec::new();
        add(&mut said, by_vin, None);
        add(&mut said, by_plate, other_vehicle);
        said.extend(from_license(license, field));
        let fact = name_with(&mut b, field.name(), said);
        match field {
            Field::Brand => p.brand = fact,
            Field::Model => p.model = fact,
            Field::Series => p.series = fact,
            Field::EngineModel => p.engine_model = fact,
            Field::BodyType => p.body_type = fact,
            _ => p.drive_mode = fact,
        }
    }

    // Plain texts.
    let texts: [(Field, Option<&StringFact>, Option<&StringFact>); 4] = [
        (
            Field::FuelType,
            summary.and_then(|s| s.fuel_type.as_ref()),
            details.and_then(|d| d.fuel_type.as_ref()),
        ),
        (
            Field::Transmission,
            summary.and_then(|s| s.transmission.as_ref()),
            details.and_then(|d| d.transmission.as_ref()),
        ),
        (
            Field::EmissionStandard,
            summary.and_then(|s| s.emission_standard.as_ref()),
            lookup.and_then(|l| l.emission_standard.as_ref()),
        ),
        (
            Field::BodyColor,
            None,
            lookup.and_then(|l| l.body_color.as_ref()),
        ),
    ];
    for (field, by_vin, by_plate) in texts {
        if !want(field) {
            continue;
        }
        let mut said: Said<String> = Vec::new();
        add(&mut said, by_vin, None);
        add(&mut said, by_plate, other_vehicle);
        said.extend(from_license(license, field));
        let (stated, admission) = split(said);
        let fact = b.text_with(field.name(), stated, admission);
        match field {
            Field::FuelType => p.fuel_type = fact,
            Field::Transmission => p.transmission = fact,
            Field::EmissionStandard => p.emission_standard = fact,
            _ => p.body_color = fact,
        }
    }

    // What the VIN encodes: the decode's summary already holds the local reading when it
    // answered; ValidateVin's is used alone when it did not.
    let validate = answers.validate_vin.as_ref().filter(|_| summary.is_none());
    if want(Field::Manufacturer) {
        let mut said: Said<String> = Vec::new();
        add(
            &mut said,
            summary.and_then(|s| s.manufacturer.as_ref()),
            None,
        );
        if let Some(m) = validate.and_then(|v| v.manufacturer.as_ref()) {
            let name = if m.name_zh.is_empty() {
                &m.name
            } else {
                &m.name_zh
            };
            let provenance = m
                .provenance
                .clone()
                .unwrap_or_else(|| local_provenance("wmi", now));
            said.push((
                Stated::new(name.clone(), provenance, confidence::LOCAL_REGISTER),
                Admission::Admissible,
            ));
        }
        p.manufacturer = name_with(&mut b, "manufacturer", said);
    }
    if want(Field::ModelYear) {
        let mut said: Said<i32> = Vec::new();
        add(&mut said, summary.and_then(|s| s.model_year.as_ref()), None);
        if let Some(v) = validate
            && let Some(y) = &v.model_year
        {
            let mandated = v.check_digit.as_ref().is_some_and(|c| c.mandatory);
            let conf = if y.basis == ModelYearBasis::Position7 as i32 {
                confidence::LOCAL_RULE
            } else if mandated {
                confidence::LOCAL_MANDATED_YEAR
            } else {
                confidence::LOCAL_GUESSED_YEAR
            };
            said.push((
                Stated::new(y.year, local_provenance("iso3779-model-year", now), conf),
                Admission::Admissible,
            ));
        }
        let (stated, admission) = split(said);
        p.model_year = b.int_with("model_year", stated, admission);
    }
    if want(Field::Country) {
        let mut said: Said<String> = Vec::new();
        add(&mut said, summary.and_then(|s| s.country.as_ref()), None);
        if let Some(c) = validate.and_then(|v| v.country.as_ref()) {
            said.push((
                Stated::new(
                    c.code.clone(),
                    local_provenance("iso3780-wmi-country", now),
                    confidence::LOCAL_RULE,
                ),
                Admission::Admissible,
            ));
        }
        let (stated, admission) = split(said);
        p.country = b.text_with("country", stated, admission);
    }

    let ints: [(Field, Option<&Int32Fact>, Option<&Int32Fact>); 2] = [
        (
            Field::DisplacementMl,
            summary.and_then(|s| s.displacement_ml.as_ref()),
            None,
        ),
        (
            Field::Seats,
            summary.and_then(|s| s.seats.as_ref()),
            lookup.and_then(|l| l.approved_passengers.as_ref()),
        ),
    ];
    for (field, by_vin, by_plate) in ints {
        if !want(field) {
            continue;
        }
        let mut said: Said<i32> = Vec::new();
        add(&mut said, by_vin, None);
        add(&mut said, by_plate, other_vehicle);
        said.extend(int_from_license(license, field));
        let (stated, admission) = split(said);
        let fact = b.int_with(field.name(), stated, admission);
        match field {
            Field::DisplacementMl => p.displacement_ml = fact,
            _ => p.seats = fact,
        }
    }

    let dates: [(Field, Option<&DateFact>, Option<&DateFact>); 4] = [
        (
            Field::FirstRegistrationDate,
            None,
            lookup.and_then(|l| l.first_registration_date.as_ref()),
        ),
        (
            Field::ProductionDate,
            None,
            lookup.and_then(|l| l.production_date.as_ref()),
        ),
        (
            Field::InsuranceExpiryDate,
            None,
            lookup.and_then(|l| l.insurance_expiry_date.as_ref()),
        ),
        (
            Field::LaunchDate,
            summary.and_then(|s| s.launch_date.as_ref()),
            details.and_then(|d| d.market_launch_date.as_ref()),
        ),
    ];
    for (field, by_vin, by_plate) in dates {
        if !want(field) {
            continue;
        }
        let mut said: Said<String> = Vec::new();
        add(&mut said, by_vin, None);
        add(&mut said, by_plate, other_vehicle);
        said.extend(from_license(license, field));
        let (stated, admission) = split(said);
        let fact = b.date_with(field.name(), stated, admission);
        match field {
            Field::FirstRegistrationDate => p.first_registration_date = fact,
            Field::ProductionDate => p.production_date = fact,
            Field::InsuranceExpiryDate => p.insurance_expiry_date = fact,
            _ => p.launch_date = fact,
        }
    }

    if want(Field::Msrp) {
        let mut said: Said<Money> = Vec::new();
        add(&mut said, summary.and_then(|s| s.msrp.as_ref()), None);
        add(
            &mut said,
            details.and_then(|d| d.guide_price.as_ref()),
            other_vehicle,
        );
        // facts' money merge has no admission: a demoted price simply ranks by source.
        let stated = said.into_iter().map(|(s, _)| s).collect();
        p.msrp = b.money("msrp", stated);
    }
    if want(Field::IsImport) {
        let mut said: Said<bool> = Vec::new();
        add(&mut said, summary.and_then(|s| s.is_import.as_ref()), None);
        let stated = said.into_iter().map(|(s, _)| s).collect();
        p.is_import = b.boolean("is_import", stated);
    }
    if want(Field::Usage) {
        let mut said: Said<String> = Vec::new();
        if let Some(u) = lookup.and_then(|l| l.usage.as_ref()) {
            let as_fact = StringFact {
                value: u.original_text.clone(),
                confidence: u.confidence,
                provenance: u.provenance.clone(),
                alternatives: u
                    .alternatives
                    .iter()
                    .map(|a| Alternative {
                        value: a.original_text.clone(),
                        provenance: a.provenance.clone(),
                        confidence: a.confidence,
                        rejected_reason: String::new(),
                    })
                    .collect(),
            };
            add(&mut said, Some(&as_fact), other_vehicle);
        }
        said.extend(from_license(license, Field::Usage));
        let (stated, admission) = split(said);
        p.usage = b
            .text_by("usage", stated, admission, agreement::same_usage)
            .map(facts::codes::usage);
    }
    if want(Field::VehicleType) {
        let mut said: Said<String> = Vec::new();
        add(
            &mut said,
            lookup.and_then(|l| l.vehicle_type.as_ref()),
            other_vehicle,
        );
        said.extend(from_license(license, Field::VehicleType));
        let (stated, admission) = split(said);
        p.vehicle_type = b
            .text_by(
                "vehicle_type",
                stated,
                admission,
                agreement::same_vehicle_type,
            )
            .as_ref()
            .and_then(facts::codes::vehicle_type);
    }
    if want(Field::Violations) {
        p.violations = answers.violations.as_ref().map(violations_summary);
    }
    // The owner: on the licence only, masked by ocr-service per its privacy settings
    // (the internal token reveals identifiers, never the owner).
    for field in [Field::OwnerName, Field::OwnerAddress] {
        if !want(field) {
            continue;
        }
        let (stated, admission) = split(from_license(license, field));
        let fact = b.text_with(field.name(), stated, admission);
        match field {
            Field::OwnerName => p.owner_name = fact,
            _ => p.owner_address = fact,
        }
    }

    let mut disagreements = b.into_disagreements();
    apply_privacy(&mut p, &mut disagreements, privacy);
    (p, disagreements)
}

fn name_with(b: &mut Facts<'_>, field: &str, said: Said<String>) -> Option<StringFact> {
    // Names compare only within one script (facts::Facts::name); the admission of a
    // demoted answer still applies.
    if said.iter().all(|(_, a)| *a == Admission::Admissible) {
        let stated = said.into_iter().map(|(s, _)| s).collect();
        return b.name(field, stated);
    }
    let (stated, admission) = split(said);
    b.text_with(field, stated, admission)
}

fn plate_type(
    known: &Known,
    parse: Option<&ParsePlateResponse>,
    now: SystemTime,
) -> Option<PlateTypeFact> {
    let decided = parse.and_then(|r| r.plate_type.clone());
    let candidates: Vec<PlateType> = parse
        .map(|r| r.plate_type_candidates.clone())
        .unwrap_or_default();
    let rule = local_provenance("ga36-plate-rules", now);
    let hinted = known
        .plate_type
        .as_deref()
        .and_then(domain::plate::plate_type)
        .map(|t| PlateType {
            code: t.code.to_owned(),
            name_zh: t.name_zh.to_owned(),
            name: t.name.to_owned(),
        });
    let alternatives = |chosen: &str| -> Vec<Alternative> {
        candidates
            .iter()
            .filter(|c| c.code != chosen)
            .map(|c| Alternative {
                value: c.code.clone(),
                provenance: Some(rule.clone()),
                confidence: 0.0,
                rejected_reason: String::new(),
            })
            .collect()
    };
    match (decided, hinted) {
        (Some(t), _) => Some(PlateTypeFact {
            alternatives: Vec::new(),
            value: Some(t),
            confidence: 1.0,
            provenance: Some(rule.clone()),
        }),
        (None, Some(t)) => Some(PlateTypeFact {
            alternatives: alternatives(&t.code),
            confidence: confidence::LOCAL_RULE,
            provenance: Some(request_provenance("hint", now)),
            value: Some(t),
        }),
        (None, None) if !candidates.is_empty() => Some(PlateTypeFact {
            alternatives: alternatives(""),
            value: None,
            confidence: 0.0,
            provenance: Some(rule.clone()),
        }),
        (None, None) => None,
    }
}

fn violations_summary(r: &QueryViolationsResponse) -> ViolationsSummary {
    let unhandled = r
        .violations
        .iter()
        .filter(|v| {
            matches!(
                HandlingState::try_from(v.handling),
                Ok(HandlingState::Unhandled | HandlingState::HandledUnpaid)
            )
        })
        .count();
    ViolationsSummary {
        outcome: r.outcome,
        count: r.violation_count,
        total_points: r.total_points,
        total_fine: r.total_fine.clone(),
        unhandled: i32::try_from(unhandled).unwrap_or(i32::MAX),
        as_of: r.as_of,
        // The records' own provenance; with no records ("no violations"), the vendor
        // that answered.
        provenance: r
            .violations
            .iter()
            .find_map(|v| v.provenance.clone())
            .or_else(|| {
                r.sources
                    .iter()
                    .find(|s| {
                        s.state == contracts::axle::common::v1::SourceState::Ok as i32
                            && s.source != LOCAL
                    })
                    .map(|s| Provenance {
                        source: s.source.clone(),
                        sandbox: s.sandbox,
                        cost: s.cost.clone(),
                        ..Provenance::default()
                    })
            }),
    }
}

/// VINs and engine numbers masked unless the deployment reveals them, in the facts and
/// in the disagreements alike.
fn apply_privacy(p: &mut VehicleProfile, d: &mut [Disagreement], privacy: &Privacy) {
    if !privacy.reveal_full_vin {
        facts::mask::mask_field(p.vin.as_mut(), d, "vin", |v| {
            if is_masked(v) {
                v.to_owned()
            } else {
                domain::pii::mask_vin(&domain::vin::normalize(v))
            }
        });
    }
    if !privacy.reveal_engine_number {
        facts::mask::mask_field(p.engine_number.as_mut(), d, "engine_number", |v| {
            if is_masked(v) {
                v.to_owned()
            } else {
                domain::pii::mask_tail4(v)
            }
        });
    }
}

#[cfg(test)]
mod tests;
