//! `axle violations PLATE [--color blue] [--type 02] [--engine ...] [--vin ...]` and
//! `axle violations rules 粤B`: a readable answer, or proto3 JSON with `--json`.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use contracts::axle::violation::v1::{
    CityRule, GetCityRulesRequest, GetCityRulesResponse, HandlingState, NumberRequirement,
    QueryOutcome, QueryViolationsRequest, QueryViolationsResponse, RequirementKind, RuleBasis,
    TotalsBasis, get_city_rules_request,
};

use crate::ClientArgs;
use crate::plate::{Color, proto_color};
use crate::readable::{money, source_line, time};
use crate::render::to_json;
use crate::vin::{channel, status_error};

#[derive(Debug, clap::Subcommand)]
pub enum ViolationsCommand {
    /// What a city needs to query violations (local, free): engine number? VIN? how much?
    Rules {
        /// A plate or its prefix ("粤B"), or a GB/T 2260 division code ("440300").
        city: String,
        /// 号牌种类 code, when the rule differs per type (e.g. 01 large vehicles).
        #[arg(long = "type")]
        plate_type: Option<String>,
    },
}

/// `axle violations PLATE ...`: the query (paid; the city's rule is checked first).
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The plate, e.g. 粤B12345.
    pub plate: Option<String>,
    /// Plate colour: decides 01 (yellow) vs 02 (blue) for an ordinary plate.
    #[arg(long, value_enum)]
    pub color: Option<Color>,
    /// 号牌种类 code, instead of --color.
    #[arg(long = "type")]
    pub plate_type: Option<String>,
    /// Engine number (发动机号), whole or the tail the city asks for.
    #[arg(long)]
    pub engine: Option<String>,
    /// VIN / frame number (车架号), whole or the tail the city asks for.
    #[arg(long)]
    pub vin: Option<String>,
    /// The handle of an earlier PENDING answer: its answer, without a new charge.
    #[arg(long)]
    pub handle: Option<String>,
}

pub async fn run(
    command: Option<ViolationsCommand>,
    query: QueryArgs,
    args: &ClientArgs,
) -> anyhow::Result<ExitCode> {
    let endpoint = args.endpoint_or("AXLE_VIOLATION_ENDPOINT", "http://127.0.0.1:50053");
    let mut client = ViolationServiceClient::new(channel(&endpoint, "violation-service").await?);
    if let Some(ViolationsCommand::Rules { city, plate_type }) = command {
        let city = city.trim().to_owned();
        let city = if city.bytes().all(|b| b.is_ascii_digit()) && !city.is_empty() {
            get_city_rules_request::City::DivisionCode(city)
        } else {
            get_city_rules_request::City::Plate(city)
        };
        let mut req = tonic::Request::new(GetCityRulesRequest {
            city: Some(city),
            plate_type: plate_type.unwrap_or_default(),
        });
        req.set_timeout(args.timeout);
        let resp = match client.get_city_rules(req).await {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                eprintln!("invalid request: {}", crate::render::safe(s.message()));
                return Ok(ExitCode::from(1));
            }
            Err(s) => return Err(status_error(s)),
        };
        if args.json {
            crate::render::out(&format!(
                "{}\n",
                to_json(&resp, "axle.violation.v1.GetCityRulesResponse")?
            ))?;
        } else {
            crate::render::out(&crate::render::safe_lines(&describe_rules(&resp)))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if query.plate.is_none() && query.handle.is_none() {
        anyhow::bail!(
            "give a plate (axle violations 粤B12345 --color blue --engine ... --vin ...), --handle, or `rules CITY`"
        );
    }
    let mut req = tonic::Request::new(QueryViolationsRequest {
        plate: query.plate.unwrap_or_default(),
        plate_type: query.plate_type.unwrap_or_default(),
        engine_number: query.engine.unwrap_or_default(),
        vin: query.vin.unwrap_or_default(),
        color: proto_color(query.color) as i32,
        query_handle: query.handle.unwrap_or_default(),
    });
    req.set_timeout(args.timeout);
    let resp = match client.query_violations(req).await {
        Ok(r) => r.into_inner(),
        // Refused before any vendor was paid: what to change, per field (exit 1).
        Err(s) if s.code() == tonic::Code::InvalidArgument => {
            eprintln!("not queried: {}", crate::render::safe(s.message()));
            return Ok(ExitCode::from(1));
        }
        Err(s) => return Err(status_error(s)),
    };
    if args.json {
        crate::render::out(&format!(
            "{}\n",
            to_json(&resp, "axle.violation.v1.QueryViolationsResponse")?
        ))?;
    } else {
        crate::render::out(&crate::render::safe_lines(&describe(
            &resp,
            SystemTime::now(),
        )))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn requirement(r: Option<&NumberRequirement>) -> String {
    let Some(r) = r else { return "?".to_owned() };
    match RequirementKind::try_from(r.kind).unwrap_or(RequirementKind::Unspecified) {
        RequirementKind::NotRequired => "not required".to_owned(),
        RequirementKind::LastChars => format!("last {}", r.last_chars),
        RequirementKind::Full => "whole number".to_owned(),
        RequirementKind::Unspecified => "?".to_owned(),
    }
}

fn rule_line(out: &mut String, r: &CityRule) {
    let types = if r.plate_types.is_empty() {
        "every plate type".to_owned()
    } else {
        format!("plate types {}", r.plate_types.join(","))
    };
    let combine = if r.either { " (either one)" } else { "" };
    let _ = writeln!(
        out,
        "{} {} [{}], {types}: engine number {}, VIN {}{combine}",
        r.prefix,
        r.city,
        r.division_code,
        requirement(r.engine_number.as_ref()),
        requirement(r.vin.as_ref()),
    );
    let basis = match RuleBasis::try_from(r.basis).unwrap_or(RuleBasis::Unspecified) {
        RuleBasis::Sourced => {
            let s: Vec<String> = r
                .sources
                .iter()
                .map(|s| format!("{} ({})", s.id, s.date))
                .collect();
            format!("from {}", s.join(", "))
        }
        RuleBasis::Default => "no source covers it: the conservative default".to_owned(),
        RuleBasis::Override => "this deployment's override".to_owned(),
        RuleBasis::Unspecified => "?".to_owned(),
    };
    let _ = writeln!(out, "    {basis}");
    if !r.note.is_empty() {
        let _ = writeln!(out, "    {}", r.note);
    }
}

pub fn describe_rules(r: &GetCityRulesResponse) -> String {
    let mut out = String::new();
    if !r.supported {
        let _ = writeln!(out, "not queryable: {}", r.unsupported_reason);
        return out;
    }
    for rule in &r.rules {
        rule_line(&mut out, rule);
    }
    let _ = writeln!(out, "rule table version {}", r.table_version);
    out
}

pub fn describe(r: &QueryViolationsResponse, now: SystemTime) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plate        {} ({} {})",
        r.plate, r.plate_type, r.plate_type_name
    );
    let outcome = QueryOutcome::try_from(r.outcome).unwrap_or(QueryOutcome::Unspecified);
    let verdict = match outcome {
        QueryOutcome::Violations => format!("{} violation(s)", r.violation_count),
        QueryOutcome::NoViolations => "no violations".to_owned(),
        QueryOutcome::VehicleUnknown => "the vendor has no data for this vehicle".to_owned(),
        QueryOutcome::Pending => format!(
            "pending: ask again with --handle {} (no new charge)",
            r.query_handle
        ),
        QueryOutcome::Unavailable => "no answer: see the sources below".to_owned(),
        QueryOutcome::Unspecified => "?".to_owned(),
    };
    let _ = writeln!(out, "Outcome      {verdict}");
    if matches!(
        outcome,
        QueryOutcome::Violations | QueryOutcome::NoViolations
    ) {
        let basis = if r.totals_basis == TotalsBasis::Summed as i32 {
            "summed by Axle"
        } else {
            "the vendor's"
        };
        let fine = r.total_fine.as_ref().map_or_else(|| "?".to_owned(), money);
        let _ = writeln!(
            out,
            "Totals       {fine}, {} points ({basis})",
            r.total_points
        );
        if let Some(m) = &r.totals_mismatch {
            let _ = writeln!(out, "             ! {}", m.message);
        }
        if let Some(t) = &r.as_of {
            let age = r
                .age
                .as_ref()
                .filter(|a| a.seconds > 0)
                .map(|a| format!(" ({} old)", crate::readable::duration(a)))
                .unwrap_or_default();
            let _ = writeln!(out, "As of        {}{age}", time(t));
        }
    }
    for v in &r.violations {
        let when = if v.occurred_at_local.trim().is_empty() {
            v.occurred_at
                .as_ref()
                .map_or_else(|| "time ?".to_owned(), time)
        } else {
            format!("{} +08:00", v.occurred_at_local.trim())
        };
        let fine = v.fine.as_ref().map_or_else(|| "fine ?".to_owned(), money);
        let points = v
            .points
            .map_or_else(|| "points ?".to_owned(), |p| format!("{p} points"));
        let handling =
            match HandlingState::try_from(v.handling).unwrap_or(HandlingState::Unspecified) {
                HandlingState::Unhandled => "unhandled, unpaid",
                HandlingState::HandledUnpaid => "handled, unpaid",
                HandlingState::Paid => "handled and paid",
                HandlingState::Unspecified => "handling unknown",
            };
        let online = if v.can_handle_online { ", online" } else { "" };
        let _ = writeln!(out, "- {when}  {} {}", v.code, v.action);
        let _ = writeln!(
            out,
            "  {}{}  {fine}, {points}, {handling}{online}",
            v.address,
            if v.city.is_empty() {
                String::new()
            } else {
                format!(" ({})", v.city)
            },
        );
    }
    if let Some(rule) = &r.city_rule {
        out.push_str("Rule         ");
        rule_line(&mut out, rule);
    }
    for n in &r.notes {
        let _ = writeln!(out, "Note         {n}");
    }
    let fetched = r
        .violations
        .first()
        .and_then(|v| v.provenance.as_ref())
        .and_then(|p| p.fetched_at.as_ref());
    for s in &r.sources {
        let _ = writeln!(out, "Source       {}", source_line(s, fetched, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use contracts::axle::common::v1::{Money, SourceState, SourceStatus};
    use contracts::axle::violation::v1::{TotalsMismatch, Violation};

    use super::*;

    #[test]
    fn a_query_reads_as_a_list() {
        let r = QueryViolationsResponse {
            plate: "粤AJ44E6".into(),
            plate_type: "02".into(),
            plate_type_name: "小型汽车号牌".into(),
            outcome: QueryOutcome::Violations as i32,
            violation_count: 3,
            total_points: 5,
            total_fine: Some(Money {
                currency_code: "CNY".into(),
                units: 300,
                nanos: 0,
            }),
            totals_basis: TotalsBasis::Vendor as i32,
            totals_mismatch: Some(TotalsMismatch {
                message: "vendor says 3 violations, 2 listed".into(),
                ..TotalsMismatch::default()
            }),
            violations: vec![Violation {
                occurred_at: Some(prost_types::Timestamp {
                    seconds: 1_509_215_957,
                    nanos: 0,
                }),
                occurred_at_local: "2017-10-29 02:39:17".into(),
                code: "1208".into(),
                action: "不按所需行进方向驶入导向车道".into(),
                address: "季华六路".into(),
                points: Some(2),
                handling: HandlingState::Unhandled as i32,
                ..Violation::default()
            }],
            sources: vec![SourceStatus {
                source: "apistore".into(),
                state: SourceState::Ok as i32,
                sandbox: true,
                ..SourceStatus::default()
            }],
            ..QueryViolationsResponse::default()
        };
        let text = describe(&r, SystemTime::now());
        assert!(text.contains("3 violation(s)"), "{text}");
        assert!(text.contains("! vendor says 3 violations"), "{text}");
        assert!(text.contains("1208"), "{text}");
        assert!(text.contains("2017-10-29 02:39:17"), "{text}");
        assert!(
            text.contains("fine ?"),
            "a missing fine is not zero: {text}"
        );
        assert!(text.contains("unhandled, unpaid"), "{text}");
        assert!(text.contains("apistore"), "{text}");
        let pending = QueryViolationsResponse {
            outcome: QueryOutcome::Pending as i32,
            query_handle: "abc".into(),
            ..QueryViolationsResponse::default()
        };
        assert!(describe(&pending, SystemTime::now()).contains("--handle abc"));
    }

    #[test]
    fn rules_read_in_words() {
        let r = GetCityRulesResponse {
            rules: vec![CityRule {
                prefix: "粤B".into(),
                city: "深圳市".into(),
                division_code: "440300".into(),
                engine_number: Some(NumberRequirement {
                    kind: RequirementKind::LastChars as i32,
                    last_chars: 6,
                }),
                vin: Some(NumberRequirement {
                    kind: RequirementKind::Full as i32,
                    last_chars: 0,
                }),
                basis: RuleBasis::Default as i32,
                ..CityRule::default()
            }],
            table_version: "2026-12-02".into(),
            supported: true,
            ..GetCityRulesResponse::default()
        };
        let text = describe_rules(&r);
        assert!(
            text.contains("engine number last 6, VIN whole number"),
            "{text}"
        );
        assert!(text.contains("conservative default"), "{text}");
        assert!(text.contains("2026-12-02"), "{text}");
        let no = GetCityRulesResponse {
            supported: false,
            unsupported_reason: "military".into(),
            ..GetCityRulesResponse::default()
        };
        assert!(describe_rules(&no).contains("not queryable: military"));
    }
}
