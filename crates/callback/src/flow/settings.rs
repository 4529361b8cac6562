//! The times that govern one vendor's callbacks.

use std::time::Duration;

use crate::store::{ClaimPolicy, Retention};

/// How one async vendor's queries are reused, claimed, awaited and retried.
///
/// Plain data: the service's configuration owns the file format and maps onto this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A stored (reusable) answer younger than this is returned instead of asking, and
    /// paying, again. Default 30 days.
    pub result_ttl: Duration,
    /// How long an accepted submission holds its key while its callback is awaited:
    /// a caller within it waits for that callback instead of paying again. Default 14 h:
    /// platecb's last retry comes 5 (or 10) min + 1 h + 12 h after the first delivery.
    pub pending_ttl: Duration,
    /// Longest a caller waits for a callback, whatever its deadline: past it the caller
    /// gets `Pending` and the other sources' answers go out. Default 10 s.
    pub max_wait: Duration,
    /// The deadline a submission gets. It runs on its own, to its end, however early
    /// the caller who started it leaves. Default 30 s.
    pub submit_timeout: Duration,
    /// A claim whose submission is not settled after this was left by a process that
    /// died, perhaps with the request on the wire: from then on it counts as unclear
    /// (callers are told the query may not have arrived) and is taken over
    /// `unclear_resubmit_after` later. Must exceed `submit_timeout` by
    /// [`Settings::SETTLE_MARGIN`], or a slow submission could be doubled. Default 120 s.
    pub submit_window: Duration,
    /// After an unclear submission (the vendor may or may not have it), how long the key
    /// stays claimed: callers are told at once that the submission may not have arrived,
    /// and nobody pays again before this has passed. Default 5 min: a vendor that got the
    /// query calls back within seconds, and a lost query should not block for hours.
    pub unclear_resubmit_after: Duration,
    /// How often a waiting caller looks in the store for what another replica did (a
    /// callback it received, a submission it settled). Callers on this replica are woken
    /// at once. Default 1 s.
    pub poll_interval: Duration,
    /// What a caller told `Pending` (submitting or accepted) hears about when to ask
    /// again. Default 5 s: vendors usually call back within seconds.
    pub pending_retry_after: Duration,
    /// How many of a key's newest stored answers are looked at for one to reuse (a newer
    /// failed answer must not hide an older good one). Default 5.
    pub reuse_candidates: u32,
    /// How long submissions are remembered by [`crate::Callbacks::purge`]; a callback
    /// for a forgotten one is refused. Default 48 h (well past `pending_ttl`).
    pub keep_submissions: Duration,
    /// How long answers are kept by `purge`; `None` keeps them all. Default `None`:
    /// each was paid for, and they are small.
    pub keep_results: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            result_ttl: Duration::from_secs(30 * 24 * 3600),
            pending_ttl: Duration::from_secs(14 * 3600),
            max_wait: Duration::from_secs(10),
            submit_timeout: Duration::from_secs(30),
            submit_window: Duration::from_secs(120),
            unclear_resubmit_after: Duration::from_secs(5 * 60),
            poll_interval: Duration::from_secs(1),
            pending_retry_after: Duration::from_secs(5),
            reuse_candidates: 5,
            keep_submissions: Duration::from_secs(48 * 3600),
            keep_results: None,
        }
    }
}

/// A setting that cannot work, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callback settings: `{field}` {problem}")]
pub struct SettingsError {
    pub field: &'static str,
    pub problem: String,
}

impl Settings {
    /// Time between a submission's deadline and the flow giving up on it (a connector
    /// that does not honour its deadline): settling it must still fit in the submit window.
    pub const SETTLE_MARGIN: Duration = Duration::from_secs(5);

    /// The longest any of these times may be (ten years): beyond it a value is a typo,
    /// and keeping below it keeps every deadline computed from them representable.
    pub const LONGEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.keep_results.is_some_and(|d| d.is_zero()) {
            return Err(SettingsError {
                field: "keep_results",
                problem: "must be more than zero (leave it unset to keep every answer)".to_owned(),
            });
        }
        let times = [
            ("result_ttl", self.result_ttl),
            ("pending_ttl", self.pending_ttl),
            ("max_wait", self.max_wait),
            ("submit_timeout", self.submit_timeout),
            ("submit_window", self.submit_window),
            ("unclear_resubmit_after", self.unclear_resubmit_after),
            ("poll_interval", self.poll_interval),
            ("pending_retry_after", self.pending_retry_after),
            ("keep_submissions", self.keep_submissions),
        ];
        let keep_results = self.keep_results.map(|d| ("keep_results", d));
        for (field, d) in times.into_iter().chain(keep_results) {
            if d.is_zero() {
                return Err(SettingsError {
                    field,
                    problem: "must be more than zero".to_owned(),
                });
            }
            if d > Self::LONGEST {
                return Err(SettingsError {
                    field,
                    problem: format!("({d:?}) must not exceed ten years"),
                });
            }
        }
        if self.reuse_candidates == 0 {
            return Err(SettingsError {
                field: "reuse_candidates",
                problem: "must be at least 1".to_owned(),
            });
        }
        if self.submit_timeout + Self::SETTLE_MARGIN > self.submit_window {
            return Err(SettingsError {
                field: "submit_window",
                problem: format!(
                    "({:?}) must exceed submit_timeout ({:?}) by at least {:?}, or a slow \
                     submission would be taken over and paid twice",
                    self.submit_window,
                    self.submit_timeout,
                    Self::SETTLE_MARGIN
                ),
            });
        }
        Ok(())
    }

    pub fn claim_policy(&self) -> ClaimPolicy {
        ClaimPolicy {
            submit_window: self.submit_window,
            accepted_ttl: self.pending_ttl,
            unclear_resubmit_after: self.unclear_resubmit_after,
        }
    }

    pub fn retention(&self) -> Retention {
        Retention {
            submissions: self.keep_submissions,
            results: self.keep_results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_and_impossible_values_are_named() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let zero = Settings {
            max_wait: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(zero.validate().map_err(|e| e.field), Err("max_wait"));
        let doubled = Settings {
            submit_timeout: Duration::from_secs(118),
            ..Settings::default()
        };
        let err = doubled.validate().expect_err("window too short");
        assert_eq!(err.field, "submit_window");
        assert!(err.to_string().contains("paid twice"), "{err}");
        let keep = Settings {
            keep_results: Some(Duration::ZERO),
            ..Settings::default()
        };
        assert_eq!(keep.validate().map_err(|e| e.field), Err("keep_results"));
        let absurd = Settings {
            pending_ttl: Duration::MAX,
            ..Settings::default()
        };
        assert_eq!(absurd.validate().map_err(|e| e.field), Err("pending_ttl"));
    }
}
