//! `axle vin validate|decode VIN`: a readable answer, or proto3 JSON with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use contracts::axle::common::v1::{SourceState, SourceStatus, StringFact};
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::vin::v1::{
    CheckDigitState, DecodeVinRequest, DecodeVinResponse, ValidateVinRequest, ValidateVinResponse,
};
use tonic::transport::Channel;

use crate::ClientArgs;
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
                crate::render::out(&crate::render::safe_lines(&describe_decode(&resp)))?;
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
    }
    if let Some(c) = &r.country {
        let _ = writeln!(
            out,
            "Country      {} ({} / {}), {}",
            c.code, c.name, c.name_zh, r.region
        );
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

pub fn describe_decode(r: &DecodeVinResponse) -> String {
    let mut out = r
        .local
        .as_ref()
        .map(describe_validation)
        .unwrap_or_default();
    if let Some(s) = &r.summary {
        let _ = writeln!(out, "\nMerged summary (value, confidence, source):");
        let mut row = |label: &str, f: Option<&StringFact>| {
            if let Some(f) = f {
                let _ = writeln!(
                    out,
                    "  {label:<14} {}  ({:.2}, {})",
                    f.value,
                    f.confidence,
                    src(f.provenance.as_ref())
                );
            }
        };
        row("brand", s.brand.as_ref());
        row("manufacturer", s.manufacturer.as_ref());
        row("model", s.model_name.as_ref());
        row("series", s.series.as_ref());
        row("engine", s.engine_model.as_ref());
        row("fuel", s.fuel_type.as_ref());
        row("transmission", s.transmission.as_ref());
        row("drive", s.drive_mode.as_ref());
        row("body", s.body_type.as_ref());
        if let Some(y) = &s.model_year {
            let _ = writeln!(
                out,
                "  {:<14} {}  ({:.2}, {})",
                "model year",
                y.value,
                y.confidence,
                src(y.provenance.as_ref())
            );
        }
        if let Some(p) = &s.msrp
            && let Some(m) = &p.value
        {
            let _ = writeln!(
                out,
                "  {:<14} {} {}  ({:.2}, {})",
                "MSRP",
                m.currency_code,
                m.units,
                p.confidence,
                src(p.provenance.as_ref())
            );
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
        let _ = writeln!(out, "  {}", describe_source(s));
    }
    out
}

fn src(p: Option<&contracts::axle::common::v1::Provenance>) -> String {
    match p {
        Some(p) if p.sandbox => format!("{} [sandbox]", p.source),
        Some(p) => p.source.clone(),
        None => "?".to_owned(),
    }
}

fn describe_source(s: &SourceStatus) -> String {
    let state = SourceState::try_from(s.state).map_or("?", |st| {
        st.as_str_name().trim_start_matches("SOURCE_STATE_")
    });
    let mut line = format!("{:<10} {state}", s.source);
    if s.sandbox {
        line.push_str(" [sandbox]");
    }
    if let Some(l) = &s.latency {
        #[allow(clippy::cast_precision_loss)] // latencies are far below 2^52 ms
        let ms = l.seconds as f64 * 1e3 + f64::from(l.nanos) / 1e6;
        let _ = write!(line, " in {ms:.0} ms");
    }
    if !s.message.is_empty() {
        let _ = write!(line, " — {}", s.message);
    }
    if s.operator_action_required {
        line.push_str(" (operator action required)");
    }
    line
}
