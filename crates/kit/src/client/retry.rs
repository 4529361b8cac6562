//! A retry budget per downstream service (as Envoy's): retries are at most `ratio` of
//! the calls made in the last `window`, plus a small floor so that a quiet service can
//! still be retried. Retries must never multiply an outage: when a service fails every
//! call, the budget runs dry and each call fails once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How calls of one service are retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Retries per call at most (only for calls the caller marks as safe to repeat, and
    /// only after UNAVAILABLE); 0 turns retries off.
    pub max_retries: u32,
    /// Retries may be at most this share of the calls made in the window ...
    pub budget_ratio: f32,
    /// ... plus this many per second of the window.
    pub min_retries_per_second: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 1,
            budget_ratio: 0.2,
            min_retries_per_second: 1,
        }
    }
}

/// The window the budget counts over.
const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Window {
    started: Instant,
    calls: u64,
    retries: u64,
    /// The previous window's counts, weighted by how much of it still overlaps (a
    /// sliding estimate without a ring of buckets).
    previous_calls: u64,
    previous_retries: u64,
}

/// The retry budget of one service.
#[derive(Debug)]
pub struct RetryBudget {
    config: RetryConfig,
    window: Mutex<Window>,
}

impl RetryBudget {
    pub fn new(config: RetryConfig) -> Self {
        Self {
            config,
            window: Mutex::new(Window {
                started: Instant::now(),
                calls: 0,
                retries: 0,
                previous_calls: 0,
                previous_retries: 0,
            }),
        }
    }

    pub fn max_retries(&self) -> u32 {
        self.config.max_retries
    }

    fn window(&self, now: Instant) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let age = now.saturating_duration_since(w.started);
        if age >= WINDOW * 2 {
            *w = Window {
                started: now,
                calls: 0,
                retries: 0,
                previous_calls: 0,
                previous_retries: 0,
            };
        } else if age >= WINDOW {
            w.previous_calls = w.calls;
            w.previous_retries = w.retries;
            w.calls = 0;
            w.retries = 0;
            w.started += WINDOW;
        }
        w
    }

    /// Counts a first attempt.
    pub fn record_call(&self, now: Instant) {
        self.window(now).calls += 1;
    }

    /// Takes one retry from the budget, if there is one left.
    pub fn try_retry(&self, now: Instant) -> bool {
        if self.config.max_retries == 0 {
            return false;
        }
        let mut w = self.window(now);
        let into = now.saturating_duration_since(w.started).as_secs_f64() / WINDOW.as_secs_f64();
        let overlap = (1.0 - into).clamp(0.0, 1.0);
        // Counts are far below 2^52: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let (calls, retries) = (
            w.calls as f64 + w.previous_calls as f64 * overlap,
            w.retries as f64 + w.previous_retries as f64 * overlap,
        );
        let allowed = calls * f64::from(self.config.budget_ratio.clamp(0.0, 1.0))
            + f64::from(self.config.min_retries_per_second) * WINDOW.as_secs_f64();
        if retries + 1.0 <= allowed {
            w.retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stay_within_the_ratio_plus_the_floor() {
        let b = RetryBudget::new(RetryConfig {
            max_retries: 1,
            budget_ratio: 0.2,
            min_retries_per_second: 0,
        });
        let now = Instant::now();
        for _ in 0..100 {
            b.record_call(now);
        }
        let granted = (0..100).filter(|_| b.try_retry(now)).count();
        assert_eq!(granted, 20, "20 % of 100 calls");
    }

    #[test]
    fn a_quiet_service_gets_the_floor() {
        let b = RetryBudget::new(RetryConfig {
            max_retries: 1,
            budget_ratio: 0.2,
            min_retries_per_second: 1,
        });
        let now = Instant::now();
        b.record_call(now);
        let granted = (0..100).filter(|_| b.try_retry(now)).count();
        assert_eq!(granted, 10, "1 per second over a 10 s window");
    }

    #[test]
    fn the_budget_refills_as_the_window_slides() {
        let b = RetryBudget::new(RetryConfig {
            max_retries: 1,
            budget_ratio: 0.2,
            min_retries_per_second: 0,
        });
        let now = Instant::now();
        for _ in 0..10 {
            b.record_call(now);
        }
        assert_eq!((0..10).filter(|_| b.try_retry(now)).count(), 2);
        let later = now + WINDOW * 3;
        assert!(!b.try_retry(later), "no calls, no budget");
        for _ in 0..10 {
            b.record_call(later);
        }
        assert_eq!((0..10).filter(|_| b.try_retry(later)).count(), 2);
    }

    #[test]
    fn zero_retries_turns_them_off() {
        let b = RetryBudget::new(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        });
        b.record_call(Instant::now());
        assert!(!b.try_retry(Instant::now()));
    }
}
