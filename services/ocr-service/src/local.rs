//! The in-process OCR engine, behind a seam: a [`Reader`] reads a decoded photo into
//! field readings; [`LocalEngine`] runs it on the blocking pool, a bounded number at a
//! time, so that a burst of photos queues instead of stalling the RPC runtime.
//!
//! The engine itself (PP-OCR on onnxruntime) is its own crate; until it is built into
//! this service, `local.enabled = true` is refused at start and the vendor reads.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::common::v1::Provenance;
use image::DynamicImage;
use tokio::sync::Semaphore;

use crate::read::{RawRead, Side};

/// Source name of local readings in provenance and statuses.
pub const SOURCE: &str = "ocr-engine";

/// Reads one photo. CPU-heavy and blocking: called on the blocking pool only.
pub trait Reader: Send + Sync + Debug {
    /// Reads `image` as `side`, or detects the side when `None`.
    fn read(&self, image: &DynamicImage, side: Option<Side>) -> Result<RawRead, String>;
}

/// Provenance of a local reading.
pub fn provenance() -> Provenance {
    Provenance {
        source: SOURCE.to_owned(),
        local: true,
        rule: "pp-ocr".to_owned(),
        fetched_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Provenance::default()
    }
}

/// Why a blocking job did not run to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("every recognition slot stayed busy for {0:?}")]
    Busy(Duration),
    #[error("the request deadline passed while waiting for a recognition slot")]
    Deadline,
    #[error("the job failed: {0}")]
    Panicked(String),
}

/// The bounded blocking pool (decoding, recognition, re-encoding).
#[derive(Debug, Clone)]
pub struct Pool {
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl Pool {
    pub fn new(size: usize, queue_timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(size.max(1))),
            queue_timeout,
        }
    }

    /// Runs `job` on the blocking pool once a slot is free (waiting no longer than the
    /// queue timeout or `deadline`). A panic in `job` is an error, not a crash.
    pub async fn run<T, F>(&self, deadline: Option<Instant>, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let own = Instant::now() + self.queue_timeout;
        let until = deadline.map_or(own, |d| d.min(own));
        let permit = tokio::time::timeout_at(until.into(), self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                if deadline.is_some_and(|d| d <= own) {
                    PoolError::Deadline
                } else {
                    PoolError::Busy(self.queue_timeout)
                }
            })?
            .map_err(|_| PoolError::Busy(self.queue_timeout))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| {
            PoolError::Panicked(if e.is_panic() {
                "panicked".to_owned()
            } else {
                e.to_string()
            })
        })
    }
}
