//! A circuit breaker per downstream service, by consecutive failures (as linkerd's
//! failure accrual): after `failure_threshold` failures in a row the service is not
//! called for `open_for`; then one call is let through as a probe (half-open): its
//! success closes the breaker, its failure opens it again. While open, a call fails at
//! once with the time left, instead of waiting on a service that is down: the caller's
//! deadline goes to the sources that can answer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::duration;

/// The breaker of one downstream service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// False: every call is made.
    pub enabled: bool,
    /// Failures in a row (UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS, or no answer in
    /// time) that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a probe is let through.
    #[serde(with = "duration")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_threshold: 5,
            open_for: Duration::from_secs(5),
        }
    }
}

/// What the breaker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// The value of the `client_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// A circuit breaker (see the module documentation).
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// A call the breaker let through; report its outcome with [`Permit::record`]. A permit
/// dropped without an outcome (the call was cancelled) counts as a failure of a probe,
/// and as nothing otherwise.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Permit<'_> {
    /// Records the call's outcome; returns the breaker's state after it.
    pub fn record(self, success: bool) -> BreakerState {
        self.record_at(success, Instant::now())
    }

    /// [`Permit::record`] at `now`.
    pub fn record_at(mut self, success: bool, now: Instant) -> BreakerState {
        self.recorded = true;
        self.breaker.record(success, now)
    }
}

impl Permit<'_> {
    /// The call was not made after all (no time was left): a probe goes back unused.
    pub fn release(mut self) {
        self.recorded = true;
        if self.probe {
            let mut state = self.breaker.lock();
            if let State::HalfOpen { probing } = &mut *state {
                *probing = false;
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            self.breaker.record(false, Instant::now());
        }
    }
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Lets a call through, or says how long until a probe may be made.
    pub fn admit(&self, now: Instant) -> Result<Permit<'_>, Duration> {
        if !self.config.enabled {
            return Ok(self.permit(false));
        }
        let mut state = self.lock();
        match &mut *state {
            State::Closed { .. } => Ok(self.permit(false)),
            State::Open { until } if now < *until => Err(*until - now),
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                Ok(self.permit(true))
            }
            // One probe at a time; the others wait for its outcome.
            State::HalfOpen { probing: true } => Err(self.config.open_for),
            State::HalfOpen { probing } => {
                *probing = true;
                Ok(self.permit(true))
            }
        }
    }

    fn permit(&self, probe: bool) -> Permit<'_> {
        Permit {
            breaker: self,
            probe,
            recorded: false,
        }
    }

    fn record(&self, success: bool, now: Instant) -> BreakerState {
        if !self.config.enabled {
            return BreakerState::Closed;
        }
        let mut state = self.lock();
        let next = match (&*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.config.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            // A call admitted before the breaker opened, ending after: already open.
            (State::Open { until }, false) => State::Open { until: *until },
            (_, false) => State::Open {
                until: now + self.config.open_for,
            },
        };
        *state = next;
        match *state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// Whether a call's outcome counts as the service failing (not the request being
/// refused: INVALID_ARGUMENT or NOT_FOUND say the service works).
pub fn is_failure(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unavailable
            | tonic::Code::Internal
            | tonic::Code::Unknown
            | tonic::Code::DataLoss
            | tonic::Code::DeadlineExceeded
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            enabled: true,
            failure_threshold: 3,
            open_for: 5 * S,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..2 {
            b.admit(t0).expect("closed").record_at(false, t0);
        }
        // A success in between resets the count.
        b.admit(t0).expect("closed").record_at(true, t0);
        for _ in 0..2 {
            b.admit(t0).expect("closed").record_at(false, t0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(
            b.admit(t0).expect("closed").record_at(false, t0),
            BreakerState::Open
        );
        let wait = b.admit(t0 + S).expect_err("open");
        assert_eq!(wait, 4 * S);
    }

    #[test]
    fn one_probe_when_the_time_is_up_then_closed_or_open_again() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.admit(t0).expect("closed").record_at(false, t0);
        }
        let later = t0 + 6 * S;
        let probe = b.admit(later).expect("a probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.admit(later).is_err(), "one probe at a time");
        assert_eq!(
            probe.record_at(false, later),
            BreakerState::Open,
            "the probe failed"
        );
        assert!(b.admit(later).is_err());
        let probe = b.admit(later + 6 * S).expect("next probe");
        assert_eq!(probe.record_at(true, later + 6 * S), BreakerState::Closed);
        assert!(b.admit(later + 6 * S).is_ok());
    }

    #[test]
    fn a_probe_dropped_without_an_outcome_opens_it_again() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.admit(t0).expect("closed").record_at(false, t0);
        }
        drop(b.admit(t0 + 6 * S).expect("a probe"));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn disabled_lets_everything_through() {
        let b = Breaker::new(BreakerConfig {
            enabled: false,
            ..BreakerConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..100 {
            b.admit(t0).expect("disabled").record(false);
        }
    }

    #[test]
    fn what_counts_as_the_service_failing() {
        assert!(is_failure(tonic::Code::Unavailable));
        assert!(is_failure(tonic::Code::DeadlineExceeded));
        assert!(!is_failure(tonic::Code::InvalidArgument));
        assert!(!is_failure(tonic::Code::NotFound));
        assert!(!is_failure(tonic::Code::Ok));
    }
}
