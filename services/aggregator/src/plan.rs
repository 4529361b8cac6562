//! What to call, and when, for one request: a pure function of what is known and what
//! is wanted, so that "who gets paid for this?" is decided (and tested) without any I/O.
//!
//! * Free, local steps (ParsePlate, ValidateVin) come first and never wait for a vendor.
//! * A paid step is planned only when it supplies a wanted field that nothing planned
//!   before it (or the request itself) already supplies: nobody pays for what they did
//!   not ask for, and a known VIN saves the plate lookup's paid VIN.
//! * A step that needs the VIN when only the plate is known waits for LookupVehicle
//!   ([`Start::AfterLookup`]).
//! * A 行驶证 photo is read first (Recognize, ocr-service): until it is read nothing is
//!   known, so the plan of a photo is that one step, and the rest is planned by the same
//!   function from what the photo showed ([`Known::read`] marks the fields it stated,
//!   so nobody pays a vendor for what the licence already says).
//! * Violations are planned only when included and the plate's city rule
//!   (`domain::violation`) can be met from what is known, or from what the lookup
//!   supplies (engine number, VIN): otherwise the step is reported, not called.

use std::time::{Duration, Instant};

use domain::violation::{Field as RuleField, LookupError, RuleTable};

use crate::fields::{Field, Fields};

/// One downstream RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// plate-service ParsePlate: local, free.
    ParsePlate,
    /// vin-service ValidateVin: local, free.
    ValidateVin,
    /// plate-service LookupVehicle: plate vendors, paid.
    LookupVehicle,
    /// vin-service DecodeVin: VIN vendors, paid.
    DecodeVin,
    /// violation-service QueryViolations: violation vendors, paid.
    QueryViolations,
    /// ocr-service RecognizeVehicleLicense: a 行驶证 photo read by the in-process engine
    /// (free) or, when ocr-service falls back to it, its vendor (paid).
    Recognize,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Recognize,
        Step::ParsePlate,
        Step::ValidateVin,
        Step::LookupVehicle,
        Step::DecodeVin,
        Step::QueryViolations,
    ];

    /// The RPC's name, as in metrics and messages.
    pub fn rpc(self) -> &'static str {
        match self {
            Step::ParsePlate => "ParsePlate",
            Step::ValidateVin => "ValidateVin",
            Step::LookupVehicle => "LookupVehicle",
            Step::DecodeVin => "DecodeVin",
            Step::QueryViolations => "QueryViolations",
            Step::Recognize => "RecognizeVehicleLicense",
        }
    }

    /// The service that answers it (the `source` of its status).
    pub fn service(self) -> Service {
        match self {
            Step::ParsePlate | Step::LookupVehicle => Service::Plate,
            Step::ValidateVin | Step::DecodeVin => Service::Vin,
            Step::QueryViolations => Service::Violation,
            Step::Recognize => Service::Ocr,
        }
    }

    /// Whether the step calls vendors (costs money).
    pub fn paid(self) -> bool {
        matches!(
            self,
            Step::LookupVehicle | Step::DecodeVin | Step::QueryViolations | Step::Recognize
        )
    }

    /// Whether the step needs the VIN.
    fn needs_vin(self) -> bool {
        matches!(self, Step::ValidateVin | Step::DecodeVin)
    }

    /// The profile fields the step's answer can state.
    pub fn supplies(self) -> Fields {
        use Field as F;
        match self {
            Step::ParsePlate => Fields::of(&[F::Plate, F::PlateType, F::IssuingAuthority]),
            Step::ValidateVin => Fields::of(&[
                F::Vin,
                F::VinValid,
                F::Manufacturer,
                F::ModelYear,
                F::Country,
            ]),
            Step::DecodeVin => Fields::of(&[
                F::Vin,
                F::VinValid,
                F::Brand,
                F::Manufacturer,
                F::Model,
                F::Series,
                F::ModelYear,
                F::Country,
                F::BodyType,
                F::EngineModel,
                F::DisplacementMl,
                F::FuelType,
                F::Transmission,
                F::DriveMode,
                F::Seats,
                F::Msrp,
                F::IsImport,
                F::EmissionStandard,
                F::LaunchDate,
            ]),
            Step::LookupVehicle => Fields::of(&[
                F::Vin,
                F::VinValid,
                F::EngineNumber,
                F::Brand,
                F::Model,
                F::EngineModel,
                F::FuelType,
                F::Transmission,
                F::Seats,
                F::BodyColor,
                F::Usage,
                F::VehicleType,
                F::FirstRegistrationDate,
                F::Msrp,
                F::EmissionStandard,
                F::ProductionDate,
                F::InsuranceExpiryDate,
                F::LaunchDate,
            ]),
            Step::QueryViolations => Fields::of(&[F::Violations]),
            Step::Recognize => Fields::of(&[
                F::Vin,
                F::Plate,
                F::EngineNumber,
                F::Brand,
                F::Model,
                F::FuelType,
                F::Seats,
                F::Usage,
                F::VehicleType,
                F::FirstRegistrationDate,
                F::OwnerName,
                F::OwnerAddress,
            ]),
        }
    }
}

/// A downstream Axle service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Vin,
    Plate,
    Violation,
    Ocr,
}

impl Service {
    /// The name its statuses carry (`SourceStatus.source`, and `via` of its vendors).
    pub fn name(self) -> &'static str {
        match self {
            Service::Vin => "vin-service",
            Service::Plate => "plate-service",
            Service::Violation => "violation-service",
            Service::Ocr => "ocr-service",
        }
    }
}

/// What the request itself says (subject and hints), already checked by the local rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The plate, normalised; only a plate that parses.
    pub plate: Option<String>,
    /// 号牌种类 code, from the hint or decided by the plate (and colour).
    pub plate_type: Option<String>,
    /// The VIN, normalised; only one that passes the local rules.
    pub vin: Option<String>,
    /// The engine number as given.
    pub engine_number: Option<String>,
    /// The subject is a photo not read yet: the plan is to read it.
    pub photo: bool,
    /// Fields a source already stated before the plan (the photo's), besides the above.
    pub read: Fields,
}

impl Known {
    /// The fields the request states by itself.
    fn fields(&self) -> Fields {
        let mut f = self.read;
        if self.plate.is_some() {
            f.insert(Field::Plate);
        }
        if self.vin.is_some() {
            f.insert(Field::Vin);
        }
        if self.engine_number.is_some() {
            f.insert(Field::EngineNumber);
        }
        f
    }
}

/// When a planned step may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At once.
    Now,
    /// When LookupVehicle has answered (it supplies the VIN or the engine number the
    /// step needs); not at all when it supplies nothing usable.
    AfterLookup,
}

/// One planned call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub step: Step,
    pub start: Start,
}

/// A step that was considered for a wanted field and will not be called, with the
/// reason (UPPER_SNAKE_CASE) and what to do about it, reported as SKIPPED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPlanned {
    pub step: Step,
    pub reason: &'static str,
    pub message: String,
}

/// The plan of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free steps first, then paid ones in the order they are worth paying for.
    pub steps: Vec<Planned>,
    pub not_planned: Vec<NotPlanned>,
}

impl Plan {
    pub fn get(&self, step: Step) -> Option<Planned> {
        self.steps.iter().copied().find(|p| p.step == step)
    }

    pub fn has(&self, step: Step) -> bool {
        self.get(step).is_some()
    }

    /// True when some step waits for LookupVehicle.
    pub fn chained(&self) -> bool {
        self.steps.iter().any(|p| p.start == Start::AfterLookup)
    }

    fn add(&mut self, step: Step, start: Start) {
        if !self.has(step) {
            self.steps.push(Planned { step, start });
        }
    }

    /// The fields the planned steps can state.
    pub fn supplies(&self) -> Fields {
        self.steps
            .iter()
            .fold(Fields::EMPTY, |acc, p| acc.union(p.step.supplies()))
    }
}

/// Plans a request that knows `known` and wants `wanted`; `rules` is the violation
/// city-rule table.
pub fn plan(known: &Known, wanted: Fields, rules: &RuleTable) -> Plan {
    let mut plan = Plan::default();
    if known.photo {
        // Everything else depends on what the photo shows: planned when it is read.
        plan.add(Step::Recognize, Start::Now);
        return plan;
    }
    let mut covered = known.fields();
    let vin_known = known.vin.is_some();
    let plate_known = known.plate.is_some();

    // Free steps: at once, whatever else is planned.
    if plate_known
        && wanted
            .minus(covered)
            .intersects(Step::ParsePlate.supplies())
    {
        plan.add(Step::ParsePlate, Start::Now);
        covered = covered.union(Step::ParsePlate.supplies());
    }
    if vin_known
        && wanted
            .minus(covered)
            .intersects(Step::ValidateVin.supplies())
    {
        plan.add(Step::ValidateVin, Start::Now);
        covered = covered.union(Step::ValidateVin.supplies());
    }

    // Paid steps, the one that can start at once first: with a VIN, the VIN vendors
    // describe the vehicle (they are the catalogue); with a plate only, the lookup must
    // come first anyway, as it finds the VIN.
    let paid_order = if vin_known {
        [Step::DecodeVin, Step::LookupVehicle]
    } else {
        [Step::LookupVehicle, Step::DecodeVin]
    };
    // A VIN-only field (the local VIN facts) with a plate alone: the lookup finds the VIN.
    let vin_local_wanted = wanted
        .minus(covered)
        .intersects(Step::ValidateVin.supplies());
    // With a plate alone, the local VIN facts come free once the lookup found the VIN:
    // they are no reason to pay the VIN vendors.
    let free_after_lookup = if !vin_known && plate_known && vin_local_wanted {
        Step::ValidateVin.supplies()
    } else {
        Fields::EMPTY
    };
    for step in paid_order {
        let open = match step {
            Step::DecodeVin => wanted.minus(covered).minus(free_after_lookup),
            _ => wanted.minus(covered),
        };
        let needed = open.intersects(step.supplies())
            || (step == Step::LookupVehicle && !vin_known && vin_local_wanted);
        if !needed {
            continue;
        }
        match step {
            Step::LookupVehicle if plate_known => plan.add(step, Start::Now),
            Step::DecodeVin if vin_known => plan.add(step, Start::Now),
            Step::DecodeVin if plate_known => {
                plan.add(Step::LookupVehicle, Start::Now);
                plan.add(step, Start::AfterLookup);
            }
            // Nothing to ask with (a VIN subject without a plate: no lookup).
            _ => continue,
        }
        covered = covered.union(step.supplies());
    }
    // The local VIN facts of a VIN found by the lookup: free, and they do not wait for
    // the VIN vendors (which may be late).
    if !vin_known
        && plan.has(Step::LookupVehicle)
        && (vin_local_wanted || plan.has(Step::DecodeVin))
    {
        plan.add(Step::ValidateVin, Start::AfterLookup);
    }

    if wanted.contains(Field::Violations) {
        plan_violations(&mut plan, known, rules);
    }
    // Steps that need the VIN never start before the VIN is known.
    debug_assert!(
        plan.steps
            .iter()
            .all(|p| vin_known || !p.step.needs_vin() || p.start == Start::AfterLookup)
    );
    plan
}

fn plan_violations(plan: &mut Plan, known: &Known, rules: &RuleTable) {
    let step = Step::QueryViolations;
    let mut skip = |reason: &'static str, message: String| {
        plan.not_planned.push(NotPlanned {
            step,
            reason,
            message,
        });
    };
    let Some(plate) = &known.plate else {
        skip(
            "PLATE_NEEDED",
            "a violation query needs the plate: give it as hints.plate".to_owned(),
        );
        return;
    };
    let found = match rules.for_plate(plate, known.plate_type.as_deref()) {
        Ok(found) => found,
        Err(e @ LookupError::NotCovered { .. }) => {
            skip("PLATE_NOT_COVERED", e.to_string());
            return;
        }
        Err(e) => {
            skip("CITY_RULE_UNKNOWN", e.to_string());
            return;
        }
    };
    // An ordinary plate is small (02) or large (01) by its colour: the register is
    // searched by type, so a query without it cannot be answered.
    if found.plate_type.is_none() {
        skip(
            "PLATE_TYPE_NEEDED",
            format!(
                "{plate} may be more than one 号牌种类: give hints.plate_color (blue: 02, \
                 yellow: 01) or hints.plate_type"
            ),
        );
        return;
    }
    let engine = known.engine_number.as_deref().unwrap_or_default();
    let vin = known.vin.as_deref().unwrap_or_default();
    match domain::violation::check(&found.rule, engine, vin) {
        Ok(_) => plan.add(step, Start::Now),
        Err(missing) => {
            // The plate vendors state the engine number and the VIN: when the lookup can
            // be asked, the rule is checked again with what it found.
            let lookup_can_supply = missing
                .iter()
                .all(|m| matches!(m.field, RuleField::EngineNumber | RuleField::Vin));
            if lookup_can_supply {
                plan.add(Step::LookupVehicle, Start::Now);
                plan.add(step, Start::AfterLookup);
            } else {
                let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
                skip("CITY_RULE_UNMET", text.join("; "));
            }
        }
    }
}

/// How the request's deadline is shared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Kept back from the deadline for merging and answering, as a fraction of the
    /// whole time ...
    pub merge_reserve_fraction: f32,
    /// ... but at least this ...
    pub merge_reserve_min: Duration,
    /// ... and at most this.
    pub merge_reserve_max: Duration,
    /// In a chained plan (a step waits for LookupVehicle), the share of the time before
    /// the reserve that the lookup may use, so that the steps after it still get the rest.
    pub lookup_share: f32,
    /// With a photo, the share of that time reading it may use: the plate and VIN steps
    /// planned from what it shows get the rest.
    pub recognize_share: f32,
}

/// The instants a request's steps must finish by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Every step's answer must be in by then; what is left is for merging.
    pub steps: Instant,
    /// LookupVehicle's own deadline (earlier than `steps` when others wait for it).
    pub lookup: Instant,
    /// Recognize's own deadline (earlier than `steps`: the rest of the plan waits for it).
    pub recognize: Instant,
}

/// Splits the time from `now` to `deadline` across `plan`.
pub fn deadlines(plan: &Plan, now: Instant, deadline: Instant, timing: &Timing) -> Deadlines {
    let total = deadline.saturating_duration_since(now);
    let reserve = share(total, timing.merge_reserve_fraction)
        .clamp(timing.merge_reserve_min, timing.merge_reserve_max)
        .min(total);
    let steps = deadline.checked_sub(reserve).unwrap_or(now).max(now);
    split(plan, now, steps, timing)
}

/// Splits the time from `now` to `steps` (every step's answer in) across `plan`: also
/// the plan made from what a photo showed, in the time its reading left.
pub fn split(plan: &Plan, now: Instant, steps: Instant, timing: &Timing) -> Deadlines {
    let usable = steps.saturating_duration_since(now);
    let lookup = if plan.chained() {
        now + share(usable, timing.lookup_share)
    } else {
        steps
    };
    let recognize = if plan.has(Step::Recognize) {
        now + share(usable, timing.recognize_share)
    } else {
        steps
    };
    Deadlines {
        steps,
        lookup,
        recognize,
    }
}

/// `fraction` (clamped to 0..=1) of `d`, to the microsecond: configured fractions are
/// f32, whose rounding would otherwise show as stray nanoseconds.
fn share(d: Duration, fraction: f32) -> Duration {
    let f = f64::from(fraction.clamp(0.0, 1.0));
    // Precision: durations here are seconds, far below 2^52 microseconds; the product is
    // non-negative and at most `d`.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let micros = (d.as_micros() as f64 * f).round() as u64;
    Duration::from_micros(micros).min(d)
}

#[cfg(test)]
mod tests;
