//! The in-process OCR engine (`ocr_engine`, PP-OCR on ONNX Runtime), behind its
//! [`Reader`] seam: a reader turns a decoded, upright photo into field readings;
//! [`Pool`] runs it on the blocking pool, a bounded number at a time, so that a burst of
//! photos queues instead of stalling the RPC runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::common::v1::Provenance;
pub use ocr_engine::Reader;
use ocr_engine::{FieldName, Read};
use tokio::sync::Semaphore;

use crate::read::{RawField, RawRead, Side};

/// Source name of local readings in provenance and statuses.
pub const SOURCE: &str = "ocr-engine";

/// The engine's side.
pub fn engine_side(s: Side) -> ocr_engine::Side {
    match s {
        Side::Front => ocr_engine::Side::Front,
        Side::Back => ocr_engine::Side::Back,
    }
}

/// The contract's name of an engine field.
pub fn field_name(n: FieldName) -> &'static str {
    match n {
        FieldName::Plate => "plate",
        FieldName::VehicleType => "vehicle_type",
        FieldName::Owner => "owner",
        FieldName::Address => "address",
        FieldName::UseCharacter => "use_character",
        FieldName::Model => "model",
        FieldName::Vin => "vin",
        FieldName::EngineNumber => "engine_number",
        FieldName::RegisterDate => "register_date",
        FieldName::IssueDate => "issue_date",
        FieldName::Seal => "seal",
        FieldName::FileNumber => "file_number",
        FieldName::ApprovedPassengers => "approved_passengers",
        FieldName::TotalMass => "total_mass",
        FieldName::CurbWeight => "curb_weight",
        FieldName::RatedLoad => "rated_load",
        FieldName::ExternalSize => "external_size",
        FieldName::TractionMass => "traction_mass",
        FieldName::Remarks => "remarks",
        FieldName::InspectionRecord => "inspection_record",
    }
}

/// An engine read as raw readings with local provenance and their boxes.
pub fn to_raw(read: Read) -> RawRead {
    let provenance = provenance();
    RawRead {
        side: match read.side {
            ocr_engine::Side::Front => Side::Front,
            ocr_engine::Side::Back => Side::Back,
        },
        fields: read
            .fields
            .into_iter()
            .map(|f| RawField {
                name: field_name(f.name),
                text: f.text,
                confidence: f.confidence,
                quad: Some(f.quad),
                provenance: provenance.clone(),
                from_vendor: false,
            })
            .collect(),
    }
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
