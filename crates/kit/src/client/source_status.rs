//! A downstream Axle service's answer as the caller's per-source status.
//!
//! A failed downstream call is not the caller's RPC error: the caller still answers with
//! what the other sources said, and reports this one in its `sources` list. What crosses
//! over is what the downstream chose to tell any client: its code, its message, its
//! `ErrorInfo.reason` and `RetryInfo`. Its metadata and other details stay behind, and
//! failures of the connection itself (which name addresses and OS errors) are described
//! in our own words and logged here, not forwarded.

use std::error::Error as _;
use std::time::Duration;

use contracts::axle::common::v1::{SourceState, SourceStatus};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// A downstream's message is passed on up to this many characters (a status is read by
/// people; a runaway message would swell every response that carries it).
const MAX_MESSAGE_CHARS: usize = 1000;

/// The status of a call that answered.
pub fn ok(source: &str, latency: Duration) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Ok as i32,
        code: Code::Ok as i32,
        attempts: 1,
        latency: Some(proto_duration(latency)),
        ..SourceStatus::default()
    }
}

/// The status of a call not made because the caller's deadline left no time for it.
pub fn no_time_left(source: &str) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Timeout as i32,
        code: Code::DeadlineExceeded as i32,
        reason: "DEADLINE_EXCEEDED".to_owned(),
        message: format!("{source} was not called: the request's deadline left no time for it"),
        attempts: 0,
        latency: Some(proto_duration(Duration::ZERO)),
        ..SourceStatus::default()
    }
}

/// The status of a call not made because the service's circuit breaker is open: its
/// last calls failed, and it is left alone for `wait` before it is probed again.
pub fn circuit_open(source: &str, wait: Duration) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Failed as i32,
        code: Code::Unavailable as i32,
        reason: CIRCUIT_OPEN.to_owned(),
        message: format!(
            "{source} was not called: its last calls failed, so it is left alone for {} ms more (circuit breaker open)",
            wait.as_millis()
        ),
        attempts: 0,
        latency: Some(proto_duration(Duration::ZERO)),
        retry_after: Some(proto_duration(wait)),
        ..SourceStatus::default()
    }
}

/// `SourceStatus.reason` of a call the circuit breaker refused.
pub const CIRCUIT_OPEN: &str = "CIRCUIT_OPEN";

/// `SourceStatus.reason` of a call the service refused unprocessed because it was
/// shutting down (HTTP/2 GOAWAY). [`super::ServiceClient`] sends such a call again once,
/// so a caller sees it only when the second attempt was refused too.
pub const DOWNSTREAM_DRAINING: &str = "DOWNSTREAM_DRAINING";

/// The status of a call that used up its time without an answer.
pub fn timed_out(source: &str, latency: Duration) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Timeout as i32,
        code: Code::DeadlineExceeded as i32,
        reason: "DEADLINE_EXCEEDED".to_owned(),
        message: format!("{source} did not answer within the request's deadline"),
        attempts: 1,
        latency: Some(proto_duration(latency)),
        ..SourceStatus::default()
    }
}

/// The status of a call that ended in `status`, `latency` after it started.
pub fn from_status(source: &str, status: &Status, latency: Duration) -> SourceStatus {
    // tonic attaches a `source` error only to statuses it made itself from a transport
    // failure; a status the service sent is decoded from its trailers and has none.
    if status.source().is_some() {
        return from_transport_failure(source, status, latency);
    }
    let code = match status.code() {
        // An error carrying OK cannot come from a conforming server; it is no success.
        Code::Ok => Code::Unknown,
        code => code,
    };
    let state = match code {
        Code::NotFound => SourceState::NotFound,
        Code::DeadlineExceeded => SourceState::Timeout,
        _ => SourceState::Failed,
    };
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|info| info.reason.as_str())
        .filter(|reason| is_reason(reason))
        .unwrap_or_else(|| code_name(code));
    let retry_after = details
        .retry_info()
        .and_then(|info| info.retry_delay)
        .map(proto_duration);
    SourceStatus {
        source: source.to_owned(),
        state: state as i32,
        code: code as i32,
        reason: reason.to_owned(),
        message: message_of(source, code, status.message()),
        attempts: 1,
        latency: Some(proto_duration(latency)),
        retry_after,
        // Between Axle services these are deployment mistakes (a credential, a policy, a
        // service older than its caller): nothing a caller's retry or input can change.
        operator_action_required: matches!(
            code,
            Code::Unauthenticated | Code::PermissionDenied | Code::Unimplemented
        ),
        ..SourceStatus::default()
    }
}

fn from_transport_failure(source: &str, status: &Status, latency: Duration) -> SourceStatus {
    let mut chain = String::new();
    let mut cause = status.source();
    let mut timer_fired = false;
    while let Some(err) = cause {
        timer_fired |= err.is::<tonic::TimeoutExpired>();
        chain.push_str(": ");
        chain.push_str(&err.to_string());
        cause = err.source();
    }
    // tonic's own client timer (from the `grpc-timeout` we set) reports CANCELLED; for
    // the caller it is this source missing the deadline.
    if timer_fired {
        return timed_out(source, latency);
    }
    if super::transport::RefusedUnprocessed::is_cause_of(status) {
        // Expected in every rolling update; the call is sent again (ServiceClient::call).
        tracing::debug!(
            source,
            "downstream refused a call unprocessed while stopping"
        );
        return SourceStatus {
            source: source.to_owned(),
            state: SourceState::Failed as i32,
            code: Code::Unavailable as i32,
            reason: DOWNSTREAM_DRAINING.to_owned(),
            message: format!(
                "{source} was shutting down and refused the call before running it; \
                 another replica or a later call may succeed"
            ),
            attempts: 1,
            latency: Some(proto_duration(latency)),
            ..SourceStatus::default()
        };
    }
    tracing::warn!(
        source,
        grpc_code = code_name(status.code()),
        error = %format_args!("{}{chain}", status.message()),
        "downstream call failed in transport"
    );
    let (code, message) = match status.code() {
        Code::Unavailable => (
            Code::Unavailable,
            format!(
                "{source} could not be reached (no connection, or it was lost); retrying \
                 later may succeed"
            ),
        ),
        Code::Cancelled => (
            Code::Unavailable,
            format!("{source} closed the connection before answering"),
        ),
        code => (
            code,
            format!(
                "{source} failed at the connection level ({})",
                code_name(code)
            ),
        ),
    };
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Failed as i32,
        code: code as i32,
        reason: "DOWNSTREAM_UNREACHABLE".to_owned(),
        message,
        attempts: 1,
        latency: Some(proto_duration(latency)),
        ..SourceStatus::default()
    }
}

fn message_of(source: &str, code: Code, message: &str) -> String {
    let message = message.trim();
    if message.is_empty() {
        return format!("{source} answered {} without a message", code_name(code));
    }
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// An `ErrorInfo.reason` as google.rpc defines it: UPPER_SNAKE_CASE, at most 63 characters.
fn is_reason(reason: &str) -> bool {
    (1..=63).contains(&reason.len())
        && reason
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The google.rpc.Code name ("DEADLINE_EXCEEDED"): the reason when the downstream gave
/// none, and how tools name a code to people. Prometheus labels use
/// [`crate::metrics::code_name`] (Go's spelling) instead.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or_default()
}

#[cfg(test)]
mod tests;
