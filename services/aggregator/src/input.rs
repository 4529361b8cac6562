//! The request, checked by the local rules before anything is asked: what is known, what
//! is wanted, what may be spent and whose word counts first. Anything wrong is
//! INVALID_ARGUMENT naming the field, and nothing is paid.

use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{
    GetVehicleProfileRequest, Hints, LicenseImage, license_image,
};
use contracts::axle::common::v1::Money;
use contracts::axle::ocr::v1::{
    CrossCheckResult, LicenseSide, RecognizeVehicleLicenseRequest, RecognizeVehicleLicenseResponse,
    recognize_vehicle_license_request,
};
use contracts::axle::plate::v1::PlateColor;
use kit::error::FieldViolation;
use merge::MergePolicy;

use crate::error::AggError;
use crate::fields::{Fields, parse_include};
use crate::plan::{Known, Step};

/// The longest `license_image.image_url` accepted (ocr-service checks the rest: scheme,
/// address, size of what it points to).
const MAX_URL_CHARS: usize = 2048;

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub known: Known,
    pub wanted: Fields,
    /// The plate colour hint (proto value), passed on to plate-service.
    pub color: i32,
    /// The request's own cap, if any.
    pub spend_cap: Option<Money>,
    /// The merge policy with the request's preferred sources ranked first.
    pub policy: MergePolicy,
    pub attach_responses: bool,
    /// What the subject was, for the cache key and messages.
    pub by: By,
    /// The photo to read, when the subject is one (ocr-service's request).
    pub photo: Option<RecognizeVehicleLicenseRequest>,
}

/// The subject's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum By {
    Plate,
    Vin,
    Photo,
}

/// Checks `req` against the local rules; `policy` is the configured merge policy,
/// `max_chars` the longest input accepted, `sources` every source name a request may
/// prefer, `currency` the currency prices are in.
pub fn check(
    req: &GetVehicleProfileRequest,
    policy: &MergePolicy,
    max_chars: usize,
    sources: &[&str],
    currency: &str,
) -> Result<Input, AggError> {
    let hints = req.hints.clone().unwrap_or_default();
    let mut bad: Vec<FieldViolation> = Vec::new();
    let mut reason = "INVALID_REQUEST";
    let too_long = |field: &str, value: &str, bad: &mut Vec<FieldViolation>| {
        let n = value.chars().count();
        if n > max_chars {
            bad.push(violation(
                field,
                format!("is {n} characters long; at most {max_chars} are accepted"),
            ));
            true
        } else {
            false
        }
    };
    let color = hints.plate_color;
    let domain_color = match color_of(color) {
        Ok(c) => c,
        Err(()) => {
            bad.push(violation(
                "hints.plate_color",
                format!("{color} is not a PlateColor value"),
            ));
            None
        }
    };

    let mut known = Known::default();
    let mut photo = None;
    let by = match &req.subject {
        None => {
            return Err(AggError::invalid(
                "subject",
                "give a plate (e.g. \"粤B12345\"), a vin or a license_image",
                "INVALID_REQUEST",
            ));
        }
        Some(Subject::LicenseImage(img)) => {
            match license(img) {
                Ok(r) => photo = Some(r),
                Err(v) => {
                    reason = "INVALID_IMAGE";
                    bad.push(v);
                }
            }
            known.photo = true;
            By::Photo
        }
        Some(Subject::Plate(p)) => {
            if !too_long("plate", p, &mut bad) {
                match plate(p, domain_color) {
                    Ok((plate, ty)) => {
                        known.plate = Some(plate);
                        known.plate_type = ty;
                    }
                    Err(description) => {
                        reason = "INVALID_PLATE";
                        bad.push(violation("plate", description));
                    }
                }
            }
            By::Plate
        }
        Some(Subject::Vin(v)) => {
            if !too_long("vin", v, &mut bad) {
                match vin(v) {
                    Ok(v) => known.vin = Some(v),
                    Err(description) => {
                        reason = "INVALID_VIN";
                        bad.push(violation("vin", description));
                    }
                }
            }
            By::Vin
        }
    };
    check_hints(&hints, &mut known, domain_color, max_chars, &mut bad);

    let wanted = match parse_include(
        &req.include
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default(),
    ) {
        Ok(w) => w,
        Err(unknown) => {
            bad.push(violation(
                "include",
                format!(
                    "{} {} not a VehicleProfile field (e.g. \"vin\", \"usage\", \"msrp\", \"violations\")",
                    // Quoted and escaped as Debug does: a path is the caller's text, and
                    // its control characters must not reach a log line or a terminal raw.
                    unknown
                        .iter()
                        .map(|u| format!("{u:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if unknown.len() == 1 { "is" } else { "are" }
                ),
            ));
            Fields::EMPTY
        }
    };

    if let Some(cap) = &req.spend_cap {
        if cap.currency_code != currency {
            bad.push(violation(
                "spend_cap.currency_code",
                format!(
                    "must be {currency:?}, the currency vendors bill in, not {:?}",
                    cap.currency_code
                ),
            ));
        }
        if cap.units < 0 || cap.nanos < 0 || cap.nanos >= 1_000_000_000 {
            bad.push(violation(
                "spend_cap",
                "must be 0 or more, with nanos in 0..1e9".to_owned(),
            ));
        }
    }

    let mut preferred: Vec<String> = Vec::new();
    for (i, s) in req.prefer_sources.iter().enumerate() {
        let name = s.trim();
        if !sources.contains(&name) {
            bad.push(violation(
                &format!("prefer_sources[{i}]"),
                format!("{name:?} is not a source; known: {}", sources.join(", ")),
            ));
        } else if !preferred.iter().any(|p| p == name) {
            preferred.push(name.to_owned());
        }
    }

    if !bad.is_empty() {
        return Err(AggError::Invalid {
            violations: bad,
            reason,
        });
    }
    Ok(Input {
        known,
        wanted,
        color,
        spend_cap: req.spend_cap.clone(),
        policy: preferring(policy, &preferred),
        attach_responses: req.attach_responses,
        by,
        photo,
    })
}

/// ocr-service's request for the photo, or what is wrong with it.
fn license(img: &LicenseImage) -> Result<RecognizeVehicleLicenseRequest, FieldViolation> {
    use recognize_vehicle_license_request::Source;
    if LicenseSide::try_from(img.side).is_err() {
        return Err(violation(
            "license_image.side",
            format!(
                "{} is not a LicenseSide (0 to detect, 1 front, 2 back)",
                img.side
            ),
        ));
    }
    let source = match &img.source {
        None => {
            return Err(violation(
                "license_image.image",
                "give the photo: `image` (JPEG or PNG bytes) or `image_url`".to_owned(),
            ));
        }
        Some(license_image::Source::Image(b)) if b.is_empty() => {
            return Err(violation(
                "license_image.image",
                "is empty: give the JPEG or PNG bytes of the photo".to_owned(),
            ));
        }
        Some(license_image::Source::Image(b)) => Source::Image(b.clone()),
        Some(license_image::Source::ImageUrl(u)) => {
            let n = u.chars().count();
            if u.trim().is_empty() || n > MAX_URL_CHARS {
                return Err(violation(
                    "license_image.image_url",
                    format!(
                        "must be an http(s) URL of at most {MAX_URL_CHARS} characters, not {n}"
                    ),
                ));
            }
            Source::ImageUrl(u.trim().to_owned())
        }
    };
    Ok(RecognizeVehicleLicenseRequest {
        source: Some(source),
        side: img.side,
        other_side: None,
    })
}

/// What is known once the photo is read: the request's subject and hints first (the
/// caller's word; a disagreement with the photo shows in the profile), then the plate,
/// VIN and engine number the photo showed, each only when it passes the local rules (a
/// VIN whose check digit fails, even after ocr-service's corrections, is no VIN to pay a
/// vendor for). `read` marks every field the photo stated. Without an answer (the
/// photo could not be read), what the request gave alone.
pub fn with_license(
    known: &Known,
    read: Option<&RecognizeVehicleLicenseResponse>,
    color: i32,
) -> Known {
    let mut out = Known {
        photo: false,
        ..known.clone()
    };
    let Some(read) = read else { return out };
    let front = read.front.as_ref();
    let back = read.back.as_ref();
    let trusted = |f: Option<&contracts::axle::ocr::v1::TextField>| -> Option<String> {
        let f = f?;
        let failed = f
            .reading
            .as_ref()
            .and_then(|r| r.cross_check.as_ref())
            .is_some_and(|c| c.result == CrossCheckResult::CheckedFailed as i32);
        (!failed && !f.value.trim().is_empty() && !f.value.contains('*')).then(|| f.value.clone())
    };
    if out.plate.is_none() {
        let shown = trusted(front.and_then(|f| f.plate.as_ref()))
            .or_else(|| trusted(back.and_then(|b| b.plate.as_ref())));
        let domain_color = color_of(color).ok().flatten();
        if let Some(Ok((p, ty))) = shown.map(|p| plate(&p, domain_color)) {
            out.plate = Some(p);
            out.plate_type = out.plate_type.take().or(ty);
        }
    }
    if out.vin.is_none()
        && let Some(Ok(v)) = trusted(front.and_then(|f| f.vin.as_ref())).map(|v| vin(&v))
    {
        out.vin = Some(v);
    }
    if out.engine_number.is_none() {
        out.engine_number = trusted(front.and_then(|f| f.engine_number.as_ref()))
            .map(|e| domain::violation::normalize_number(&e))
            .filter(|e| !e.is_empty());
    }
    // The fields it stated: planned steps need not state them again.
    let mut stated = Fields::EMPTY;
    for f in crate::fields::Field::ALL {
        if Step::Recognize.supplies().contains(f) && crate::profile::license_states(read, f) {
            stated.insert(f);
        }
    }
    out.read = out.read.union(stated);
    out
}

fn violation(field: &str, description: String) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description,
        reason: String::new(),
    }
}

fn check_hints(
    hints: &Hints,
    known: &mut Known,
    color: Option<domain::plate::PlateColor>,
    max_chars: usize,
    bad: &mut Vec<FieldViolation>,
) {
    let long = |s: &str| s.chars().count() > max_chars;
    if !hints.vin.trim().is_empty() {
        if long(&hints.vin) {
            bad.push(violation(
                "hints.vin",
                format!("at most {max_chars} characters"),
            ));
        } else {
            match vin(&hints.vin) {
                Ok(v) => match &known.vin {
                    Some(subject) if *subject != v => bad.push(violation(
                        "hints.vin",
                        "differs from the vin asked about".to_owned(),
                    )),
                    _ => known.vin = Some(v),
                },
                Err(d) => bad.push(violation("hints.vin", d)),
            }
        }
    }
    if !hints.plate.trim().is_empty() {
        if long(&hints.plate) {
            bad.push(violation(
                "hints.plate",
                format!("at most {max_chars} characters"),
            ));
        } else {
            match plate(&hints.plate, color) {
                Ok((p, ty)) => match &known.plate {
                    Some(subject) if *subject != p => bad.push(violation(
                        "hints.plate",
                        "differs from the plate asked about".to_owned(),
                    )),
                    _ => {
                        known.plate = Some(p);
                        known.plate_type = known.plate_type.take().or(ty);
                    }
                },
                Err(d) => bad.push(violation("hints.plate", d)),
            }
        }
    }
    let ty = hints.plate_type.trim();
    if !ty.is_empty() {
        match domain::plate::plate_type(ty) {
            Some(t) => known.plate_type = Some(t.code.to_owned()),
            None => bad.push(violation(
                "hints.plate_type",
                format!("{ty:?} is not a 号牌种类 code (GA 24.7, e.g. \"02\" for small vehicles)"),
            )),
        }
    }
    let engine = domain::violation::normalize_number(&hints.engine_number);
    if !engine.is_empty() {
        if long(&engine) {
            bad.push(violation(
                "hints.engine_number",
                format!("at most {max_chars} characters"),
            ));
        } else if let Some(problem) =
            domain::violation::bad_character(domain::violation::Field::EngineNumber, &engine)
        {
            // The check violation-service makes: a hint it would refuse is refused here,
            // not accepted and left to fail (or be sent) later.
            bad.push(violation("hints.engine_number", problem));
        } else {
            known.engine_number = Some(engine);
        }
    }
}

/// A plate that parses (normalised) and the 号牌种类 it decides, or what is wrong.
fn plate(
    input: &str,
    color: Option<domain::plate::PlateColor>,
) -> Result<(String, Option<String>), String> {
    let report = domain::plate::parse(input, color);
    if report.valid {
        return Ok((
            report.normalized,
            report.plate_type.map(|t| t.code.to_owned()),
        ));
    }
    let problems: Vec<String> = report.problems.iter().map(|p| p.message.clone()).collect();
    Err(if problems.is_empty() {
        format!("{:?} is not a plate Axle can read", report.normalized)
    } else {
        problems.join("; ")
    })
}

/// A VIN that passes the local rules (normalised), or what is wrong with it and the
/// likely fix.
fn vin(input: &str) -> Result<String, String> {
    if domain::vin::normalize(input).is_empty() {
        return Err("must not be empty: give the 17-character VIN (车架号)".to_owned());
    }
    let report = domain::vin::validate(input, kit::clock::current_year());
    if report.valid {
        return Ok(report.normalized);
    }
    let mut text: Vec<String> = report
        .problems
        .iter()
        .filter(|p| !matches!(p.kind, domain::vin::VinProblemKind::UnknownWmi))
        .map(|p| {
            if p.position > 0 {
                format!("position {}: {}", p.position, p.message)
            } else {
                p.message.clone()
            }
        })
        .collect();
    if text.is_empty() {
        text.push("is not a valid VIN".to_owned());
    }
    let mut out = text.join("; ");
    if let Some(s) = &report.suggested_vin {
        out = format!("{out} — did you mean {s}?");
    }
    Err(out)
}

fn color_of(c: i32) -> Result<Option<domain::plate::PlateColor>, ()> {
    use domain::plate::PlateColor as D;
    Ok(match PlateColor::try_from(c).map_err(|_| ())? {
        PlateColor::Unspecified => None,
        PlateColor::Blue => Some(D::Blue),
        PlateColor::Yellow => Some(D::Yellow),
        PlateColor::Green => Some(D::Green),
        PlateColor::White => Some(D::White),
        PlateColor::Black => Some(D::Black),
        PlateColor::YellowGreen => Some(D::YellowGreen),
    })
}

/// `policy` with `preferred` ranked above every configured source, for every field.
pub fn preferring(policy: &MergePolicy, preferred: &[String]) -> MergePolicy {
    if preferred.is_empty() {
        return policy.clone();
    }
    let rank = |order: &[String]| -> Vec<String> {
        let mut out = preferred.to_vec();
        out.extend(order.iter().filter(|s| !preferred.contains(s)).cloned());
        out
    };
    MergePolicy {
        default: rank(&policy.default),
        fields: policy
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), rank(v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
