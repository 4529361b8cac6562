use std::time::Duration;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use super::*;
use crate::error::ApiError;

const LATENCY: Duration = Duration::from_millis(42);

fn state(s: &SourceStatus) -> SourceState {
    SourceState::try_from(s.state).expect("known state")
}

#[test]
fn an_answer_is_ok_with_its_latency() {
    let s = ok("vin-service", LATENCY);
    assert_eq!(state(&s), SourceState::Ok);
    assert_eq!((s.code, s.attempts), (0, 1));
    assert_eq!(
        s.latency,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 42_000_000
        })
    );
    assert!(s.reason.is_empty() && s.message.is_empty());
}

#[test]
fn error_info_gives_the_reason_and_retry_info_the_wait() {
    let status: Status = ApiError::Unavailable {
        message: "connapi is failing; retry later".to_owned(),
        retry_after: Some(Duration::from_secs(3)),
        reason: "VENDOR_INTERNAL_ERROR",
        metadata: vec![("vendor_host".to_owned(), "10.0.0.7".to_owned())],
    }
    .into();
    let s = from_status("vin-service", &status, LATENCY);
    assert_eq!(state(&s), SourceState::Failed);
    assert_eq!(s.code, Code::Unavailable as i32);
    assert_eq!(s.reason, "VENDOR_INTERNAL_ERROR");
    assert_eq!(s.message, "connapi is failing; retry later");
    assert_eq!(
        s.retry_after,
        Some(prost_types::Duration {
            seconds: 3,
            nanos: 0
        })
    );
    assert_eq!(s.attempts, 1);
    assert!(!s.operator_action_required);
    // ErrorInfo metadata is the downstream's business, not the caller's.
    assert!(!format!("{s:?}").contains("10.0.0.7"), "{s:?}");
}

#[test]
fn not_found_and_deadline_exceeded_have_their_own_states() {
    let missing = from_status("plate-service", &Status::not_found("no record"), LATENCY);
    assert_eq!(state(&missing), SourceState::NotFound);
    assert_eq!(missing.code, Code::NotFound as i32);
    assert_eq!(
        missing.reason, "NOT_FOUND",
        "the code's name without ErrorInfo"
    );
    assert!(missing.retry_after.is_none());

    let late = from_status(
        "plate-service",
        &Status::deadline_exceeded("the call's deadline expired"),
        LATENCY,
    );
    assert_eq!(state(&late), SourceState::Timeout);
    assert_eq!(late.code, Code::DeadlineExceeded as i32);
}

#[test]
fn only_the_message_crosses_over() {
    let mut status = Status::internal("decoding failed");
    status.metadata_mut().insert(
        "x-internal-host",
        MetadataValue::from_static("db-7.internal"),
    );
    let s = from_status("vin-service", &status, LATENCY);
    assert_eq!(state(&s), SourceState::Failed);
    assert_eq!(
        (s.code, s.reason.as_str()),
        (Code::Internal as i32, "INTERNAL")
    );
    assert_eq!(s.message, "decoding failed");
    assert!(!format!("{s:?}").contains("db-7"), "{s:?}");

    let silent = from_status("vin-service", &Status::unavailable(""), LATENCY);
    assert_eq!(
        silent.message,
        "vin-service answered UNAVAILABLE without a message"
    );

    let long = "长".repeat(5000);
    let s = from_status("vin-service", &Status::internal(long), LATENCY);
    assert_eq!(
        s.message.chars().count(),
        MAX_MESSAGE_CHARS + 1,
        "cut, with an ellipsis"
    );
}

#[test]
fn a_reason_that_is_not_upper_snake_case_is_not_passed_on() {
    let details = tonic_types::ErrorDetails::with_error_info(
        "see /var/log/vin.log line 7",
        "axle.dev",
        std::collections::HashMap::new(),
    );
    let status = Status::with_error_details(Code::FailedPrecondition, "refused", details);
    let s = from_status("vin-service", &status, LATENCY);
    assert_eq!(s.reason, "FAILED_PRECONDITION");
}

#[test]
fn deployment_mistakes_are_the_operators() {
    for code in [
        Code::Unauthenticated,
        Code::PermissionDenied,
        Code::Unimplemented,
    ] {
        let s = from_status("vin-service", &Status::new(code, "no"), LATENCY);
        assert!(s.operator_action_required, "{code:?}");
    }
    let s = from_status("vin-service", &Status::invalid_argument("bad vin"), LATENCY);
    assert!(!s.operator_action_required);
}

#[test]
fn a_connection_failure_is_described_without_its_address_or_os_error() {
    let io = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "tcp connect error: 10.1.2.3:50051: Connection refused (os error 111)",
    );
    let status = Status::from_error(Box::new(tonic::ConnectError(Box::new(io))));
    assert_eq!(status.code(), Code::Unavailable, "tonic's mapping");
    let s = from_status("vin-service", &status, LATENCY);
    assert_eq!(state(&s), SourceState::Failed);
    assert_eq!(s.code, Code::Unavailable as i32);
    assert_eq!(s.reason, "DOWNSTREAM_UNREACHABLE");
    assert!(
        s.message.starts_with("vin-service could not be reached"),
        "{}",
        s.message
    );
    for leak in ["10.1.2.3", "os error", "tcp connect"] {
        assert!(!s.message.contains(leak), "{leak} in {}", s.message);
    }
}

#[test]
fn tonics_own_timer_is_a_timeout_not_a_cancellation() {
    let status = Status::from_error(Box::new(tonic::TimeoutExpired(())));
    assert_eq!(status.code(), Code::Cancelled, "what tonic reports");
    let s = from_status("vin-service", &status, LATENCY);
    assert_eq!(state(&s), SourceState::Timeout);
    assert_eq!(s.code, Code::DeadlineExceeded as i32);
    assert_eq!(s.reason, "DEADLINE_EXCEEDED");
}

#[test]
fn no_time_left_made_no_attempt() {
    let s = no_time_left("vin-service");
    assert_eq!(state(&s), SourceState::Timeout);
    assert_eq!((s.code, s.attempts), (Code::DeadlineExceeded as i32, 0));
    assert!(s.message.contains("was not called"), "{}", s.message);
}
