//! Deadlines: `grpc-timeout` honoured, capped, visible to handlers, and enforced with a
//! real DEADLINE_EXCEEDED.
//!
//! tonic's own grpc-timeout handling answers CANCELLED when it fires, which tells a client
//! "someone gave up" instead of "your deadline passed". tonic's timer wraps every user
//! layer and so starts first; the server stack's timer ([`crate::stack`]) is set a
//! millisecond short of the client's timeout (or to the server's cap, when shorter), so it
//! always fires first and the client sees DEADLINE_EXCEEDED. The deadline is stored in the
//! request extensions so handlers can pass the *remaining* time to vendors instead of a
//! fixed timeout.

use std::time::{Duration, Instant};

/// The instant by which the current call must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Instant);

/// The deadline to give a vendor call inside a handler: the caller's deadline minus a
/// reserve (a tenth of what is left, 5 ms to 100 ms), so that when the vendor is too slow
/// the handler still answers with what it has, and the vendor's TIMEOUT status, before the
/// caller gives up.
pub fn with_reserve(deadline: Instant) -> Instant {
    let left = deadline.saturating_duration_since(Instant::now());
    let reserve = (left / 10).clamp(Duration::from_millis(5), Duration::from_millis(100));
    deadline.checked_sub(reserve).unwrap_or(deadline)
}

/// The deadline of a tonic request, if the server stack set one.
pub fn deadline_of<T>(req: &tonic::Request<T>) -> Option<Instant> {
    req.extensions().get::<Deadline>().map(|d| d.0)
}

/// Parses a `grpc-timeout` value: 1-8 ASCII digits and a unit (H M S m u n), as in the
/// gRPC over HTTP/2 spec. Anything else is ignored, as grpc-go does.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if !value.is_ascii() || value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// No call waits longer than this, whatever a configuration says (and `Instant`
/// arithmetic cannot overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// How long a call may take: the client's `grpc-timeout` (a millisecond short), capped by
/// the server's `request_timeout`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadlinePolicy {
    cap: Duration,
}

impl DeadlinePolicy {
    /// `cap` bounds every call, whatever the client asked for.
    pub(crate) fn new(cap: Duration) -> Self {
        Self { cap }
    }

    /// The call's time budget, and whether it is the client's (not the server's cap).
    pub(crate) fn budget(&self, headers: &http::HeaderMap) -> (Duration, bool) {
        let asked = headers
            .get(&GRPC_TIMEOUT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        // A millisecond short of the client's own timeout: tonic's timer for the same
        // header started earlier and must not win (it would answer CANCELLED).
        let client = asked.map(|t| t.saturating_sub(Duration::from_millis(1)));
        let client_limits = client.is_some_and(|t| t < self.cap);
        let timeout = client
            .map_or(self.cap, |t| t.min(self.cap))
            .min(MAX_TIMEOUT);
        (timeout, client_limits)
    }
}

/// `start + timeout`, or `start` if that cannot be represented.
pub(crate) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start.checked_add(timeout).unwrap_or(start)
}

/// The answer when the budget ran out before the handler answered.
pub(crate) fn expired(client_asked: bool) -> http::Response<tonic::body::Body> {
    let message = if client_asked {
        "the call's deadline (grpc-timeout) expired before the answer was ready"
    } else {
        "the server's request_timeout expired before the answer was ready"
    };
    tonic::Status::deadline_exceeded(message).into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timeout: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-timeout", timeout.parse().expect("header"));
        h
    }

    #[test]
    fn the_client_deadline_is_kept_a_millisecond_short_and_capped() {
        let policy = DeadlinePolicy::new(Duration::from_secs(30));
        // A millisecond short of the client's 50 ms, so this timer beats tonic's.
        assert_eq!(
            policy.budget(&headers("50m")),
            (Duration::from_millis(49), true)
        );
        // The server's cap bounds a longer client deadline, and then it is the server's.
        let policy = DeadlinePolicy::new(Duration::from_millis(20));
        assert_eq!(
            policy.budget(&headers("10S")),
            (Duration::from_millis(20), false)
        );
        assert_eq!(
            policy.budget(&http::HeaderMap::new()),
            (Duration::from_millis(20), false)
        );
        // Junk is ignored, as grpc-go does.
        assert_eq!(
            policy.budget(&headers("soon")),
            (Duration::from_millis(20), false)
        );
    }

    #[test]
    fn an_absurd_server_cap_does_not_overflow() {
        let policy = DeadlinePolicy::new(Duration::from_secs(u64::MAX / 4));
        let (budget, _) = policy.budget(&http::HeaderMap::new());
        assert_eq!(budget, MAX_TIMEOUT, "a day at most");
        let now = Instant::now();
        assert!(deadline_after(now, Duration::MAX) == now, "no panic");
    }

    #[test]
    fn expiry_says_whose_deadline_it_was() {
        for (client, word) in [(true, "grpc-timeout"), (false, "request_timeout")] {
            let resp = expired(client);
            let status = tonic::Status::from_header_map(resp.headers()).expect("status");
            assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
            assert!(status.message().contains(word), "{}", status.message());
        }
    }

    #[test]
    fn parses_every_unit_and_rejects_junk() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_grpc_timeout("5\u{e9}"),
            None,
            "non-ASCII is not a timeout (and no panic)"
        );
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("10u"), Some(Duration::from_micros(10)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for junk in ["", "5", "m", "123456789S", "1.5S", "-1S", "5x"] {
            assert_eq!(parse_grpc_timeout(junk), None, "{junk}");
        }
    }
}
