//! The aggregator's one mapping from what went wrong to a `tonic::Status`.
//!
//! Only the request itself can make a call fail: a source that fails is a status in the
//! response, never an error.

use kit::error::{ApiError, FieldViolation};
use tonic::Status;

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AggError {
    /// The request is malformed or names something that cannot exist: one violation per
    /// field; nothing is asked, nothing is paid.
    #[error("invalid request")]
    Invalid {
        violations: Vec<FieldViolation>,
        reason: &'static str,
    },
    /// An input this deployment cannot start from (a licence photo when it reads none).
    #[error("{0}")]
    Unimplemented(String),
}

impl AggError {
    pub fn invalid(field: &str, description: impl Into<String>, reason: &'static str) -> Self {
        Self::Invalid {
            violations: vec![FieldViolation {
                field: field.to_owned(),
                description: description.into(),
                reason: String::new(),
            }],
            reason,
        }
    }
}

impl From<AggError> for Status {
    fn from(err: AggError) -> Self {
        match err {
            AggError::Invalid { violations, reason } => ApiError::InvalidArgument {
                violations,
                reason,
                metadata: Vec::new(),
            }
            .into(),
            AggError::Unimplemented(message) => Status::unimplemented(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt as _;

    #[test]
    fn invalid_input_is_invalid_argument_with_the_field() {
        let status: Status = AggError::invalid("vin", "must not be empty", "INVALID_VIN").into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "vin");
        assert_eq!(
            details.error_info().expect("ErrorInfo").reason,
            "INVALID_VIN"
        );
    }

    #[test]
    fn a_photo_is_unimplemented() {
        let status: Status = AggError::Unimplemented("later".to_owned()).into();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    }
}
