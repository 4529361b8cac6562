//! `axle vin validate|decode VIN`: a readable answer, or proto3 JSON with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use contracts::axle::common::v1::{Int32Fact, Provenance, StringFact};
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::vin::v1::{
    CheckDigitState, DecodeVinRequest, DecodeVinResponse, MakeBasis, ValidateVinRequest,
    ValidateVinResponse, VehicleSummary,
};
use tonic::transport::Channel;

use crate::ClientArgs;
use crate::readable::{money, source_line};
use crate::render::to_json;

#[derive(Debug, clap::Subcommand)]
pub enum VinCommand {
    /// Check a VIN locally: characters, check digit, model year, manufacturer (free).
    Validate { vin: String },
    /// Decode a VIN: the local decode plus the VIN vendors, merged with provenance.
    Decode { vin: String },
}

/// Connects to a service, with an error that says what to do.
pub async fn channel(endpoint: &str, service: &str) -> anyhow::Result<Channel> {
    // `127.0.0.1:50051`, as the servers print their addresses, means plaintext HTTP/2.
    let endpoint = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    };
    let target = Channel::from_shared(endpoint.clone()).map_err(|e| {
        anyhow::anyhow!(
            "invalid endpoint {endpoint:?}: {e} (expected host:port or http://host:port)"
        )
    })?;
    target
        .connect()
        .await
        .with_context(|| format!("cannot reach {service} at {endpoint} (is `axle up` running?)"))
}

async fn connect(args: &ClientArgs) -> anyhow::Result<VinServiceClient<Channel>> {
    let endpoint = args.endpoint_or("AXLE_VIN_ENDPOINT", "http://127.0.0.1:50051");
    Ok(VinServiceClient::new(
        channel(&endpoint, "vin-service").await?,
    ))
}

/// Runs the command; the exit code is 0 for a valid VIN, 1 for an invalid one, so the
/// command can be used in scripts.
pub async fn run(cmd: VinCommand, args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(args).await?;
    match cmd {
        VinCommand::Validate { vin } => {
            let mut req = tonic::Request::new(ValidateVinRequest { vin });
            req.set_timeout(args.timeout);
            let resp = client
                .validate_vin(req)
                .await
                .map_err(status_error)?
                .into_inner();
            if args.json {
                crate::render::out(&format!(
                    "{}\n",
                    to_json(&resp, "axle.vin.v1.ValidateVinResponse")?
                ))?;
            } else {
                crate::render::out(&crate::render::safe_lines(&describe_validation(&resp)))?;
            }
            Ok(if resp.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        VinCommand::Decode { vin } => {
            let mut req = tonic::Request::new(DecodeVinRequest { vin });
            req.set_timeout(args.timeout);
            let resp = match client.decode_vin(req).await {
                Ok(r) => r.into_inner(),
                // DecodeVin refuses a VIN that cannot exist (no vendor is paid for it):
                // that is the "invalid VIN" answer (exit 1), with the reasons.
                Err(s) if s.code() == tonic::Code::InvalidArgument => {
                    eprintln!("invalid VIN: {}", crate::render::safe(s.message()));
                    return Ok(ExitCode::from(1));
                }
                Err(s) => return Err(status_error(s)),
            };
            if args.json {
                crate::render::out(&format!(
                    "{}\n",
                    to_json(&resp, "axle.vin.v1.DecodeVinResponse")?
                ))?;
            } else {
                crate::render::out(&crate::render::safe_lines(&describe_decode(
                    &resp,
                    SystemTime::now(),
                )))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // shaped for `map_err`
pub fn status_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", s.code(), s.message())
}

pub fn describe_validation(r: &ValidateVinResponse) -> String {
    let mut out = String::new();
    let verdict = if r.valid { "valid" } else { "INVALID" };
    let _ = writeln!(
        out,
        "VIN          {}  ({verdict})",
        crate::render::safe(&r.normalized_vin)
    );
    if let Some(m) = &r.manufacturer {
        let zh = if m.name_zh.is_empty() {
            String::new()
        } else {
            format!(" / {}", m.name_zh)
        };
        let _ = writeln!(out, "Manufacturer {}{zh}  [WMI {}]", m.name, m.wmi);
        if !m.legal_name.is_empty() && m.legal_name != m.name {
            let release = if m.release.is_empty() {
                String::new()
            } else {
                format!("  ({})", m.release)
            };
            let _ = writeln!(out, "  legal name {}{release}", m.legal_name);
        }
    }
    if let Some(m) = &r.make {
        // A Latin `name_zh` is either the brand's established Chinese name (MINI: shown
        // once) or the fallback for a brand with no Chinese name, which is said in words
        // so that a reader does not take it for one.
        let both = |name: &str, zh: &str, latin: bool| {
            if latin {
                format!("{name} (no Chinese name in use)")
            } else if zh.is_empty() || zh == name {
                name.to_owned()
            } else {
                format!("{name} / {zh}")
            }
        };
        let by = if m.basis == MakeBasis::Vds as i32 {
            "by VDS"
        } else {
            "by WMI"
        };
        if m.name.is_empty() {
            let all: Vec<String> = m
                .candidates
                .iter()
                .map(|c| both(&c.name, &c.name_zh, c.name_zh_latin))
                .collect();
            let _ = writeln!(out, "Make         one of {}  [{by}]", all.join(", "));
        } else {
            let _ = writeln!(
                out,
                "Make         {}  [{by}]",
                both(&m.name, &m.name_zh, m.name_zh_latin)
            );
        }
    }
    if let Some(c) = &r.country {
        let names: Vec<&str> = [c.name.as_str(), c.name_zh.as_str()]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
        let names = if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(" / "))
        };
        let region = if r.region.is_empty() {
            String::new()
        } else {
            format!(", {}", r.region)
        };
        let _ = writeln!(out, "Country      {}{names}{region}", c.code);
    }
    if let Some(y) = &r.model_year {
        let others: Vec<String> = y
            .candidates
            .iter()
            .filter(|c| **c != y.year)
            .map(ToString::to_string)
            .collect();
        let alt = if others.is_empty() {
            String::new()
        } else {
            format!(", also possible: {}", others.join(", "))
        };
        let _ = writeln!(out, "Model year   {} (code {}{alt})", y.year, y.code);
    }
    if let Some(cd) = &r.check_digit {
        let state = match CheckDigitState::try_from(cd.state) {
            Ok(CheckDigitState::Valid) => "matches",
            Ok(CheckDigitState::Invalid) => "DOES NOT MATCH",
            Ok(CheckDigitState::NotUsed) => "not used by this maker",
            _ => "not checked",
        };
        let mandatory = if cd.mandatory {
            "mandatory"
        } else {
            "optional"
        };
        let expected = if cd.expected.is_empty() {
            "not computable".to_owned()
        } else {
            format!("expected {}", cd.expected)
        };
        let _ = writeln!(
            out,
            "Check digit  {} ({expected}, {mandatory}): {state}",
            crate::render::safe(&cd.actual)
        );
    }
    for p in &r.problems {
        let at = if p.position == 0 {
            "whole VIN".to_owned()
        } else {
            format!("position {}", p.position)
        };
        let hint = if p.suggestion.is_empty() {
            String::new()
        } else {
            format!(" — {}", p.suggestion)
        };
        let _ = writeln!(
            out,
            "Problem      {at}: {}{hint}",
            crate::render::safe(&p.message)
        );
    }
    if !r.suggested_vin.is_empty() {
        let _ = writeln!(out, "Did you mean {}?", r.suggested_vin);
    }
    out
}

pub fn describe_decode(r: &DecodeVinResponse, now: SystemTime) -> String {
    let mut out = r
        .local
        .as_ref()
        .map(describe_validation)
        .unwrap_or_default();
    if let Some(s) = &r.summary {
        let _ = writeln!(out, "\nMerged summary (value, confidence, source):");
        for (label, value, confidence, p) in summary_rows(s) {
            let _ = writeln!(out, "  {label:<14} {value}  ({confidence:.2}, {})", src(p));
        }
    }
    for d in &r.disagreements {
        let others: Vec<String> = d
            .values
            .iter()
            .map(|a| format!("{} says {}", src(a.provenance.as_ref()), a.value))
            .collect();
        let _ = writeln!(
            out,
            "  disagreement on {}: chose {} from {}; {}",
            d.field,
            d.chosen_value,
            d.chosen_source,
            others.join("; ")
        );
    }
    let _ = writeln!(out, "\nSources:");
    for s in &r.sources {
        let fetched = r
            .vendor_decodes
            .iter()
            .filter_map(|v| v.provenance.as_ref())
            .find(|p| p.source == s.source)
            .and_then(|p| p.fetched_at.as_ref());
        let _ = writeln!(out, "  {}", source_line(s, fetched, now));
    }
    out
}

/// One row of the merged summary: label, value as read, confidence, source.
type Row<'a> = (&'static str, String, f32, Option<&'a Provenance>);

/// The merged summary's fields in reading order, each with its unit or meaning spelled
/// out (a price as money, a displacement in ml, an import flag in words).
fn summary_rows(s: &VehicleSummary) -> Vec<Row<'_>> {
    fn text<'a>(label: &'static str, f: Option<&'a StringFact>) -> Option<Row<'a>> {
        f.map(|f| (label, f.value.clone(), f.confidence, f.provenance.as_ref()))
    }
    fn number<'a>(label: &'static str, f: Option<&'a Int32Fact>, unit: &str) -> Option<Row<'a>> {
        f.map(|f| {
            let value = format!("{}{unit}", f.value);
            (label, value, f.confidence, f.provenance.as_ref())
        })
    }
    let msrp = s.msrp.as_ref().and_then(|f| {
        let m = f.value.as_ref()?;
        Some(("MSRP", money(m), f.confidence, f.provenance.as_ref()))
    });
    let import = s.is_import.as_ref().map(|f| {
        let v = if f.value { "yes" } else { "no, built in China" };
        (
            "imported",
            v.to_owned(),
            f.confidence,
            f.provenance.as_ref(),
        )
    });
    let launched = s.launch_date.as_ref().map(|f| {
        (
            "launched",
            f.value.clone(),
            f.confidence,
            f.provenance.as_ref(),
        )
    });
    [
        text("brand", s.brand.as_ref()),
        text("manufacturer", s.manufacturer.as_ref()),
        text("model", s.model_name.as_ref()),
        text("series", s.series.as_ref()),
        number("model year", s.model_year.as_ref(), ""),
        text("country", s.country.as_ref()),
        text("engine", s.engine_model.as_ref()),
        number("displacement", s.displacement_ml.as_ref(), " ml"),
        text("fuel", s.fuel_type.as_ref()),
        text("transmission", s.transmission.as_ref()),
        text("drive", s.drive_mode.as_ref()),
        text("body", s.body_type.as_ref()),
        number("seats", s.seats.as_ref(), ""),
        msrp,
        import,
        launched,
        text("emission", s.emission_standard.as_ref()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn src(p: Option<&Provenance>) -> String {
    match p {
        Some(p) if p.sandbox => format!("{} [sandbox]", p.source),
        Some(p) => p.source.clone(),
        None => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests;
