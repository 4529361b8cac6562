//! The transport under every [`super::ServiceClient`]: tonic's `Channel`, with the calls
//! a draining service refused before running them told apart from every other failure.
//!
//! A server that shuts down gracefully sends HTTP/2 GOAWAY naming the last stream it will
//! process; the streams after it never reached its application, so they may be sent
//! again even when they are not idempotent (RFC 9113 §6.8; gRPC clients do this as
//! "transparent retry"). h2 says so exactly: such a stream ends in a GOAWAY error the
//! peer sent with reason NO_ERROR, and no stream the server processed ever ends that way
//! (those run to their end, or break with an I/O error when the connection is cut). tonic
//! reports it as INTERNAL "h2 protocol error: http2 error" and drops the cause, so
//! during a rolling update the services behind an aggregator would seem to fail
//! internally and trip its breakers. Here the cause is still at hand: the call fails
//! UNAVAILABLE with [`RefusedUnprocessed`] as its source, which
//! [`super::ServiceClient`] sends again once on a new connection.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::transport::Channel;

type BoxError = Box<dyn StdError + Send + Sync>;

/// tonic's channel, its errors sorted as the module documentation says. Cheap to clone:
/// clones share the connection.
#[derive(Debug, Clone)]
pub struct Transport {
    channel: Channel,
}

impl Transport {
    pub(crate) fn new(channel: Channel) -> Self {
        Self { channel }
    }
}

/// A call the service refused, unprocessed, because it was shutting down.
#[derive(Debug)]
pub struct RefusedUnprocessed {
    /// What tonic's client makes of this error (it looks for a status among the causes).
    status: tonic::Status,
}

impl RefusedUnprocessed {
    const MESSAGE: &'static str = "the service was shutting down and refused the call \
        before running it (HTTP/2 GOAWAY); it is safe to send again";

    fn new() -> Self {
        Self {
            status: tonic::Status::unavailable(Self::MESSAGE),
        }
    }

    /// Whether `status` (as tonic's client returned it) is such a refusal.
    pub fn is_cause_of(status: &tonic::Status) -> bool {
        let mut cause = StdError::source(status);
        while let Some(err) = cause {
            if err.is::<Self>() {
                return true;
            }
            cause = err.source();
        }
        false
    }
}

impl std::fmt::Display for RefusedUnprocessed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

impl StdError for RefusedUnprocessed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.status)
    }
}

/// Whether `err` (or one of its causes) is h2's report of a stream the peer's graceful
/// GOAWAY left unprocessed.
fn refused_by_goaway(err: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.is_go_away() && h2.is_remote() && h2.reason() == Some(h2::Reason::NO_ERROR);
        }
        cause = err.source();
    }
    false
}

fn sort(err: tonic::transport::Error) -> BoxError {
    if refused_by_goaway(&err) {
        Box::new(RefusedUnprocessed::new())
    } else {
        Box::new(err)
    }
}

impl tower::Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx).map_err(sort)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        ResponseFuture {
            inner: self.channel.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The channel's response, its error sorted.
    pub struct ResponseFuture {
        #[pin]
        inner: tonic::transport::channel::ResponseFuture,
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map_err(sort)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(h2::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("http2 error")
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn other_h2_and_io_errors_are_no_refusal() {
        // h2 builds its GOAWAY errors only internally (the positive case is in
        // tests/client_drain.rs, against a real HTTP/2 server); errors of any other kind,
        // whatever their reason, say nothing about whether the call ran.
        for reason in [
            h2::Reason::NO_ERROR,
            h2::Reason::REFUSED_STREAM,
            h2::Reason::INTERNAL_ERROR,
        ] {
            let err = Wrapped(h2::Error::from(reason));
            assert!(!refused_by_goaway(&err), "{reason:?}");
        }
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(!refused_by_goaway(&io));
    }

    #[test]
    fn the_refusal_is_found_through_the_status_tonic_makes_of_it() {
        let status = tonic::Status::from_error(Box::new(RefusedUnprocessed::new()));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(RefusedUnprocessed::is_cause_of(&status));
        assert!(!RefusedUnprocessed::is_cause_of(
            &tonic::Status::unavailable(RefusedUnprocessed::MESSAGE)
        ));
    }
}
