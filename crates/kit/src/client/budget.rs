//! How long one downstream call may take: the caller's remaining time minus a reserve,
//! capped by the client's own timeout. Sent as `grpc-timeout`, so the service called
//! stops working (and stops paying vendors) when its answer could no longer be used.

use std::time::{Duration, Instant};

/// Below this a call cannot succeed: Axle's servers answer DEADLINE_EXCEEDED a millisecond
/// before the `grpc-timeout` they receive, so a shorter budget only costs a round trip.
pub const MIN_BUDGET: Duration = Duration::from_millis(1);

/// The time a call may take at `now`, or `None` when nothing is left for it.
///
/// `deadline` is the caller's own (as [`crate::deadline::deadline_of`] gives a handler);
/// `None` means the caller has none, and the call gets `cap`.
pub fn budget(
    now: Instant,
    deadline: Option<Instant>,
    reserve: Duration,
    cap: Duration,
) -> Option<Duration> {
    let budget = match deadline {
        None => cap,
        Some(deadline) => deadline
            .saturating_duration_since(now)
            .saturating_sub(reserve)
            .min(cap),
    };
    (budget >= MIN_BUDGET).then_some(budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_remaining_time_minus_the_reserve_capped_by_the_timeout() {
        let now = Instant::now();
        let reserve = 10 * MS;
        let cap = 2000 * MS;
        assert_eq!(
            budget(now, None, reserve, cap),
            Some(cap),
            "no deadline: cap"
        );
        assert_eq!(
            budget(now, Some(now + 500 * MS), reserve, cap),
            Some(490 * MS)
        );
        assert_eq!(
            budget(now, Some(now + 60_000 * MS), reserve, cap),
            Some(cap),
            "a far deadline is capped"
        );
        assert_eq!(
            budget(now, Some(now + 11 * MS), reserve, cap),
            Some(MS),
            "a millisecond is still worth a call"
        );
    }

    #[test]
    fn nothing_left_means_no_call() {
        let now = Instant::now();
        let reserve = 10 * MS;
        let cap = 2000 * MS;
        for deadline in [
            now + 10 * MS,                          // all of it is reserve
            now + 10 * MS + MS / 2,                 // less than a millisecond after it
            now,                                    // due now
            now.checked_sub(5 * MS).unwrap_or(now), // already past
        ] {
            assert_eq!(budget(now, Some(deadline), reserve, cap), None);
        }
        assert_eq!(budget(now, None, reserve, Duration::ZERO), None, "zero cap");
    }
}
