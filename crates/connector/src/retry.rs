//! Backoff schedule: exponential, capped, jittered.

use std::time::Duration;

use rand::Rng;

use crate::config::{Jitter, RetryPolicy};

/// The pause before attempt `attempt + 1` (after `attempt` failed attempts, 1-based).
pub fn backoff<R: Rng + ?Sized>(policy: &RetryPolicy, attempt: u32, rng: &mut R) -> Duration {
    let exp = policy
        .multiplier
        .max(1.0)
        .powi(i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX));
    let base = policy.initial_backoff.as_secs_f64() * exp;
    let capped = base.min(policy.max_backoff.as_secs_f64()).max(0.0);
    let secs = match policy.jitter {
        Jitter::None => capped,
        Jitter::Full => rng.random_range(0.0..=capped),
        Jitter::Equal => capped / 2.0 + rng.random_range(0.0..=capped / 2.0),
    };
    Duration::try_from_secs_f64(secs).unwrap_or(policy.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn exponential_and_capped_without_jitter() {
        let p = policy(Jitter::None);
        let mut rng = StdRng::seed_from_u64(7);
        let schedule: Vec<u128> = (1..=6)
            .map(|a| backoff(&p, a, &mut rng).as_millis())
            .collect();
        assert_eq!(schedule, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut rng = StdRng::seed_from_u64(42);
        for attempt in 1..=6 {
            let cap = backoff(&policy(Jitter::None), attempt, &mut rng);
            for _ in 0..100 {
                let full = backoff(&policy(Jitter::Full), attempt, &mut rng);
                assert!(full <= cap);
                let equal = backoff(&policy(Jitter::Equal), attempt, &mut rng);
                assert!(equal >= cap / 2 && equal <= cap);
            }
        }
    }
}
