//! `axle profile --plate 粤B12345 [--color blue] | --vin VIN | --photo licence.jpg`: the
//! aggregator's merged
//! profile with each field's source and confidence, the disagreements and the per-source
//! table; `--json` for proto3 JSON.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use contracts::axle::aggregator::v1::aggregator_service_client::AggregatorServiceClient;
use contracts::axle::aggregator::v1::get_vehicle_profile_request::Subject;
use contracts::axle::aggregator::v1::{
    GetVehicleProfileRequest, GetVehicleProfileResponse, Hints, LicenseImage, VehicleProfile,
    license_image,
};
use contracts::axle::common::v1::{Money, Provenance};

use crate::ClientArgs;
use crate::plate::{Color, proto_color};
use crate::readable::{money, place, source_line};
use crate::render::to_json;
use crate::vin::{channel, status_error};

/// What to build the profile from, and how.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).multiple(true).args(["plate", "vin", "photo"])))]
pub struct ProfileArgs {
    /// Start from a plate, e.g. 粤B12345 (with --vin too: the VIN is the subject and the
    /// plate a hint, e.g. for a violation query).
    #[arg(long)]
    pub plate: Option<String>,
    /// Start from a VIN.
    #[arg(long)]
    pub vin: Option<String>,
    /// Start from a 行驶证 photo: a JPEG or PNG file, or an http(s) URL ocr-service
    /// fetches (with --plate or --vin too, they are hints).
    #[arg(long, conflicts_with = "vin")]
    pub photo: Option<String>,
    /// Plate colour, when known.
    #[arg(long, value_enum)]
    pub color: Option<Color>,
    /// Engine number (or its tail), for cities whose violation query asks for it.
    #[arg(long)]
    pub engine_number: Option<String>,
    /// Only these profile fields (comma-separated, e.g. "brand,usage,violations");
    /// default: every field except violations.
    #[arg(long, value_delimiter = ',')]
    pub include: Vec<String>,
    /// The most this query may spend on vendors, in CNY (e.g. 0.5).
    #[arg(long)]
    pub spend_cap: Option<f64>,
    /// Sources to rank first for every field (comma-separated, e.g. "xiaoshibao").
    #[arg(long, value_delimiter = ',')]
    pub prefer: Vec<String>,
}

impl ProfileArgs {
    fn request(&self) -> anyhow::Result<GetVehicleProfileRequest> {
        let (subject, plate_hint) = match (&self.photo, &self.plate, &self.vin) {
            (Some(photo), plate, _) => (
                Subject::LicenseImage(photo_of(photo)?),
                plate.clone().unwrap_or_default(),
            ),
            (None, plate, Some(v)) => (Subject::Vin(v.clone()), plate.clone().unwrap_or_default()),
            (None, Some(p), None) => (Subject::Plate(p.clone()), String::new()),
            (None, None, None) => anyhow::bail!("give --plate, --vin or --photo"),
        };
        let spend_cap = match self.spend_cap {
            Some(a) if !(a.is_finite() && a >= 0.0) => {
                anyhow::bail!("--spend-cap must be an amount of 0 or more, not {a}")
            }
            Some(a) => Some(cny(a)),
            None => None,
        };
        Ok(GetVehicleProfileRequest {
            subject: Some(subject),
            hints: Some(Hints {
                plate_color: proto_color(self.color) as i32,
                engine_number: self.engine_number.clone().unwrap_or_default(),
                plate: plate_hint,
                ..Hints::default()
            }),
            include: (!self.include.is_empty()).then(|| prost_types::FieldMask {
                paths: self.include.clone(),
            }),
            spend_cap,
            prefer_sources: self.prefer.clone(),
            attach_responses: false,
        })
    }
}

/// The photo as the request carries it: a URL as it is (ocr-service fetches it), a file
/// read here.
fn photo_of(arg: &str) -> anyhow::Result<LicenseImage> {
    use anyhow::Context as _;
    let source = if arg.starts_with("http://") || arg.starts_with("https://") {
        license_image::Source::ImageUrl(arg.to_owned())
    } else {
        license_image::Source::Image(
            std::fs::read(arg).with_context(|| format!("reading the photo {arg}"))?,
        )
    };
    Ok(LicenseImage {
        source: Some(source),
        side: 0,
    })
}

fn cny(amount: f64) -> Money {
    // Cents are what vendors bill in; a finer cap is rounded to the cent.
    #[allow(clippy::cast_possible_truncation)] // checked finite and >= 0 above; CNY amounts fit
    let cents = (amount * 100.0).round() as i64;
    Money {
        currency_code: "CNY".to_owned(),
        units: cents / 100,
        nanos: i32::try_from((cents % 100) * 10_000_000).unwrap_or(0),
    }
}

pub async fn run(args: &ProfileArgs, client_args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let endpoint = client_args.endpoint_or("AXLE_AGGREGATOR_ENDPOINT", "http://127.0.0.1:50050");
    let mut client = AggregatorServiceClient::new(channel(&endpoint, "aggregator").await?);
    let mut req = tonic::Request::new(args.request()?);
    req.set_timeout(client_args.timeout);
    let resp = match Box::pin(client.get_vehicle_profile(req)).await {
        Ok(r) => r.into_inner(),
        // Input the local rules refuse: nothing was asked or paid (exit 1).
        Err(s) if s.code() == tonic::Code::InvalidArgument => {
            eprintln!("invalid request: {}", crate::render::safe(s.message()));
            return Ok(ExitCode::from(1));
        }
        Err(s) => return Err(status_error(s)),
    };
    if client_args.json {
        crate::render::out(&format!(
            "{}\n",
            to_json(&resp, "axle.aggregator.v1.GetVehicleProfileResponse")?
        ))?;
    } else {
        crate::render::out(&crate::render::safe_lines(&describe(
            &resp,
            SystemTime::now(),
        )))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn source(p: Option<&Provenance>) -> String {
    p.map_or_else(
        || "?".to_owned(),
        |p| {
            if p.sandbox {
                format!("{}, sandbox", p.source)
            } else {
                p.source.clone()
            }
        },
    )
}

fn row(out: &mut String, label: &str, value: &str, confidence: f32, p: Option<&Provenance>) {
    let _ = writeln!(out, "{label:<13} {value}  ({confidence:.2}, {})", source(p));
}

/// The profile's fields, one per line, with confidence and source.
fn fields(out: &mut String, p: &VehicleProfile) {
    let texts = [
        ("VIN", &p.vin),
        ("Plate", &p.plate),
        ("Engine no.", &p.engine_number),
        ("Brand", &p.brand),
        ("Manufacturer", &p.manufacturer),
        ("Model", &p.model),
        ("Series", &p.series),
        ("Country", &p.country),
        ("Body", &p.body_type),
        ("Engine", &p.engine_model),
        ("Fuel", &p.fuel_type),
        ("Gearbox", &p.transmission),
        ("Drive", &p.drive_mode),
        ("Body colour", &p.body_color),
        ("Emission", &p.emission_standard),
        ("Owner", &p.owner_name),
        ("Address", &p.owner_address),
    ];
    for (label, f) in texts {
        if let Some(f) = f {
            row(out, label, &f.value, f.confidence, f.provenance.as_ref());
        }
    }
    if let Some(v) = p.vin_valid {
        let _ = writeln!(
            out,
            "{:<13} {}",
            "VIN rules",
            if v {
                "pass"
            } else {
                "FAIL (check digit or characters)"
            }
        );
    }
    if let Some(t) = &p.plate_type {
        match &t.value {
            Some(v) => row(
                out,
                "Plate type",
                &format!("{} {}", v.code, v.name_zh),
                t.confidence,
                t.provenance.as_ref(),
            ),
            None => {
                let c: Vec<&str> = t.alternatives.iter().map(|a| a.value.as_str()).collect();
                let _ = writeln!(
                    out,
                    "{:<13} one of {} — give --color to decide",
                    "Plate type",
                    c.join(", ")
                );
            }
        }
    }
    if let Some(a) = &p.issuing_authority {
        let _ = writeln!(
            out,
            "{:<13} {} [{}]",
            "Issued by",
            place(&a.province, &a.city),
            a.division_code
        );
    }
    for (label, f) in [
        ("Model year", &p.model_year),
        ("Displacement", &p.displacement_ml),
        ("Seats", &p.seats),
    ] {
        if let Some(f) = f {
            row(
                out,
                label,
                &f.value.to_string(),
                f.confidence,
                f.provenance.as_ref(),
            );
        }
    }
    for (label, f) in [
        ("Registered", &p.first_registration_date),
        ("Produced", &p.production_date),
        ("Insured to", &p.insurance_expiry_date),
        ("Launched", &p.launch_date),
    ] {
        if let Some(f) = f {
            row(out, label, &f.value, f.confidence, f.provenance.as_ref());
        }
    }
    if let Some(u) = &p.usage {
        let code = if u.code.is_empty() {
            "unmapped".to_owned()
        } else {
            format!("{} {}", u.code, u.name_zh)
        };
        row(
            out,
            "Usage",
            &format!("{code}, vendor said {:?}", u.original_text),
            u.confidence,
            u.provenance.as_ref(),
        );
    }
    if let Some(t) = &p.vehicle_type {
        row(
            out,
            "Type",
            &format!(
                "{} {} (vendor said {:?})",
                t.code, t.name_zh, t.original_text
            ),
            t.confidence,
            t.provenance.as_ref(),
        );
    }
    if let Some(m) = &p.msrp
        && let Some(v) = &m.value
    {
        row(out, "MSRP", &money(v), m.confidence, m.provenance.as_ref());
    }
    if let Some(b) = &p.is_import {
        row(
            out,
            "Imported",
            if b.value { "yes" } else { "no" },
            b.confidence,
            b.provenance.as_ref(),
        );
    }
    if let Some(v) = &p.violations {
        let fine = v
            .total_fine
            .as_ref()
            .map_or_else(String::new, |m| format!(", fines {}", money(m)));
        let _ = writeln!(
            out,
            "{:<13} {} ({} unhandled), {} points{fine}  ({})",
            "Violations",
            v.count,
            v.unhandled,
            v.total_points,
            source(v.provenance.as_ref())
        );
    }
}

pub fn describe(r: &GetVehicleProfileResponse, now: SystemTime) -> String {
    let mut out = String::new();
    if let Some(p) = &r.profile {
        fields(&mut out, p);
    }
    for d in &r.disagreements {
        let others: Vec<String> = d
            .values
            .iter()
            .map(|a| {
                let rejected = if a.rejected_reason.is_empty() {
                    String::new()
                } else {
                    format!(", rejected: {}", a.rejected_reason)
                };
                format!(
                    "{} says {} ({:.2}{rejected})",
                    source(a.provenance.as_ref()),
                    a.value,
                    a.confidence
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "Disagreement {}: chose {} from {}; {}",
            d.field,
            d.chosen_value,
            d.chosen_source,
            others.join("; ")
        );
    }
    let cost = r.cost.as_ref().map_or_else(|| "nothing".to_owned(), money);
    let latency = r.latency.as_ref().map_or_else(String::new, |l| {
        format!(" in {}", crate::readable::duration(l))
    });
    let _ = writeln!(
        out,
        "{} answer{latency}, spent {cost}",
        if r.complete { "Complete" } else { "PARTIAL" }
    );
    for c in &r.paid_calls {
        let cost = c.cost.as_ref().map_or_else(String::new, money);
        let order = if c.vendor_request_id.is_empty() {
            String::new()
        } else {
            format!(", order {}", c.vendor_request_id)
        };
        let _ = writeln!(out, "  paid {}/{} {cost}{order}", c.via, c.source);
    }
    let _ = writeln!(out, "Sources:");
    for s in &r.sources {
        let _ = writeln!(out, "  {}", source_line(s, None, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::common::v1::{SourceState, SourceStatus, StringFact};

    #[test]
    fn a_cap_in_yuan_becomes_money_to_the_cent() {
        assert_eq!(
            cny(0.5),
            Money {
                currency_code: "CNY".into(),
                units: 0,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            cny(12.345),
            Money {
                currency_code: "CNY".into(),
                units: 12,
                nanos: 350_000_000
            }
        );
    }

    #[test]
    fn a_partial_profile_shows_its_sources_and_what_it_cost() {
        let r = GetVehicleProfileResponse {
            profile: Some(Box::new(VehicleProfile {
                brand: Some(StringFact {
                    value: "大众".into(),
                    confidence: 0.9,
                    provenance: Some(Provenance {
                        source: "connapi".into(),
                        sandbox: true,
                        ..Provenance::default()
                    }),
                    alternatives: Vec::new(),
                }),
                vin_valid: Some(true),
                ..VehicleProfile::default()
            })),
            sources: vec![
                SourceStatus {
                    source: "plate-service".into(),
                    state: SourceState::Failed as i32,
                    message: "LookupVehicle: unavailable".into(),
                    ..SourceStatus::default()
                },
                SourceStatus {
                    source: "connapi".into(),
                    via: "vin-service".into(),
                    state: SourceState::Ok as i32,
                    ..SourceStatus::default()
                },
            ],
            complete: false,
            ..GetVehicleProfileResponse::default()
        };
        let text = describe(&r, SystemTime::now());
        assert!(
            text.contains("Brand         大众  (0.90, connapi, sandbox)"),
            "{text}"
        );
        assert!(text.contains("PARTIAL answer, spent nothing"), "{text}");
        assert!(text.contains("plate-service FAILED"), "{text}");
        assert!(text.contains("vin-service/connapi OK"), "{text}");
    }
}
