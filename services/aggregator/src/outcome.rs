//! What one downstream step brought back: its status and, when it answered, the
//! service's response.

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::ocr::v1::RecognizeVehicleLicenseResponse;
use contracts::axle::plate::v1::{LookupVehicleResponse, ParsePlateResponse};
use contracts::axle::vin::v1::{DecodeVinResponse, ValidateVinResponse};
use contracts::axle::violation::v1::QueryViolationsResponse;

use crate::plan::{Plan, Step};

/// What a step brought back.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Nothing,
    // Boxed: the responses are large, and a `Done` moves through a channel.
    ParsePlate(Box<ParsePlateResponse>),
    ValidateVin(Box<ValidateVinResponse>),
    DecodeVin(Box<DecodeVinResponse>),
    Lookup(Box<LookupVehicleResponse>),
    Violations(Box<QueryViolationsResponse>),
    Recognize(Box<Recognized>),
}

/// The photo, read (or not), and what was planned from what it showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recognized {
    /// ocr-service's answer; `None` when it could not read the photo.
    pub response: Option<RecognizeVehicleLicenseResponse>,
    /// The steps planned from it (and from the request's hints).
    pub then: Plan,
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub step: Step,
    pub status: SourceStatus,
    pub answer: Answer,
    /// For an answer served from the cache: how much longer the cache keeps it. A
    /// response made only of such answers may itself be kept that long
    /// ([`crate::responses`]).
    pub fresh_for: Option<std::time::Duration>,
}

impl Done {
    pub fn nothing(step: Step, status: SourceStatus) -> Self {
        Self {
            step,
            status,
            answer: Answer::Nothing,
            fresh_for: None,
        }
    }
}
