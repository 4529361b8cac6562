//! The per-source table of a response: one status per service (combining its RPCs) and,
//! below them, one per vendor each service asked (`via` names the service); whether the
//! answer is complete; what it cost and which paid calls were made.

use std::time::Duration;

use contracts::axle::aggregator::v1::PaidCall;
use contracts::axle::common::v1::{Money, SourceState, SourceStatus};

use crate::plan::{Service, Step};
use crate::profile::Answers;

/// A step's outcome at the service level.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStatus {
    pub step: Step,
    pub status: SourceStatus,
}

/// The status of a step not called, with its reason and message.
pub fn skipped(step: Step, state: SourceState, reason: &str, message: &str) -> SourceStatus {
    SourceStatus {
        source: step.service().name().to_owned(),
        state: state as i32,
        code: match state {
            SourceState::SkippedByBudget => tonic::Code::ResourceExhausted as i32,
            SourceState::Timeout => tonic::Code::DeadlineExceeded as i32,
            _ => tonic::Code::Ok as i32,
        },
        reason: reason.to_owned(),
        message: format!("{}: {message}", step.rpc()),
        ..SourceStatus::default()
    }
}

/// How bad a state is for a service's combined status (the worse of its RPCs shows).
fn severity(state: i32) -> u8 {
    match SourceState::try_from(state).unwrap_or(SourceState::Unspecified) {
        SourceState::Ok => 0,
        SourceState::NotFound => 1,
        SourceState::Skipped => 2,
        SourceState::Pending => 3,
        SourceState::SkippedByBudget => 4,
        SourceState::Timeout => 5,
        SourceState::Failed | SourceState::Unspecified => 6,
    }
}

/// Whether a state means an included field's source did not answer.
fn missing(state: i32) -> bool {
    matches!(
        SourceState::try_from(state),
        Ok(SourceState::Failed
            | SourceState::Timeout
            | SourceState::Pending
            | SourceState::SkippedByBudget)
            | Err(_)
    )
}

/// The table, completeness, cost and paid calls of a response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub sources: Vec<SourceStatus>,
    pub complete: bool,
    pub cost: Option<Money>,
    pub paid_calls: Vec<PaidCall>,
}

/// Builds the table from the steps' statuses and the services' answers. Steps still
/// running are listed PENDING (a stream's early messages), so the table always names
/// every source the plan counts on.
pub fn build(steps: &[StepStatus], running: &[Step], answers: &Answers) -> Table {
    let mut sources: Vec<SourceStatus> = Vec::new();
    let mut complete = running.is_empty();
    for service in [
        Service::Ocr,
        Service::Plate,
        Service::Vin,
        Service::Violation,
    ] {
        let mine: Vec<&StepStatus> = steps
            .iter()
            .filter(|s| s.step.service() == service)
            .collect();
        let pending = running.iter().any(|s| s.service() == service);
        let Some(worst) = mine.iter().max_by_key(|s| severity(s.status.state)) else {
            if pending {
                sources.push(pending_status(service));
            }
            continue;
        };
        let mut status = worst.status.clone();
        service.name().clone_into(&mut status.source);
        if status.state != SourceState::Ok as i32 && !status.message.starts_with(worst.step.rpc()) {
            status.message = format!("{}: {}", worst.step.rpc(), status.message);
        }
        // The service's time is its longest RPC (its RPCs overlap or chain; the longest
        // is what the response waited for).
        status.latency = mine
            .iter()
            .filter_map(|s| s.status.latency)
            .max_by_key(|d| (d.seconds, d.nanos));
        status.attempts = mine.iter().map(|s| s.status.attempts).sum();
        if pending && status.state == SourceState::Ok as i32 {
            status = pending_status(service);
        }
        // A service-level skip is a wanted field nobody could ask for.
        if missing(status.state) || status.state == SourceState::Skipped as i32 {
            complete = false;
        }
        sources.push(status);
    }
    let mut vendors: Vec<SourceStatus> = Vec::new();
    let mut add = |via: Service, list: &[SourceStatus]| {
        for s in list {
            if vendors
                .iter()
                .any(|v| v.source == s.source && v.via == via.name())
            {
                continue;
            }
            let mut s = s.clone();
            via.name().clone_into(&mut s.via);
            vendors.push(s);
        }
    };
    if let Some(r) = &answers.license {
        add(Service::Ocr, &r.sources);
    }
    if let Some(r) = &answers.lookup {
        add(Service::Plate, &r.sources);
    }
    if let Some(r) = &answers.decode_vin {
        add(Service::Vin, &r.sources);
    }
    if let Some(r) = &answers.violations {
        add(Service::Violation, &r.sources);
    }
    if vendors.iter().any(|v| missing(v.state)) {
        complete = false;
    }
    let paid_calls: Vec<PaidCall> = vendors
        .iter()
        .filter(|v| !v.from_cache)
        .filter_map(|v| {
            let cost = v.cost.clone()?;
            (facts::money::total_nanos(&cost) > 0).then(|| PaidCall {
                source: v.source.clone(),
                via: v.via.clone(),
                cost: Some(cost),
                vendor_request_id: vendor_request_id(answers, &v.source),
            })
        })
        .collect();
    let cost = sum(paid_calls.iter().filter_map(|c| c.cost.as_ref()));
    sources.extend(vendors);
    Table {
        sources,
        complete,
        cost,
        paid_calls,
    }
}

fn pending_status(service: Service) -> SourceStatus {
    SourceStatus {
        source: service.name().to_owned(),
        state: SourceState::Pending as i32,
        reason: "IN_PROGRESS".to_owned(),
        message: "still answering; the last message of the stream has its outcome".to_owned(),
        ..SourceStatus::default()
    }
}

/// The vendor's order number for a paid call, where an answer carries it.
fn vendor_request_id(answers: &Answers, source: &str) -> String {
    answers
        .decode_vin
        .iter()
        .flat_map(|d| d.vendor_decodes.iter())
        .filter_map(|v| v.provenance.as_ref())
        .find(|p| p.source == source)
        .map(|p| p.vendor_request_id.clone())
        .unwrap_or_default()
}

/// The sum of amounts in one currency (vendors bill in one; a second currency would be a
/// configuration error, and is left out of the sum rather than added as if it were the
/// first).
pub fn sum<'a>(amounts: impl Iterator<Item = &'a Money>) -> Option<Money> {
    let mut currency: Option<String> = None;
    let mut total: i128 = 0;
    for m in amounts {
        match &currency {
            None => currency = Some(m.currency_code.clone()),
            Some(c) if *c != m.currency_code => continue,
            Some(_) => {}
        }
        total += facts::money::total_nanos(m);
    }
    let currency = currency?;
    let units = i64::try_from(total / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = i32::try_from(total % 1_000_000_000).unwrap_or(0);
    Some(facts::money::from_units_nanos(&currency, units, nanos))
}

/// A duration as the proto's.
pub fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::axle::vin::v1::DecodeVinResponse;

    fn status(source: &str, state: SourceState) -> SourceStatus {
        SourceStatus {
            source: source.to_owned(),
            state: state as i32,
            ..SourceStatus::default()
        }
    }

    fn cny(units: i64, nanos: i32) -> Money {
        facts::money::from_units_nanos("CNY", units, nanos)
    }

    #[test]
    fn services_combine_their_rpcs_and_vendors_sit_below_them() {
        let steps = vec![
            StepStatus {
                step: Step::ValidateVin,
                status: status("vin-service", SourceState::Ok),
            },
            StepStatus {
                step: Step::DecodeVin,
                status: status("vin-service", SourceState::Ok),
            },
        ];
        let mut connapi = status("connapi", SourceState::Ok);
        connapi.cost = Some(cny(0, 500_000_000));
        let answers = Answers {
            decode_vin: Some(DecodeVinResponse {
                sources: vec![status("local", SourceState::Ok), connapi],
                ..DecodeVinResponse::default()
            }),
            ..Answers::default()
        };
        let t = build(&steps, &[], &answers);
        let names: Vec<(&str, &str)> = t
            .sources
            .iter()
            .map(|s| (s.source.as_str(), s.via.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("vin-service", ""),
                ("local", "vin-service"),
                ("connapi", "vin-service")
            ]
        );
        assert!(t.complete);
        assert_eq!(t.cost, Some(cny(0, 500_000_000)));
        assert_eq!(t.paid_calls.len(), 1);
        assert_eq!(t.paid_calls[0].via, "vin-service");
    }

    #[test]
    fn the_worst_rpc_shows_and_makes_the_answer_partial() {
        let mut late = status("vin-service", SourceState::Timeout);
        late.message = "did not answer".to_owned();
        let steps = vec![
            StepStatus {
                step: Step::ValidateVin,
                status: status("vin-service", SourceState::Ok),
            },
            StepStatus {
                step: Step::DecodeVin,
                status: late,
            },
        ];
        let t = build(&steps, &[], &Answers::default());
        assert_eq!(t.sources[0].state, SourceState::Timeout as i32);
        assert_eq!(t.sources[0].message, "DecodeVin: did not answer");
        assert!(!t.complete);
        assert_eq!(t.cost, None);
    }

    #[test]
    fn a_failed_vendor_below_an_answering_service_makes_it_partial() {
        let steps = vec![StepStatus {
            step: Step::DecodeVin,
            status: status("vin-service", SourceState::Ok),
        }];
        let answers = Answers {
            decode_vin: Some(DecodeVinResponse {
                sources: vec![status("connapi", SourceState::Failed)],
                ..DecodeVinResponse::default()
            }),
            ..Answers::default()
        };
        assert!(!build(&steps, &[], &answers).complete);
    }

    #[test]
    fn running_steps_are_pending() {
        let t = build(&[], &[Step::LookupVehicle], &Answers::default());
        assert_eq!(t.sources[0].source, "plate-service");
        assert_eq!(t.sources[0].state, SourceState::Pending as i32);
        assert!(!t.complete);
    }

    #[test]
    fn sums_stay_in_one_currency() {
        let a = cny(1, 500_000_000);
        let b = cny(0, 700_000_000);
        let usd = facts::money::from_units_nanos("USD", 5, 0);
        assert_eq!(sum([&a, &b, &usd].into_iter()), Some(cny(2, 200_000_000)));
        assert_eq!(sum(std::iter::empty()), None);
    }
}
