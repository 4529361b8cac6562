//! What one downstream step brought back: its status and, when it answered, the
//! service's response.

use contracts::axle::common::v1::SourceStatus;
use contracts::axle::plate::v1::{LookupVehicleResponse, ParsePlateResponse};
use contracts::axle::vin::v1::{DecodeVinResponse, ValidateVinResponse};
use contracts::axle::violation::v1::QueryViolationsResponse;

use crate::plan::Step;

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
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub step: Step,
    pub status: SourceStatus,
    pub answer: Answer,
}

impl Done {
    pub fn nothing(step: Step, status: SourceStatus) -> Self {
        Self {
            step,
            status,
            answer: Answer::Nothing,
        }
    }
}
