//! Vendor outcomes as per-source statuses: the one place where a vendor failure becomes a
//! gRPC code, a reason and a message a person can act on.
//!
//! A vendor failure is not an RPC error (the caller still gets what the other sources
//! said); it is reported in the response's `sources`. Account problems (balance, permissions,
//! suspension) are the Axle operator's to fix, and the message says so.

use std::time::Duration;

use connector::client::{CallFailure, Outcome};
use connector::{VendorError, VendorErrorKind};
use contracts::axle::common::v1::{SourceState, SourceStatus};
use tonic::Code;

fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration::try_from(d).unwrap_or_default()
}

/// Status of a source that answered.
pub fn ok(source: &str, attempts: u32, latency: Duration, sandbox: bool) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Ok as i32,
        code: Code::Ok as i32,
        message: if sandbox {
            "answered by the Axle sandbox (simulated vendor data)".to_owned()
        } else {
            String::new()
        },
        sandbox,
        attempts,
        latency: Some(duration(latency)),
        ..SourceStatus::default()
    }
}

/// Status of a source that was not called.
pub fn skipped(source: &str, why: &str) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Skipped as i32,
        code: Code::Ok as i32,
        reason: "SOURCE_SKIPPED".to_owned(),
        message: why.to_owned(),
        ..SourceStatus::default()
    }
}

/// Status of a source whose request was dropped because a hedged request to `winner`
/// answered first (see `Strategy::Hedged`). It was called: the vendor may bill it.
pub fn cancelled_by_hedge(source: &str, winner: &str, after: Duration) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Skipped as i32,
        code: Code::Cancelled as i32,
        reason: "SOURCE_CANCELLED_HEDGE".to_owned(),
        message: format!(
            "cancelled: hedged; {winner} answered first, so this request was dropped after \
             {} ms (the vendor may still bill it)",
            after.as_millis()
        ),
        latency: Some(duration(after)),
        ..SourceStatus::default()
    }
}

/// Status of a vendor call that failed after `f.attempts` attempts: [`from_error`] plus
/// the attempt count and, when the failing answer came from the sandbox, that label.
pub fn from_failure(source: &str, f: &CallFailure, latency: Duration) -> SourceStatus {
    let mut s = from_error(source, &f.error, latency);
    s.attempts = f.attempts;
    s.sandbox = f.sandbox;
    if f.sandbox {
        s.message
            .push_str(" [answered by the Axle sandbox: simulated]");
    }
    s
}

/// Status of a vendor call that ended in `err`.
pub fn from_error(source: &str, err: &VendorError, latency: Duration) -> SourceStatus {
    let mut s = SourceStatus {
        source: source.to_owned(),
        state: SourceState::Failed as i32,
        latency: Some(duration(latency)),
        retry_after: err.retry_after().map(duration),
        ..SourceStatus::default()
    };
    let (code, reason, message, operator) = describe(source, err);
    s.code = code as i32;
    s.reason = reason.to_owned();
    s.message = message;
    s.operator_action_required = operator;
    match err {
        VendorError::Vendor { code, kind, .. } => {
            s.vendor_code.clone_from(code);
            if matches!(kind, VendorErrorKind::NotFound) {
                s.state = SourceState::NotFound as i32;
            }
        }
        VendorError::Timeout { .. } | VendorError::DeadlineExceeded => {
            s.state = SourceState::Timeout as i32;
        }
        _ => {}
    }
    s
}

/// (code, reason, message, operator action required)
fn describe(source: &str, err: &VendorError) -> (Code, &'static str, String, bool) {
    match err {
        VendorError::Vendor {
            code,
            message,
            kind,
        } => {
            let said = if message.is_empty() {
                format!("vendor code {code}")
            } else {
                format!("vendor code {code}: {message}")
            };
            match kind {
                VendorErrorKind::NotFound => (
                    Code::NotFound,
                    "VENDOR_NO_RECORD",
                    format!("{source} has no record for this query ({said})"),
                    false,
                ),
                VendorErrorKind::InvalidRequest => (
                    Code::FailedPrecondition,
                    "VENDOR_REJECTED_REQUEST",
                    format!(
                        "{source} rejected the request parameters ({said}). The input passed \
                         Axle's own validation, so this is most likely the Axle operator's \
                         vendor configuration (key, signing secret): operator action required"
                    ),
                    true,
                ),
                VendorErrorKind::QuotaExhausted => (
                    Code::FailedPrecondition,
                    "VENDOR_BALANCE_EXHAUSTED",
                    format!(
                        "{source} refused the call for lack of balance or provisioning ({said}). \
                         This is the Axle operator's problem, not the caller's: the vendor \
                         account must be topped up or the interface enabled"
                    ),
                    true,
                ),
                VendorErrorKind::NotEnabledOrNoBalance => (
                    Code::FailedPrecondition,
                    "VENDOR_NOT_ENABLED_OR_NO_BALANCE",
                    format!(
                        "{source} refused the call: either this interface is not enabled for \
                         the Axle operator's account, or the account lacks the permission or \
                         the balance for it ({said}). The vendor does not say which; the \
                         operator must check both in the vendor's console, the caller cannot \
                         fix this"
                    ),
                    true,
                ),
                VendorErrorKind::PermissionMissing => (
                    Code::FailedPrecondition,
                    "VENDOR_PERMISSION_MISSING",
                    format!(
                        "the Axle operator's {source} account is not enabled for this interface \
                         ({said}): operator action required, the caller cannot fix this"
                    ),
                    true,
                ),
                VendorErrorKind::AccountProblem => (
                    Code::FailedPrecondition,
                    "VENDOR_ACCOUNT_SUSPENDED",
                    format!(
                        "the Axle operator's {source} account is suspended ({said}): operator \
                         action required, the caller cannot fix this"
                    ),
                    true,
                ),
                VendorErrorKind::Discontinued => (
                    Code::FailedPrecondition,
                    "VENDOR_API_DISCONTINUED",
                    format!(
                        "{source} has discontinued this interface ({said}): the Axle operator \
                         must switch vendors or interfaces"
                    ),
                    true,
                ),
                VendorErrorKind::VendorInternal => (
                    Code::Unavailable,
                    "VENDOR_INTERNAL_ERROR",
                    format!("{source} failed internally ({said}); retrying later may succeed"),
                    false,
                ),
                VendorErrorKind::UpstreamOfVendor => (
                    Code::Unavailable,
                    "VENDOR_UPSTREAM_ERROR",
                    format!(
                        "{source}'s own upstream data service failed ({said}); retrying later \
                         may succeed"
                    ),
                    false,
                ),
                VendorErrorKind::Unknown => (
                    Code::Unknown,
                    "VENDOR_UNKNOWN_CODE",
                    format!(
                        "{source} answered with a code whose meaning its documentation does not \
                         give ({said}); the vendor's text is passed on as sent"
                    ),
                    false,
                ),
            }
        }
        VendorError::DeadlineExceeded => (
            Code::DeadlineExceeded,
            "DEADLINE_EXCEEDED",
            format!("{source} did not answer within the request's deadline"),
            false,
        ),
        VendorError::Timeout { .. } => (
            Code::Unavailable,
            "VENDOR_TIMEOUT",
            format!("{source} did not answer in time (after retries)"),
            false,
        ),
        VendorError::RateLimited { .. } => (
            Code::ResourceExhausted,
            "VENDOR_RATE_LIMITED",
            format!("{source} is rate-limiting Axle; retry after the indicated delay"),
            false,
        ),
        VendorError::LocalRateLimited => (
            Code::ResourceExhausted,
            "VENDOR_RATE_LIMIT_LOCAL",
            format!("Axle's configured call rate for {source} is used up for now; retry shortly"),
            false,
        ),
        VendorError::MalformedBody { detail } => (
            Code::Unavailable,
            "VENDOR_MALFORMED_RESPONSE",
            format!("{source} sent a response Axle cannot read: {detail}"),
            false,
        ),
        VendorError::BodyTooLarge => (
            Code::Unavailable,
            "VENDOR_MALFORMED_RESPONSE",
            format!("{source} sent an oversized response"),
            false,
        ),
        VendorError::Auth { .. } => (
            Code::FailedPrecondition,
            "VENDOR_AUTH_FAILED",
            format!(
                "{source} rejected Axle's credentials: the Axle operator must fix the vendor \
                 key"
            ),
            true,
        ),
        VendorError::Config { .. } => (
            Code::FailedPrecondition,
            "VENDOR_MISCONFIGURED",
            format!("the {source} connector is misconfigured: operator action required"),
            true,
        ),
        // A final 4xx other than 401/403/429: the vendor answered, and refused the request
        // as sent: typically a wrong base_url or path in the connector's configuration.
        VendorError::HttpStatus { status } if (400..500).contains(status) => (
            Code::FailedPrecondition,
            "VENDOR_REJECTED_REQUEST",
            format!(
                "{source} answered HTTP {status} to the request as configured (base_url, path): \
                 operator action required"
            ),
            true,
        ),
        other => (
            Code::Unavailable,
            "VENDOR_UNAVAILABLE",
            format!("{source} could not be reached: {other}"),
            false,
        ),
    }
}

/// Status of a vendor call that answered: attempts, latency, the sandbox label and what
/// the call cost.
pub fn answered<T>(source: &str, outcome: &Outcome<T>) -> SourceStatus {
    let mut s = ok(source, outcome.attempts, outcome.latency, outcome.sandbox);
    s.cost = outcome.cost.as_ref().map(crate::vendor::money);
    s
}

/// Status of a source that accepted the query and answers later (asynchronous vendors):
/// `message` says what was sent and when; ask again after `retry_after`.
pub fn pending(source: &str, message: String, retry_after: Duration) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Pending as i32,
        code: Code::Ok as i32,
        reason: "VENDOR_ANSWER_PENDING".to_owned(),
        message,
        retry_after: Some(duration(retry_after)),
        ..SourceStatus::default()
    }
}

/// Status of a source that could not be asked for a reason of Axle's own (its store is
/// down, say): FAILED with `code`, `reason`, and whether the operator must act.
pub fn unavailable(source: &str, reason: &str, message: &str, operator: bool) -> SourceStatus {
    SourceStatus {
        source: source.to_owned(),
        state: SourceState::Failed as i32,
        code: Code::Unavailable as i32,
        reason: reason.to_owned(),
        message: message.to_owned(),
        operator_action_required: operator,
        ..SourceStatus::default()
    }
}

/// Sets the time a source took (a status built before the source finished has none).
pub fn with_latency(mut s: SourceStatus, latency: Duration) -> SourceStatus {
    s.latency = Some(duration(latency));
    s
}

/// Status of a source the flow cut off at the request's deadline.
pub fn timed_out(source: &str) -> SourceStatus {
    from_error(source, &VendorError::DeadlineExceeded, Duration::ZERO)
}
