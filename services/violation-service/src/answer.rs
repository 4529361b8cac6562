//! The QueryViolations response from what the source answered: the outcome ("no
//! violations" is not "vehicle unknown"), the records, and the totals with where they come
//! from and whether the vendor's disagree with its records.

use std::time::SystemTime;

use contracts::axle::common::v1::{Money, SourceState, SourceStatus};
use contracts::axle::plate::v1::VendorField;
use contracts::axle::violation::v1 as pb;

use crate::report::{Answer, Handling, Record, ViolationReport};

/// Fills `resp` (plate, type, rule and notes already set) from the sources' answers.
pub fn fill(
    resp: &mut pb::QueryViolationsResponse,
    answers: &[Answer],
    statuses: Vec<SourceStatus>,
) {
    let report = answers.iter().find_map(|a| match a {
        Answer::Report(r) => Some(r),
        Answer::Pending { .. } => None,
    });
    let pending = answers.iter().find_map(|a| match a {
        Answer::Pending { handle } => Some(handle.clone()),
        Answer::Report(_) => None,
    });
    if let Some(r) = report {
        fill_report(resp, r);
    } else if let Some(handle) = pending {
        resp.outcome = pb::QueryOutcome::Pending as i32;
        resp.query_handle = handle;
    } else if statuses
        .iter()
        .any(|s| s.state == SourceState::NotFound as i32)
    {
        resp.outcome = pb::QueryOutcome::VehicleUnknown as i32;
    } else {
        resp.outcome = pb::QueryOutcome::Unavailable as i32;
    }
    resp.sources = statuses;
}

fn fill_report(resp: &mut pb::QueryViolationsResponse, r: &ViolationReport) {
    let source = r.provenance.source.clone();
    resp.violations = r
        .records
        .iter()
        .map(|rec| violation(rec, r, &source))
        .collect();
    let listed = i32::try_from(r.records.len()).unwrap_or(i32::MAX);
    let summed_points: i64 = r
        .records
        .iter()
        .filter_map(|v| v.points.map(i64::from))
        .sum();
    let summed_fen: i64 = r.records.iter().filter_map(|v| v.fine_fen).sum();
    let vendor_totals = r.count.is_some() || r.fine_total_fen.is_some() || r.points_total.is_some();
    if vendor_totals {
        resp.totals_basis = pb::TotalsBasis::Vendor as i32;
        resp.violation_count = r.count.map_or(listed, clamp);
        resp.total_points = r.points_total.map_or(clamp(summed_points), clamp);
        resp.total_fine = Some(cny(r.fine_total_fen.unwrap_or(summed_fen)));
        let mut differ = Vec::new();
        if let Some(n) = r.count
            && n != i64::from(listed)
        {
            differ.push(format!("vendor says {n} violations, {listed} listed"));
        }
        if let Some(f) = r.fine_total_fen
            && f != summed_fen
        {
            differ.push(format!(
                "vendor's fine total {} yuan, records sum to {} yuan",
                yuan(f),
                yuan(summed_fen)
            ));
        }
        if let Some(p) = r.points_total
            && p != summed_points
        {
            differ.push(format!(
                "vendor's points total {p}, records sum to {summed_points}"
            ));
        }
        if !differ.is_empty() {
            resp.totals_mismatch = Some(pb::TotalsMismatch {
                records: listed,
                summed_points: clamp(summed_points),
                summed_fine: Some(cny(summed_fen)),
                message: differ.join("; "),
            });
        }
    } else {
        resp.totals_basis = pb::TotalsBasis::Summed as i32;
        resp.violation_count = listed;
        resp.total_points = clamp(summed_points);
        resp.total_fine = Some(cny(summed_fen));
    }
    resp.outcome = if r.records.is_empty() && resp.violation_count == 0 {
        pb::QueryOutcome::NoViolations
    } else {
        pb::QueryOutcome::Violations
    } as i32;
    if let Some(at) = r.received_at {
        resp.as_of = Some(prost_types::Timestamp::from(at));
        let age = SystemTime::now().duration_since(at).unwrap_or_default();
        resp.age = prost_types::Duration::try_from(age).ok();
    }
    resp.unmapped_fields = r
        .unmapped
        .iter()
        .map(|(k, v)| VendorField {
            source: source.clone(),
            name: k.clone(),
            value: v.clone(),
        })
        .collect();
}

fn violation(rec: &Record, r: &ViolationReport, source: &str) -> pb::Violation {
    pb::Violation {
        occurred_at: rec
            .occurred_at
            .map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
        occurred_at_local: rec.occurred_at_local.clone(),
        address: rec.address.clone(),
        action: rec.action.clone(),
        code: rec.code.clone(),
        points: rec.points,
        fine: rec.fine_fen.map(cny),
        handling: match rec.handling {
            Handling::Unknown => pb::HandlingState::Unspecified,
            Handling::Unhandled => pb::HandlingState::Unhandled,
            Handling::HandledUnpaid => pb::HandlingState::HandledUnpaid,
            Handling::Paid => pb::HandlingState::Paid,
        } as i32,
        can_handle_online: rec.can_handle_online,
        city: rec.city.clone(),
        city_code: rec.city_code.clone(),
        collecting_agency: rec.collecting_agency.clone(),
        decision_number: rec.decision_number.clone(),
        handling_number: rec.handling_number.clone(),
        monitor_number: rec.monitor_number.clone(),
        provenance: Some(r.provenance.clone()),
        unmapped_fields: rec
            .unmapped
            .iter()
            .map(|(k, v)| VendorField {
                source: source.to_owned(),
                name: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
}

fn clamp(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// Fen as CNY Money.
pub fn cny(fen: i64) -> Money {
    facts::money::from_units_nanos(
        "CNY",
        fen / 100,
        i32::try_from((fen % 100) * 10_000_000).unwrap_or(0),
    )
}

fn yuan(fen: i64) -> String {
    if fen % 100 == 0 {
        (fen / 100).to_string()
    } else {
        format!("{}.{:02}", fen / 100, fen % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fine: Option<i64>, points: Option<i32>, at: i64) -> Record {
        Record {
            occurred_at: Some(at),
            fine_fen: fine,
            points,
            handling: Handling::Unhandled,
            ..Record::default()
        }
    }

    fn run(r: ViolationReport) -> pb::QueryViolationsResponse {
        let mut resp = pb::QueryViolationsResponse::default();
        fill(&mut resp, &[Answer::Report(Box::new(r))], Vec::new());
        resp
    }

    #[test]
    fn vendor_totals_are_used_and_a_mismatch_is_flagged() {
        let resp = run(ViolationReport {
            count: Some(3),
            fine_total_fen: Some(45_000),
            points_total: Some(6),
            records: vec![rec(Some(20_000), Some(3), 2), rec(Some(10_000), Some(3), 1)],
            ..ViolationReport::default()
        });
        assert_eq!(resp.outcome, pb::QueryOutcome::Violations as i32);
        assert_eq!(resp.totals_basis, pb::TotalsBasis::Vendor as i32);
        assert_eq!((resp.violation_count, resp.total_points), (3, 6));
        assert_eq!(resp.total_fine.as_ref().map(|m| m.units), Some(450));
        let m = resp.totals_mismatch.expect("mismatch");
        assert_eq!((m.records, m.summed_points), (2, 6));
        assert_eq!(m.summed_fine.map(|f| f.units), Some(300));
        assert!(
            m.message.contains("vendor says 3 violations, 2 listed"),
            "{}",
            m.message
        );
        assert!(m.message.contains("450"), "{}", m.message);
    }

    #[test]
    fn without_vendor_totals_axle_sums() {
        let resp = run(ViolationReport {
            records: vec![rec(Some(20_050), Some(3), 2), rec(None, None, 1)],
            ..ViolationReport::default()
        });
        assert_eq!(resp.totals_basis, pb::TotalsBasis::Summed as i32);
        assert_eq!((resp.violation_count, resp.total_points), (2, 3));
        let fine = resp.total_fine.expect("fine");
        assert_eq!(
            (fine.units, fine.nanos, fine.currency_code.as_str()),
            (200, 500_000_000, "CNY")
        );
        assert!(resp.totals_mismatch.is_none());
        assert_eq!(resp.violations[1].fine, None, "a blank fine stays unknown");
    }

    #[test]
    fn no_violations_vehicle_unknown_pending_and_unavailable_differ() {
        let none = run(ViolationReport {
            count: Some(0),
            ..ViolationReport::default()
        });
        assert_eq!(none.outcome, pb::QueryOutcome::NoViolations as i32);
        let mut unknown = pb::QueryViolationsResponse::default();
        fill(
            &mut unknown,
            &[],
            vec![SourceStatus {
                state: SourceState::NotFound as i32,
                ..SourceStatus::default()
            }],
        );
        assert_eq!(unknown.outcome, pb::QueryOutcome::VehicleUnknown as i32);
        let mut pending = pb::QueryViolationsResponse::default();
        fill(
            &mut pending,
            &[Answer::Pending {
                handle: "h1".into(),
            }],
            Vec::new(),
        );
        assert_eq!(
            (pending.outcome, pending.query_handle.as_str()),
            (pb::QueryOutcome::Pending as i32, "h1")
        );
        let mut down = pb::QueryViolationsResponse::default();
        fill(
            &mut down,
            &[],
            vec![SourceStatus {
                state: SourceState::Failed as i32,
                ..SourceStatus::default()
            }],
        );
        assert_eq!(down.outcome, pb::QueryOutcome::Unavailable as i32);
    }

    proptest::proptest! {
        /// Axle's sums are the records' sums, whatever the records.
        #[test]
        fn sums_are_exact(fines in proptest::collection::vec(proptest::option::of(0_i64..1_000_000), 0..20)) {
            let records: Vec<Record> = fines.iter().map(|f| rec(*f, Some(1), 0)).collect();
            let resp = run(ViolationReport { records, ..ViolationReport::default() });
            let fen: i64 = fines.iter().flatten().sum();
            let m = resp.total_fine.expect("fine");
            proptest::prop_assert_eq!(m.units * 100 + i64::from(m.nanos) / 10_000_000, fen);
            proptest::prop_assert_eq!(usize::try_from(resp.violation_count).ok(), Some(fines.len()));
        }
    }
}
