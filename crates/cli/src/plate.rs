//! `axle plate parse|lookup PLATE [--color blue]`: a readable answer, or proto3 JSON
//! with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;

use contracts::axle::common::v1::SourceState;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{
    LookupVehicleRequest, LookupVehicleResponse, ParsePlateRequest, ParsePlateResponse,
    PlateCategory, PlateColor,
};

use crate::ClientArgs;
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

fn proto_color(color: Option<Color>) -> PlateColor {
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
            let resp = client
                .lookup_vehicle(req)
                .await
                .map_err(status_error)?
                .into_inner();
            if args.json {
                println!("{}", to_json(&resp, "axle.plate.v1.LookupVehicleResponse")?);
            } else {
                print!("{}", describe_lookup(&resp));
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
                println!("{}", to_json(&resp, "axle.plate.v1.ParsePlateResponse")?);
            } else {
                print!("{}", describe(&resp));
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
    let _ = writeln!(out, "Plate        {}  ({verdict})", r.normalized_plate);
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
            "Issued by    {} {} ({}), {} [{}]{note}",
            a.province,
            a.city,
            a.city_pinyin,
            a.province_abbreviation.clone() + &a.letter,
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
            p.message, p.expected
        );
    }
    out
}

pub fn describe_lookup(r: &LookupVehicleResponse) -> String {
    fn row(out: &mut String, label: &str, value: Option<(&str, f32)>) {
        if let Some((v, c)) = value {
            let _ = writeln!(out, "{label:<12} {v}  ({c:.2})");
        }
    }
    let mut out = r.plate.as_ref().map(describe).unwrap_or_default();
    row(
        &mut out,
        "VIN",
        r.vin.as_ref().map(|f| (f.value.as_str(), f.confidence)),
    );
    if r.vin.is_some() && !r.vin_valid {
        let _ = writeln!(
            out,
            "{:<12} the vendor's VIN fails the VIN rules (check digit)",
            ""
        );
    }
    if let Some(u) = &r.usage {
        let _ = writeln!(
            out,
            "{:<12} {} {} (vendor said {:?})  ({:.2})",
            "使用性质", u.code, u.name_zh, u.original_text, u.confidence
        );
    }
    row(
        &mut out,
        "Brand",
        r.brand.as_ref().map(|f| (f.value.as_str(), f.confidence)),
    );
    row(
        &mut out,
        "Model",
        r.model.as_ref().map(|f| (f.value.as_str(), f.confidence)),
    );
    row(
        &mut out,
        "Registered",
        r.first_registration_date
            .as_ref()
            .map(|f| (f.value.as_str(), f.confidence)),
    );
    let _ = writeln!(out, "Sources:");
    for s in &r.sources {
        let state = SourceState::try_from(s.state).map_or("?", |st| {
            st.as_str_name().trim_start_matches("SOURCE_STATE_")
        });
        let sandbox = if s.sandbox { " [sandbox]" } else { "" };
        let msg = if s.message.is_empty() {
            String::new()
        } else {
            format!(" — {}", s.message)
        };
        let _ = writeln!(out, "  {:<11} {state}{sandbox}{msg}", s.source);
    }
    out
}
