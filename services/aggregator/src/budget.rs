//! A request's spend cap: each paid call reserves its configured price before it is made,
//! and a call whose price would take the request past its cap (the request's own or the
//! deployment's, whichever is lower) is not made: SKIPPED_BY_BUDGET.

use contracts::axle::common::v1::{Money, SourceState, SourceStatus};

use crate::plan::Step;
use crate::table;

/// What a request may still spend.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The lower of the caps, in nanos of its currency.
    cap: Option<(i128, String)>,
    reserved: i128,
}

impl Budget {
    /// The lower of the request's and the deployment's caps (either may be unset).
    pub fn new(request: Option<&Money>, deployment: Option<&Money>) -> Self {
        let cap = [request, deployment]
            .into_iter()
            .flatten()
            .map(|m| (facts::money::total_nanos(m), m.currency_code.clone()))
            .min_by_key(|(n, _)| *n);
        Self { cap, reserved: 0 }
    }

    /// Reserves `price` for `step`, or says why the call is not made.
    #[allow(clippy::result_large_err)] // the status is what the caller reports
    pub fn reserve(&mut self, step: Step, price: Option<&Money>) -> Result<(), SourceStatus> {
        let Some(price) = price else { return Ok(()) };
        let nanos = facts::money::total_nanos(price);
        if let Some((cap, currency)) = &self.cap
            && self.reserved + nanos > *cap
        {
            let cap_money = money(*cap, currency);
            let spent = facts::money::display(&money(self.reserved, currency));
            return Err(table::skipped(
                step,
                SourceState::SkippedByBudget,
                "SPEND_CAP_REACHED",
                &format!(
                    "not called: it can cost {}, and with {spent} already committed that \
                     would exceed the spend cap of {}; raise spend_cap or include fewer \
                     fields",
                    facts::money::display(price),
                    facts::money::display(&cap_money)
                ),
            ));
        }
        self.reserved += nanos;
        Ok(())
    }
}

fn money(nanos: i128, currency: &str) -> Money {
    facts::money::from_units_nanos(
        currency,
        i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX),
        i32::try_from(nanos % 1_000_000_000).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(units: i64, nanos: i32) -> Money {
        facts::money::from_units_nanos("CNY", units, nanos)
    }

    #[test]
    fn no_cap_spends_freely() {
        let mut b = Budget::new(None, None);
        for _ in 0..10 {
            b.reserve(Step::DecodeVin, Some(&cny(100, 0)))
                .expect("no cap");
        }
    }

    #[test]
    fn the_lower_cap_applies_and_a_call_over_it_is_skipped_by_budget() {
        let mut b = Budget::new(Some(&cny(1, 0)), Some(&cny(0, 600_000_000)));
        b.reserve(Step::DecodeVin, Some(&cny(0, 500_000_000)))
            .expect("0.5 of 0.6");
        let s = b
            .reserve(Step::LookupVehicle, Some(&cny(0, 500_000_000)))
            .expect_err("1.0 > 0.6");
        assert_eq!(s.state, SourceState::SkippedByBudget as i32);
        assert_eq!(s.source, "plate-service");
        assert_eq!(s.reason, "SPEND_CAP_REACHED");
        assert!(s.message.contains("CNY 0.60"), "{}", s.message);
        // A free call always goes.
        b.reserve(Step::ParsePlate, None).expect("free");
        b.reserve(Step::QueryViolations, Some(&cny(0, 0)))
            .expect("zero price");
    }

    #[test]
    fn a_zero_cap_skips_every_priced_call() {
        let mut b = Budget::new(Some(&cny(0, 0)), None);
        assert!(b.reserve(Step::DecodeVin, Some(&cny(0, 1))).is_err());
    }
}
