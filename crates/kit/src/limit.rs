//! Load shedding: a process-wide cap on requests in flight.
//!
//! Past the cap a request is answered at once with RESOURCE_EXHAUSTED (and RetryInfo)
//! rather than queued: a queue in front of a saturated service turns overload into
//! timeouts for everyone, while an immediate, retryable refusal lets clients back off or
//! go to another replica.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B> Service<http::Request<B>> for Shed<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures_like::Either<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // Health and reflection are never shed: a probe refused because the service is
        // busy would have Kubernetes restart a replica exactly when it is needed most.
        let path = req.uri().path();
        if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
            return futures_like::Either::Inner {
                fut: self.inner.call(req),
                permit: None,
            };
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => futures_like::Either::Inner {
                fut: self.inner.call(req),
                permit: Some(permit),
            },
            Err(_) => {
                let status: tonic::Status = ApiError::ResourceExhausted {
                    message: "server is at its concurrent request limit; retry shortly or use another replica".to_owned(),
                    retry_after: Some(Duration::from_millis(100)),
                }
                .into();
                futures_like::Either::Ready {
                    response: Some(status.into_http()),
                }
            }
        }
    }
}

/// A small hand-written future so the hot path does not box.
pub mod futures_like {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::sync::OwnedSemaphorePermit;

    pin_project_lite::pin_project! {
        #[project = EitherProj]
        pub enum Either<F> {
            Inner { #[pin] fut: F, permit: Option<OwnedSemaphorePermit> },
            Ready { response: Option<http::Response<tonic::body::Body>> },
        }
    }

    impl<F, E> Future for Either<F>
    where
        F: Future<Output = Result<http::Response<tonic::body::Body>, E>>,
    {
        type Output = Result<http::Response<tonic::body::Body>, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.project() {
                // The permit is held until the handler returns its response; streaming
                // bodies are not counted (all Axle RPCs are unary).
                EitherProj::Inner { fut, permit } => {
                    let out = std::task::ready!(fut.poll(cx));
                    permit.take();
                    Poll::Ready(out)
                }
                EitherProj::Ready { response } => {
                    Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                        tonic::Status::internal("polled after completion").into_http()
                    })))
                }
            }
        }
    }
}
