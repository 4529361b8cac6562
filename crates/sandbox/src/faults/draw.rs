//! The random part of a rule: whether it fires, and how long its latency is. Certain
//! outcomes consume no randomness, so adding a fixed rule does not shift the draws of
//! the probabilistic ones.

use std::time::Duration;

use rand::Rng;

use super::rule::Latency;

/// z-score of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

/// True with probability `p` (clamped to 0..=1).
pub(crate) fn fires(rng: &mut impl Rng, p: f64) -> bool {
    if p >= 1.0 {
        true
    } else if p <= 0.0 {
        false
    } else {
        rng.random::<f64>() < p
    }
}

/// One latency draw.
#[expect(
    clippy::cast_precision_loss,
    reason = "millisecond values far below 2^52"
)]
pub(crate) fn sample(l: Latency, rng: &mut impl Rng) -> Duration {
    match l {
        Latency::Fixed { ms } => Duration::from_millis(ms),
        Latency::Uniform { min_ms, max_ms } => {
            // Validation keeps min <= max; a swapped pair is still drawn from, not a panic.
            Duration::from_millis(rng.random_range(min_ms.min(max_ms)..=max_ms.max(min_ms)))
        }
        Latency::LogNormal {
            p50_ms,
            p99_ms,
            max_ms,
        } => {
            let mu = (p50_ms.max(1) as f64).ln();
            let sigma = ((p99_ms.max(1) as f64).ln() - mu).max(0.0) / Z_P99;
            // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let cap = max_ms.unwrap_or(p99_ms.saturating_mul(10)) as f64;
            Duration::try_from_secs_f64((mu + sigma * z).exp().min(cap) / 1000.0)
                .unwrap_or(Duration::ZERO)
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn lognormal_hits_its_percentiles() {
        let mut rng = StdRng::seed_from_u64(7);
        let l = Latency::LogNormal {
            p50_ms: 100,
            p99_ms: 1000,
            max_ms: None,
        };
        let mut v: Vec<Duration> = (0..20_000).map(|_| sample(l, &mut rng)).collect();
        v.sort();
        let p50 = v[v.len() / 2].as_millis();
        let p99 = v[v.len() * 99 / 100].as_millis();
        assert!((90..=110).contains(&p50), "p50 {p50}");
        assert!((850..=1150).contains(&p99), "p99 {p99}");
        assert!(v.iter().all(|d| d.as_millis() <= 10_000));
    }

    #[test]
    fn certain_outcomes_draw_nothing() {
        let mut a = StdRng::seed_from_u64(3);
        let mut b = StdRng::seed_from_u64(3);
        assert!(fires(&mut a, 1.0));
        assert!(!fires(&mut a, 0.0));
        assert!(!fires(&mut a, -1.0));
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }
}
