//! The one error type of every RPC, and the one place it becomes a `tonic::Status`.
//!
//! Details follow google.rpc conventions (via tonic-types) so that any gRPC client can
//! read them: `BadRequest` field violations, `RetryInfo`, `ErrorInfo` with a stable
//! reason. Messages are for people and never carry secrets, bodies or stack traces;
//! internal causes are logged, not sent.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every Axle error.
pub const ERROR_DOMAIN: &str = "axle.dev";

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldViolation {
    /// Field path, e.g. "vin".
    pub field: String,
    /// What is wrong and how to fix it.
    pub description: String,
    /// Machine-readable kind of the problem, SCREAMING_SNAKE_CASE (e.g. a
    /// `VIN_PROBLEM_KIND_*` name); empty when there is none more precise than the code.
    pub reason: String,
}

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `reason` and `metadata` go into `ErrorInfo` (e.g. "INVALID_VIN" with
    /// `suggested_vin`), so a client needs no parsing of the message.
    #[error("invalid argument")]
    InvalidArgument {
        violations: Vec<FieldViolation>,
        reason: &'static str,
        metadata: Vec<(String, String)>,
    },
    #[error("{message}")]
    NotFound { resource: String, message: String },
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
        reason: &'static str,
        metadata: Vec<(String, String)>,
    },
    #[error("{message}")]
    DeadlineExceeded { message: String },
    #[error("{message}")]
    FailedPrecondition {
        message: String,
        reason: &'static str,
        metadata: Vec<(String, String)>,
    },
    #[error("{message}")]
    Unauthenticated { message: String },
    #[error("{message}")]
    PermissionDenied { message: String },
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl ApiError {
    /// One violated field.
    pub fn invalid_argument(field: &str, description: &str) -> Self {
        Self::InvalidArgument {
            violations: vec![FieldViolation {
                field: field.to_owned(),
                description: description.to_owned(),
                reason: String::new(),
            }],
            reason: "INVALID_REQUEST",
            metadata: Vec::new(),
        }
    }
}

fn retry_info(details: &mut ErrorDetails, after: Option<Duration>) {
    if let Some(after) = after {
        details.set_retry_info(Some(after));
    }
}

fn error_info(details: &mut ErrorDetails, reason: &str, metadata: &[(String, String)]) {
    details.set_error_info(
        reason,
        ERROR_DOMAIN,
        metadata
            .iter()
            .cloned()
            .collect::<std::collections::HashMap<_, _>>(),
    );
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let mut details = ErrorDetails::new();
        let (code, message) = match err {
            ApiError::InvalidArgument {
                violations,
                reason,
                metadata,
            } => {
                let message = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                details.set_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation {
                            field: v.field,
                            description: v.description,
                            reason: v.reason,
                            localized_message: None,
                        })
                        .collect::<Vec<_>>(),
                );
                error_info(&mut details, reason, &metadata);
                (Code::InvalidArgument, message)
            }
            ApiError::NotFound { resource, message } => {
                details.set_resource_info(resource, String::new(), String::new(), message.clone());
                (Code::NotFound, message)
            }
            ApiError::ResourceExhausted {
                message,
                retry_after,
            } => {
                retry_info(&mut details, retry_after);
                (Code::ResourceExhausted, message)
            }
            ApiError::Unavailable {
                message,
                retry_after,
                reason,
                metadata,
            } => {
                retry_info(&mut details, retry_after);
                error_info(&mut details, reason, &metadata);
                (Code::Unavailable, message)
            }
            ApiError::DeadlineExceeded { message } => (Code::DeadlineExceeded, message),
            ApiError::FailedPrecondition {
                message,
                reason,
                metadata,
            } => {
                error_info(&mut details, reason, &metadata);
                (Code::FailedPrecondition, message)
            }
            ApiError::Unauthenticated { message } => (Code::Unauthenticated, message),
            ApiError::PermissionDenied { message } => (Code::PermissionDenied, message),
            ApiError::Internal { message, source } => {
                // The cause stays in our logs; the caller gets a message it can quote.
                match &source {
                    Some(src) => tracing::error!(error = %src, "{message}"),
                    None => tracing::error!("{message}"),
                }
                (Code::Internal, message)
            }
        };
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: Status = ApiError::InvalidArgument {
            violations: vec![FieldViolation {
                field: "vin".into(),
                description: "position 3: O is not allowed (replace O with 0)".into(),
                reason: "VIN_PROBLEM_KIND_INVALID_CHARACTER".into(),
            }],
            reason: "INVALID_VIN",
            metadata: vec![("suggested_vin".into(), "WP0AA2978BL012976".into())],
        }
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("position 3"));
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request");
        assert_eq!(bad.field_violations.len(), 1);
        assert_eq!(bad.field_violations[0].field, "vin");
        assert_eq!(
            bad.field_violations[0].reason,
            "VIN_PROBLEM_KIND_INVALID_CHARACTER"
        );
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "INVALID_VIN");
        assert_eq!(
            info.metadata.get("suggested_vin").map(String::as_str),
            Some("WP0AA2978BL012976")
        );
    }

    #[test]
    fn retry_and_error_info_roundtrip() {
        let status: Status = ApiError::Unavailable {
            message: "vendor down".into(),
            retry_after: Some(Duration::from_secs(2)),
            reason: "VENDOR_UNAVAILABLE",
            metadata: vec![("vendor".into(), "connapi".into())],
        }
        .into();
        assert_eq!(status.code(), Code::Unavailable);
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(2))
        );
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "VENDOR_UNAVAILABLE");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            info.metadata.get("vendor").map(String::as_str),
            Some("connapi")
        );
    }

    #[test]
    fn internal_sources_are_not_sent() {
        let status: Status = ApiError::Internal {
            message: "decoder failed".into(),
            source: Some("password=hunter2 in a panic message".into()),
        }
        .into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!format!("{status:?}").contains("hunter2"));
    }
}
