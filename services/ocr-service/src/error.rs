//! Why ocr-service could not start, and why a recognition failed: the one place where a
//! failure becomes a gRPC status.

use std::time::Duration;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use kit::error::{ApiError, FieldViolation};

use crate::fetch::FetchProblem;
use crate::image::ImageProblem;
use crate::local::PoolError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("vendor connector: {0}")]
    Connector(#[from] connector::ConnectorError),
    #[error("local OCR engine: {0} (or set local.enabled = false: the vendor reads)")]
    Engine(String),
    #[error(transparent)]
    Kit(#[from] kit::KitError),
}

/// Why one recognition failed.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("{field}: {problem}")]
    Image {
        field: String,
        problem: ImageProblem,
    },
    #[error("{field}: {problem}")]
    Fetch {
        field: String,
        problem: FetchProblem,
    },
    #[error("{field}: {message}")]
    Request { field: String, message: String },
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// No reader produced a reading; their statuses say why.
    #[error("the photo could not be read")]
    Unread { statuses: Vec<SourceStatus> },
}

fn duration(d: Option<&prost_types::Duration>) -> Option<Duration> {
    d.and_then(|d| {
        Some(Duration::new(
            u64::try_from(d.seconds).ok()?,
            u32::try_from(d.nanos).ok()?,
        ))
    })
}

impl From<OcrError> for ApiError {
    fn from(e: OcrError) -> Self {
        let bad =
            |field: String, description: String, reason: &'static str| ApiError::InvalidArgument {
                violations: vec![FieldViolation {
                    field,
                    description,
                    reason: reason.to_owned(),
                }],
                reason,
                metadata: Vec::new(),
            };
        match e {
            OcrError::Image { field, problem } => {
                let reason = match problem {
                    ImageProblem::Empty => "IMAGE_EMPTY",
                    ImageProblem::TooLarge { .. } => "IMAGE_TOO_LARGE",
                    ImageProblem::NotAnImage(_) => "IMAGE_FORMAT",
                    ImageProblem::TooManyPixels { .. } => "IMAGE_TOO_MANY_PIXELS",
                    ImageProblem::Corrupt(_) => "IMAGE_CORRUPT",
                };
                bad(field, problem.to_string(), reason)
            }
            OcrError::Fetch { field, problem } => match problem {
                FetchProblem::Refused(m) => bad(field, m, "IMAGE_URL_REFUSED"),
                FetchProblem::Unreachable(m) => ApiError::Unavailable {
                    message: format!("{field}: {m}"),
                    retry_after: Some(Duration::from_secs(1)),
                    reason: "IMAGE_URL_UNREACHABLE",
                    metadata: Vec::new(),
                },
                FetchProblem::TimedOut(m) => ApiError::DeadlineExceeded {
                    message: format!("{field}: {m}"),
                },
            },
            OcrError::Request { field, message } => bad(field, message, "INVALID_REQUEST"),
            OcrError::Pool(PoolError::Busy(waited)) => ApiError::ResourceExhausted {
                message: format!(
                    "every recognition slot stayed busy for {}: retry shortly, or add replicas",
                    settings::duration::format(waited)
                ),
                retry_after: Some(Duration::from_secs(1)),
            },
            OcrError::Pool(PoolError::Deadline) => ApiError::DeadlineExceeded {
                message: "the deadline passed while the photo waited for a recognition slot"
                    .to_owned(),
            },
            OcrError::Pool(PoolError::Panicked(what)) => ApiError::InvalidArgument {
                violations: vec![FieldViolation {
                    field: "image".to_owned(),
                    description: format!("could not be processed ({what}): the file is corrupt"),
                    reason: "IMAGE_CORRUPT".to_owned(),
                }],
                reason: "IMAGE_CORRUPT",
                metadata: Vec::new(),
            },
            OcrError::Unread { statuses } => unread(&statuses),
        }
    }
}

/// Nothing was read: a reader that found no licence in the photo is the caller's
/// problem (INVALID_ARGUMENT); every reader still reading when the caller's deadline
/// came is DEADLINE_EXCEEDED (the handler answers just before the deadline, so the
/// caller would otherwise see UNAVAILABLE for what is its own deadline); anything else
/// (the vendor down, failing or refusing, its account) UNAVAILABLE with what each
/// reader said, and RetryInfo unless the operator must act first.
fn unread(statuses: &[SourceStatus]) -> ApiError {
    let said: Vec<String> = statuses
        .iter()
        .map(|s| format!("{}: {}", s.source, s.message))
        .collect();
    let message = format!("the photo could not be read ({})", said.join("; "));
    let mut tried = statuses
        .iter()
        .filter(|s| s.state != SourceState::Skipped as i32)
        .peekable();
    if tried.peek().is_some() && tried.all(|s| s.code == tonic::Code::DeadlineExceeded as i32) {
        return ApiError::DeadlineExceeded { message };
    }
    if !statuses.is_empty()
        && statuses.iter().all(|s| {
            s.state == SourceState::NotFound as i32 || s.state == SourceState::Skipped as i32
        })
        && statuses
            .iter()
            .any(|s| s.state == SourceState::NotFound as i32)
    {
        return ApiError::InvalidArgument {
            violations: vec![FieldViolation {
                field: "image".to_owned(),
                description: format!("no 行驶证 found in the photo ({})", said.join("; ")),
                reason: "NO_LICENSE_FOUND".to_owned(),
            }],
            reason: "NO_LICENSE_FOUND",
            metadata: Vec::new(),
        };
    }
    let operator = statuses.iter().any(|s| s.operator_action_required);
    ApiError::Unavailable {
        retry_after: if operator {
            None
        } else {
            statuses
                .iter()
                .find_map(|s| duration(s.retry_after.as_ref()))
                .or(Some(Duration::from_secs(1)))
        },
        reason: if operator {
            "OCR_VENDOR_ACCOUNT"
        } else {
            "OCR_UNAVAILABLE"
        },
        metadata: statuses
            .iter()
            .filter(|s| !s.vendor_code.is_empty())
            .map(|s| (format!("{}_code", s.source), s.vendor_code.clone()))
            .collect(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: SourceState, code: tonic::Code) -> SourceStatus {
        SourceStatus {
            source: "apihz".to_owned(),
            state: state as i32,
            code: code as i32,
            message: "said so".to_owned(),
            ..SourceStatus::default()
        }
    }

    fn skipped() -> SourceStatus {
        SourceStatus {
            source: "local".to_owned(),
            state: SourceState::Skipped as i32,
            message: "strategy is vendor_only".to_owned(),
            ..SourceStatus::default()
        }
    }

    #[test]
    fn every_reader_out_of_time_is_the_callers_deadline() {
        let e = unread(&[
            skipped(),
            status(SourceState::Timeout, tonic::Code::DeadlineExceeded),
        ]);
        assert!(matches!(e, ApiError::DeadlineExceeded { .. }), "{e:?}");
    }

    #[test]
    fn a_vendor_timeout_of_its_own_or_a_failure_beside_a_deadline_is_unavailable() {
        // The vendor's own request timeout (not the caller's deadline): worth retrying.
        let e = unread(&[status(SourceState::Timeout, tonic::Code::Unavailable)]);
        assert!(
            matches!(
                e,
                ApiError::Unavailable {
                    retry_after: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        // One reader failed, the other ran out of time: the failure is the news.
        let e = unread(&[
            status(SourceState::Failed, tonic::Code::Internal),
            status(SourceState::Timeout, tonic::Code::DeadlineExceeded),
        ]);
        assert!(matches!(e, ApiError::Unavailable { .. }), "{e:?}");
    }

    #[test]
    fn no_licence_in_the_photo_is_the_callers_to_fix() {
        let e = unread(&[
            skipped(),
            status(SourceState::NotFound, tonic::Code::NotFound),
        ]);
        assert!(matches!(e, ApiError::InvalidArgument { .. }), "{e:?}");
    }

    #[test]
    fn an_account_problem_gives_no_retry_time() {
        let mut s = status(SourceState::Failed, tonic::Code::FailedPrecondition);
        s.operator_action_required = true;
        let e = unread(&[s]);
        assert!(
            matches!(
                e,
                ApiError::Unavailable {
                    retry_after: None,
                    reason: "OCR_VENDOR_ACCOUNT",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn nothing_tried_is_unavailable() {
        let e = unread(&[skipped()]);
        assert!(matches!(e, ApiError::Unavailable { .. }), "{e:?}");
    }
}
