//! A cheap per-source latency estimate for the hedged flow: the p95 of the last
//! [`WINDOW`] asks.
//!
//! A ring of recent samples rather than a histogram: the hedge delay must follow a
//! source whose latency changes (a vendor that slows down at peak hours), and a window
//! forgets; sorting 128 durations once per hedged ask costs well under a microsecond.

use std::sync::Mutex;
use std::time::Duration;

/// How many recent asks the estimate remembers.
pub(crate) const WINDOW: usize = 128;
/// Below this many samples the p95 is mostly noise: the flow uses its configured default.
pub(crate) const MIN_SAMPLES: usize = 20;

#[derive(Debug, Default)]
pub(crate) struct Latencies {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    samples: Vec<Duration>,
    next: usize,
}

impl Latencies {
    pub(crate) fn record(&self, took: Duration) {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ring.samples.len() < WINDOW {
            ring.samples.push(took);
        } else {
            let i = ring.next;
            ring.samples[i] = took;
        }
        ring.next = (ring.next + 1) % WINDOW;
    }

    /// The 95th percentile of the remembered samples; `None` with fewer than
    /// [`MIN_SAMPLES`].
    pub(crate) fn p95(&self) -> Option<Duration> {
        let mut samples = {
            let ring = self
                .ring
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if ring.samples.len() < MIN_SAMPLES {
                return None;
            }
            ring.samples.clone()
        };
        // Nearest rank: the smallest sample with at least 95 % of samples at or below it.
        let rank = (samples.len() * 95).div_ceil(100) - 1;
        let (_, p95, _) = samples.select_nth_unstable(rank);
        Some(*p95)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_estimate_until_enough_samples() {
        let l = Latencies::default();
        for _ in 0..MIN_SAMPLES - 1 {
            l.record(ms(10));
        }
        assert_eq!(l.p95(), None);
        l.record(ms(10));
        assert_eq!(l.p95(), Some(ms(10)));
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let l = Latencies::default();
        // 1..=100 ms shuffled by a stride coprime to 100: order must not matter.
        for i in 0..100u64 {
            l.record(ms((i * 37) % 100 + 1));
        }
        assert_eq!(l.p95(), Some(ms(95)));
    }

    #[test]
    fn the_window_forgets_old_samples() {
        let l = Latencies::default();
        for _ in 0..WINDOW {
            l.record(ms(500));
        }
        assert_eq!(l.p95(), Some(ms(500)));
        for _ in 0..WINDOW {
            l.record(ms(5));
        }
        assert_eq!(
            l.p95(),
            Some(ms(5)),
            "a source that got faster is hedged sooner"
        );
    }
}
