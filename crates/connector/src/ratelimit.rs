//! Per-vendor token bucket. Vendors throttle (connapi documents a per-5-seconds
//! frequency) and bill; our own limit keeps us under theirs and caps spend.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimitConfig;

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `None` when the configuration disables limiting.
    pub fn new(cfg: &RateLimitConfig) -> Option<Self> {
        (cfg.per_second > 0.0 && cfg.per_second.is_finite()).then(|| {
            let burst = f64::from(cfg.burst.max(1));
            Self {
                rate: cfg.per_second,
                burst,
                state: Mutex::new(State {
                    tokens: burst,
                    last: Instant::now(),
                }),
            }
        })
    }

    /// Takes a token now, or reserves the next one and says how long to wait for it.
    /// Reserving (letting tokens go negative) keeps waiters in order without a queue.
    /// Returns `None` (and reserves nothing) when the wait would end after `deadline`.
    pub fn acquire(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration> {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate).min(self.burst);
        // Callers read `now` before taking the lock, so they can arrive out of order:
        // never move the clock back, or the same interval is credited twice.
        s.last = s.last.max(now);
        let wait = if s.tokens >= 1.0 {
            Duration::ZERO
        } else {
            // A rate so low that the wait does not fit a Duration waits "forever".
            Duration::try_from_secs_f64((1.0 - s.tokens) / self.rate).unwrap_or(Duration::MAX)
        };
        if deadline.is_some_and(|d| now.checked_add(wait).is_none_or(|t| t > d)) {
            return None;
        }
        s.tokens -= 1.0;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_paced() {
        let b = TokenBucket::new(&RateLimitConfig {
            per_second: 10.0,
            burst: 2,
        })
        .expect("enabled");
        let t0 = Instant::now();
        assert_eq!(b.acquire(t0, None), Some(Duration::ZERO));
        assert_eq!(b.acquire(t0, None), Some(Duration::ZERO));
        let w = b.acquire(t0, None).expect("reserved");
        assert!((w.as_secs_f64() - 0.1).abs() < 1e-6, "{w:?}");
        // The next waiter queues behind the reservation.
        let w2 = b.acquire(t0, None).expect("reserved");
        assert!((w2.as_secs_f64() - 0.2).abs() < 1e-6, "{w2:?}");
        // A deadline that cannot be met reserves nothing.
        assert_eq!(b.acquire(t0, Some(t0 + Duration::from_millis(50))), None);
        // A caller that read its clock earlier but got the lock later is not credited
        // the same interval twice.
        let b = TokenBucket::new(&RateLimitConfig {
            per_second: 1.0,
            burst: 1,
        })
        .expect("enabled");
        let later = t0 + Duration::from_millis(900);
        assert_eq!(b.acquire(t0, None), Some(Duration::ZERO));
        let _ = b.acquire(later, None).expect("reserved");
        let _ = b.acquire(t0, None).expect("reserved");
        let w = b.acquire(later, None).expect("reserved");
        assert!(w >= Duration::from_secs(2), "one token per second: {w:?}");
        // An absurdly low rate waits "forever" rather than panicking.
        let slow = TokenBucket::new(&RateLimitConfig {
            per_second: 1e-20,
            burst: 1,
        })
        .expect("enabled");
        let _ = slow.acquire(t0, None);
        assert_eq!(slow.acquire(t0, None), Some(Duration::MAX));
        assert!(TokenBucket::new(&RateLimitConfig::default()).is_none());
    }
}
