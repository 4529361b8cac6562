//! Load shedding: a process-wide cap on requests in flight.
//!
//! Past the cap a request is answered at once with RESOURCE_EXHAUSTED (and RetryInfo)
//! rather than queued: a queue in front of a saturated service turns overload into
//! timeouts for everyone, while an immediate, retryable refusal lets clients back off or
//! go to another replica. Health and reflection are never shed (the server stack asks
//! only for application calls): a probe refused because the service is busy would have
//! Kubernetes restart a replica exactly when it is needed most.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::ApiError;

/// A counter rather than a semaphore: nothing ever waits for a place, and releasing a
/// semaphore's permit takes its waiters' lock on every call.
#[derive(Debug, Clone)]
pub(crate) struct Shed {
    in_flight: Arc<AtomicUsize>,
    max: usize,
}

/// One call's place; given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl Shed {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        Self {
            in_flight: Arc::new(AtomicUsize::new(0)),
            max: max_in_flight,
        }
    }

    /// A place for one more call, held until its handler has answered (streaming bodies
    /// are not counted: every Axle RPC is unary), or `None` when the server is full.
    pub(crate) fn admit(&self) -> Option<Permit> {
        self.in_flight
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit(self.in_flight.clone()))
    }

    /// The answer to a call that found the server full.
    pub(crate) fn refusal() -> http::Response<tonic::body::Body> {
        let status: tonic::Status = ApiError::ResourceExhausted {
            message:
                "server is at its concurrent request limit; retry shortly or use another replica"
                    .to_owned(),
            retry_after: Some(Duration::from_millis(100)),
        }
        .into();
        status.into_http()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_cap_and_admits_again_when_a_call_ends() {
        let shed = Shed::new(1);
        let first = shed.admit().expect("room for one");
        assert!(shed.admit().is_none(), "full");
        drop(first);
        assert!(shed.admit().is_some(), "room again");
        let status = tonic::Status::from_header_map(Shed::refusal().headers()).expect("status");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = tonic_types::StatusExt::get_error_details(&status)
            .retry_info()
            .cloned()
            .expect("RetryInfo");
        assert!(retry.retry_delay.is_some());
    }
}
