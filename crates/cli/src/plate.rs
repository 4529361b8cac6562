//! `axle plate parse|lookup PLATE [--color blue]`: a readable answer, or proto3 JSON
//! with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use contracts::axle::common::v1::{DateFact, Provenance, StringFact};
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{
    LookupVehicleRequest, LookupVehicleResponse, ParsePlateRequest, ParsePlateResponse,
    PlateCategory, PlateColor,
};

use crate::ClientArgs;
use crate::readable::{place, source_line, wan_yuan};
use crate::render::to_json;
use crate::vin::{channel, status_error};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Color {
    Blue,
    Yellow,
    Green,
    White,
    Black,
    YellowGreen,
}

#[derive(Debug, clap::Subcommand)]
pub enum PlateCommand {
    /// Parse a plate locally: province, issuing authority, category, 号牌种类 (free).
    Parse {
        plate: String,
        /// Plate colour, when known: decides e.g. 01 (yellow) vs 02 (blue).
        #[arg(long, value_enum)]
        color: Option<Color>,
    },
    /// Look up the vehicle behind a plate through the plate vendors (VIN, 使用性质 ...).
    Lookup {
        plate: String,
        #[arg(long, value_enum)]
        color: Option<Color>,
    },
}

pub(crate) fn proto_color(color: Option<Color>) -> PlateColor {
    match color {
        None => PlateColor::Unspecified,
        Some(Color::Blue) => PlateColor::Blue,
        Some(Color::Yellow) => PlateColor::Yellow,
        Some(Color::Green) => PlateColor::Green,
        Some(Color::White) => PlateColor::White,
        Some(Color::Black) => PlateColor::Black,
        Some(Color::YellowGreen) => PlateColor::YellowGreen,
    }
}

pub async fn run(cmd: PlateCommand, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.endpoint_or("AXLE_PLATE_ENDPOINT", "http://127.0.0.1:50052");
    let mut client = PlateServiceClient::new(channel(&endpoint, "plate-service").await?);
    match cmd {
        PlateCommand::Lookup { plate, color } => {
            let mut req = tonic::Request::new(LookupVehicleRequest {
                plate,
                color: proto_color(color) as i32,
            });
            req.set_timeout(args.timeout);
            let resp = match client.lookup_vehicle(req).await {
                Ok(r) => r.into_inner(),
                // A plate that cannot exist is refused before any vendor is paid: the
                // "invalid plate" answer (exit 1), with the reasons.
                Err(s) if s.code() == tonic::Code::InvalidArgument => {
                    eprintln!("invalid plate: {}", crate::render::safe(s.message()));
                    return Ok(ExitCode::from(1));
                }
                Err(s) => return Err(status_error(s)),
            };
            if args.json {
                crate::render::out(&format!(
                    "{}\n",
                    to_json(&resp, "axle.plate.v1.LookupVehicleResponse")?
                ))?;
            } else {
                crate::render::out(&crate::render::safe_lines(&describe_lookup(
                    &resp,
                    SystemTime::now(),
                )))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        PlateCommand::Parse { plate, color } => {
            let mut req = tonic::Request::new(ParsePlateRequest {
                plate,
                color: proto_color(color) as i32,
            });
            req.set_timeout(args.timeout);
            let resp = client
                .parse_plate(req)
                .await
                .map_err(status_error)?
                .into_inner();
            if args.json {
                crate::render::out(&format!(
                    "{}\n",
                    to_json(&resp, "axle.plate.v1.ParsePlateResponse")?
                ))?;
            } else {
                crate::render::out(&crate::render::safe_lines(&describe(&resp)))?;
            }
            Ok(if resp.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

pub fn describe(r: &ParsePlateResponse) -> String {
    let mut out = String::new();
    let verdict = if r.valid {
        "valid"
    } else if r.supported {
        "INVALID"
    } else {
        "not supported"
    };
    let _ = writeln!(
        out,
        "Plate        {}  ({verdict})",
        crate::render::safe(&r.normalized_plate)
    );
    if let Ok(c) = PlateCategory::try_from(r.category)
        && c != PlateCategory::Unspecified
    {
        let name = c
            .as_str_name()
            .trim_start_matches("PLATE_CATEGORY_")
            .to_lowercase();
        let _ = writeln!(out, "Category     {name}");
    }
    if let Some(a) = &r.issuing_authority {
        let note = if a.note.is_empty() {
            String::new()
        } else {
            format!(" — {}", a.note)
        };
        let _ = writeln!(
            out,
            "Issued by    {} ({}), {}{} [{}]{note}",
            place(&a.province, &a.city),
            a.city_pinyin,
            a.province_abbreviation,
            a.letter,
            a.division_code
        );
    } else if let Some(p) = &r.province {
        let _ = writeln!(
            out,
            "Province     {} ({}) [{}]",
            p.name_zh, p.name, p.division_code
        );
    }
    if let Some(t) = &r.plate_type {
        let _ = writeln!(out, "Plate type   {} {} ({})", t.code, t.name_zh, t.name);
    } else if !r.plate_type_candidates.is_empty() {
        let c: Vec<String> = r
            .plate_type_candidates
            .iter()
            .map(|t| format!("{} {}", t.code, t.name_zh))
            .collect();
        let hint = if r.color_needed {
            " — give --color to decide"
        } else {
            ""
        };
        let _ = writeln!(out, "Plate type   one of: {}{hint}", c.join(", "));
    }
    for c in &r.corrections {
        let _ = writeln!(out, "Corrected    {c}");
    }
    for p in &r.problems {
        let at = if p.position == 0 {
            "whole plate".to_owned()
        } else {
            format!("position {}", p.position)
        };
        let _ = writeln!(
            out,
            "Problem      {at}: {} (expected {})",
            crate::render::safe(&p.message),
            p.expected
        );
    }
    out
}

pub fn describe_lookup(r: &LookupVehicleResponse, now: SystemTime) -> String {
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
        let _ = writeln!(out, "{label:<12} {value}  ({confidence:.2}, {})", source(p));
    }
    fn text(out: &mut String, label: &str, f: Option<&StringFact>) {
        if let Some(f) = f {
            row(out, label, &f.value, f.confidence, f.provenance.as_ref());
        }
    }
    fn date(out: &mut String, label: &str, f: Option<&DateFact>) {
        if let Some(f) = f {
            row(out, label, &f.value, f.confidence, f.provenance.as_ref());
        }
    }
    let mut out = r.plate.as_ref().map(describe).unwrap_or_default();
    text(&mut out, "VIN", r.vin.as_ref());
    if r.vin_valid == Some(false) {
        let _ = writeln!(
            out,
            "{:<12} fails the VIN rules (check digit): no vendor gave a VIN that passes",
            ""
        );
    }
    if let Some(u) = &r.usage {
        let code = if u.code.is_empty() {
            "unmapped".to_owned()
        } else {
            format!("{} {} ({})", u.code, u.name_zh, u.name)
        };
        let value = format!("{code}, vendor said {:?}", u.original_text);
        row(
            &mut out,
            "Usage",
            &value,
            u.confidence,
            u.provenance.as_ref(),
        );
    }
    text(&mut out, "Brand", r.brand.as_ref());
    text(&mut out, "Model", r.model.as_ref());
    if let Some(t) = &r.vehicle_type_code {
        let value = format!(
            "{} {} (vendor said {:?})",
            t.code, t.name_zh, t.original_text
        );
        row(
            &mut out,
            "Type",
            &value,
            t.confidence,
            t.provenance.as_ref(),
        );
    } else {
        text(&mut out, "Type", r.vehicle_type.as_ref());
    }
    text(&mut out, "Body colour", r.body_color.as_ref());
    if let Some(n) = &r.approved_passengers {
        let value = n.value.to_string();
        row(
            &mut out,
            "Seats",
            &value,
            n.confidence,
            n.provenance.as_ref(),
        );
    }
    date(&mut out, "Registered", r.first_registration_date.as_ref());
    date(&mut out, "Produced", r.production_date.as_ref());
    date(&mut out, "Insured to", r.insurance_expiry_date.as_ref());
    text(&mut out, "Emission", r.emission_standard.as_ref());
    text(&mut out, "Engine no.", r.engine_number.as_ref());
    if let Some(d) = &r.details {
        for (label, f) in [
            ("Fuel", &d.fuel_type),
            ("Gearbox", &d.transmission),
            ("Engine", &d.engine_model),
            ("Power", &d.power),
            ("Length", &d.length),
            ("Width", &d.width),
            ("Height", &d.height),
            ("Wheelbase", &d.wheelbase),
            ("Track F", &d.front_track),
            ("Track R", &d.rear_track),
            ("Curb wt", &d.curb_weight),
            ("Total wt", &d.total_weight),
            ("Load kg", &d.rated_load_weight_kg),
            ("Axles", &d.axle_count),
            ("Boxes", &d.body_boxes),
            ("Tyres F", &d.front_tire_size),
            ("Tyres R", &d.rear_tire_size),
            ("Brand id", &d.vendor_brand_id),
        ] {
            text(&mut out, label, f.as_ref());
        }
        // 万元 alone ("12.99") reads as twelve yuan: the exact CNY amount leads.
        let quoted = d.guide_price_10k_cny.as_ref();
        let converted = d.guide_price.as_ref();
        if let Some((confidence, p)) = converted
            .map(|f| (f.confidence, f.provenance.as_ref()))
            .or_else(|| quoted.map(|f| (f.confidence, f.provenance.as_ref())))
        {
            let value = wan_yuan(
                quoted.map_or("", |f| f.value.as_str()),
                converted.and_then(|f| f.value.as_ref()),
            );
            row(&mut out, "Guide price", &value, confidence, p);
        }
        date(&mut out, "Insured from", d.insurance_start_date.as_ref());
        date(&mut out, "Launched", d.market_launch_date.as_ref());
        date(&mut out, "Built", d.production_year_month.as_ref());
    }
    for d in &r.damage_records {
        let _ = writeln!(
            out,
            "{:<12} {} (type {}, amount {})  ({})",
            "Damage",
            d.part,
            d.r#type,
            d.amount,
            source(d.provenance.as_ref())
        );
    }
    for f in &r.unmapped_fields {
        let _ = writeln!(
            out,
            "{:<12} {} = {}  ({}, undocumented field)",
            "Extra", f.name, f.value, f.source
        );
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
    let _ = writeln!(out, "Sources:");
    let provenances = provenances(r);
    for s in &r.sources {
        let fetched = provenances
            .iter()
            .find(|p| p.source == s.source)
            .and_then(|p| p.fetched_at.as_ref());
        let _ = writeln!(out, "  {}", source_line(s, fetched, now));
    }
    out
}

/// Where the facts of the answer came from (chosen values, then the alternatives of
/// disagreements), to tell when each source's answer dates from: a stored platecb
/// answer can be weeks old, and it may have won no field at all.
fn provenances(r: &LookupVehicleResponse) -> Vec<&Provenance> {
    let mut strings = vec![
        &r.vin,
        &r.brand,
        &r.model,
        &r.vehicle_type,
        &r.body_color,
        &r.engine_number,
        &r.emission_standard,
    ];
    let mut dates = vec![
        &r.first_registration_date,
        &r.insurance_expiry_date,
        &r.production_date,
    ];
    if let Some(d) = &r.details {
        strings.extend([
            &d.fuel_type,
            &d.transmission,
            &d.engine_model,
            &d.guide_price_10k_cny,
        ]);
        dates.extend([&d.insurance_start_date, &d.production_year_month]);
    }
    let chosen = strings
        .into_iter()
        .filter_map(|f| f.as_ref()?.provenance.as_ref())
        .chain(
            dates
                .into_iter()
                .filter_map(|f| f.as_ref()?.provenance.as_ref()),
        )
        .chain(r.usage.as_ref().and_then(|u| u.provenance.as_ref()))
        .chain(
            r.damage_records
                .iter()
                .filter_map(|d| d.provenance.as_ref()),
        );
    let alternatives = r
        .disagreements
        .iter()
        .flat_map(|d| &d.values)
        .filter_map(|a| a.provenance.as_ref());
    chosen.chain(alternatives).collect()
}

#[cfg(test)]
mod tests;
