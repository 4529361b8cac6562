//! `axle plate parse PLATE [--color blue]`: a readable answer, or proto3 JSON with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;

use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::plate::v1::{
    ParsePlateRequest, ParsePlateResponse, PlateCategory, PlateColor,
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
}

pub async fn run(cmd: PlateCommand, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.endpoint_or("AXLE_PLATE_ENDPOINT", "http://127.0.0.1:50052");
    let mut client = PlateServiceClient::new(channel(&endpoint, "plate-service").await?);
    match cmd {
        PlateCommand::Parse { plate, color } => {
            let color = match color {
                None => PlateColor::Unspecified,
                Some(Color::Blue) => PlateColor::Blue,
                Some(Color::Yellow) => PlateColor::Yellow,
                Some(Color::Green) => PlateColor::Green,
                Some(Color::White) => PlateColor::White,
                Some(Color::Black) => PlateColor::Black,
                Some(Color::YellowGreen) => PlateColor::YellowGreen,
            };
            let mut req = tonic::Request::new(ParsePlateRequest {
                plate,
                color: color as i32,
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
