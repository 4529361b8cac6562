//! The client side of Axle: calling another Axle service through its generated tonic
//! client, so that one deadline and one trace span the services.
//!
//! Per call, [`ServiceClient::call`]:
//! * sends the caller's remaining time, less [`ClientConfig::deadline_reserve`] and at
//!   most [`ClientConfig::request_timeout`], as `grpc-timeout`, and stops waiting when it
//!   is spent (a service that stalls cannot hold the caller past its deadline);
//! * makes no call at all when nothing is left, and reports that as a TIMEOUT source;
//! * injects the W3C `traceparent` / `tracestate` of a `grpc.client` span (a child of
//!   the caller's current span) into the metadata, so the callee's spans join the trace;
//! * turns the outcome into the `axle.common.v1.SourceStatus` a fan-out reports per
//!   source ([`source_status`]), the response (if any) beside it.
//!
//! ```no_run
//! # use contracts::axle::common::v1::SourceStatus;
//! use contracts::axle::plate::v1::LookupVehicleRequest;
//! use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
//! use contracts::axle::vin::v1::DecodeVinRequest;
//! use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
//! use kit::client::{ClientConfig, ServiceClient};
//!
//! # async fn profile(request: tonic::Request<()>) -> Result<(), kit::client::ClientError> {
//! // Once, at start (lazy: the services need not be up yet).
//! let vin = ServiceClient::new("vin-service", &ClientConfig::local(50051), VinServiceClient::new)?;
//! let plate =
//!     ServiceClient::new("plate-service", &ClientConfig::local(50052), PlateServiceClient::new)?;
//!
//! // Per request: one deadline for the whole fan-out.
//! let deadline = kit::deadline::deadline_of(&request);
//! let (by_vin, by_plate) = tokio::join!(
//!     vin.call(deadline, DecodeVinRequest { vin: "LFV2A21K6A4000001".into() }, |mut c, r| async move {
//!         c.decode_vin(r).await
//!     }),
//!     plate.call(deadline, LookupVehicleRequest { plate: "京A12345".into(), ..Default::default() }, |mut c, r| async move {
//!         c.lookup_vehicle(r).await
//!     }),
//! );
//! let sources: Vec<SourceStatus> = vec![by_vin.status, by_plate.status];
//! # let _ = (by_vin.response, by_plate.response, sources);
//! # Ok(())
//! # }
//! ```
//!
//! Per service, a circuit breaker ([`breaker`]): after consecutive failures the service
//! is not called for a while (the call fails at once, reason CIRCUIT_OPEN), then probed.
//!
//! [`ServiceClient::call`] retries only a call the service refused unprocessed while
//! shutting down ([`transport`]: HTTP/2 GOAWAY, as in every rolling update), once, on a
//! new connection: it never ran, so it cannot be paid twice. Otherwise it does not retry:
//! the services called retry their vendors themselves, under budgets, and a paid call
//! repeated may be paid twice. [`ServiceClient::call_idempotent`] retries a call the caller knows is safe to repeat
//! (a local, free RPC) after UNAVAILABLE, within the deadline and a retry budget
//! ([`retry`]: retries at most ~20 % of calls), so retries never multiply an outage.
//! Hedging and fallback belong to the caller's flow, which can build them from
//! [`ServiceClient::call`].

pub mod breaker;
mod budget;
mod channel;
mod metrics;
pub mod retry;
pub mod source_status;
pub mod transport;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::axle::common::v1::SourceStatus;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tracing::Instrument as _;

pub use budget::MIN_BUDGET;
pub use channel::ClientConfig;
pub use transport::Transport;

use crate::config::Validate as _;

/// The metadata key of a deployment's internal-caller token. A service configured with
/// the same token treats a call that carries it as coming from another Axle service that
/// applies the caller's privacy settings itself (the aggregator masks VINs for its own
/// callers, but must see the VIN plate-service found to decode it). Any other caller
/// gets the service's own masking.
pub const INTERNAL_TOKEN_METADATA: &str = "x-axle-internal-token";

/// Puts `token` under [`INTERNAL_TOKEN_METADATA`] in `metadata`, the calling side of
/// [`carries_internal_token`]. An empty token (the feature off) or one that is not a
/// valid metadata value (configuration checks it is visible ASCII) adds nothing.
pub fn attach_internal_token(metadata: &mut MetadataMap, token: &str) {
    if token.is_empty() {
        return;
    }
    if let Ok(v) = tonic::metadata::MetadataValue::try_from(token) {
        metadata.insert(INTERNAL_TOKEN_METADATA, v);
    }
}

/// Whether `metadata` carries `token` under [`INTERNAL_TOKEN_METADATA`]. An empty token
/// matches nothing (the feature is off); the comparison takes the same time wherever the
/// first difference is, so the token cannot be guessed byte by byte.
pub fn carries_internal_token(metadata: &MetadataMap, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let Some(sent) = metadata.get(INTERNAL_TOKEN_METADATA) else {
        return false;
    };
    let (a, b) = (sent.as_bytes(), token.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A client that cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid client configuration for {service}: `{key}` {message}")]
    Invalid {
        service: String,
        key: String,
        message: String,
    },
    #[error("cannot create the client for {service}: {message}")]
    Channel { service: String, message: String },
}

/// What one call brought back: the response when there was one, and in every case the
/// status to report for this source.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<R> {
    pub response: Option<R>,
    pub status: SourceStatus,
}

/// One downstream Axle service: its name (the `source` of its statuses), a lazily
/// connected channel, and its generated client `C` over a [`Transport`] (cheap to clone:
/// it shares the channel and its connection), e.g. `VinServiceClient<Transport>`.
#[derive(Clone)]
pub struct ServiceClient<C> {
    name: String,
    endpoint: String,
    client: C,
    request_timeout: Duration,
    reserve: Duration,
    breaker: Arc<breaker::Breaker>,
    retry: Arc<retry::RetryBudget>,
    metrics: Option<metrics::ClientMetrics>,
}

impl<C> std::fmt::Debug for ServiceClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("request_timeout", &self.request_timeout)
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}

impl<C> ServiceClient<C> {
    /// A client of the service `name` at `cfg.endpoint`, wrapped by `make` (a generated
    /// client's `new`, or a closure that also sets its message size limits). Nothing is
    /// connected yet: a service can start before the services it calls. Must be called
    /// inside a Tokio runtime.
    pub fn new(
        name: &str,
        cfg: &ClientConfig,
        make: impl FnOnce(Transport) -> C,
    ) -> Result<Self, ClientError> {
        if let Some((key, message)) = cfg.problems().into_iter().next() {
            return Err(ClientError::Invalid {
                service: name.to_owned(),
                key,
                message,
            });
        }
        let channel = cfg.lazy_channel().map_err(|message| ClientError::Channel {
            service: name.to_owned(),
            message,
        })?;
        Ok(Self {
            name: name.to_owned(),
            endpoint: cfg.endpoint.trim().to_owned(),
            client: make(Transport::new(channel)),
            request_timeout: cfg.request_timeout,
            reserve: cfg.deadline_reserve,
            breaker: Arc::new(breaker::Breaker::new(cfg.breaker.clone())),
            retry: Arc::new(retry::RetryBudget::new(cfg.retry.clone())),
            metrics: None,
        })
    }

    /// Reports the breaker's state, its refusals and the retries in `metrics`
    /// (`client_breaker_state`, `client_breaker_rejected_total`, `client_retries_total`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        let m = metrics::ClientMetrics::get(metrics);
        m.known(&self.name);
        self.metrics = Some(m);
        self
    }

    /// The state of the service's circuit breaker.
    pub fn breaker_state(&self) -> breaker::BreakerState {
        self.breaker.state()
    }

    /// The source name its statuses carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The generated client, for calls this module does not shape (streams).
    pub fn client(&self) -> &C {
        &self.client
    }

    /// How long a call started now may take under the caller's `deadline`, or `None`
    /// when nothing is left for one.
    pub fn budget(&self, deadline: Option<Instant>) -> Option<Duration> {
        budget::budget(Instant::now(), deadline, self.reserve, self.request_timeout)
    }

    /// `message` as a request carrying the budget (`grpc-timeout`) and the current
    /// span's trace context, with the budget itself; or, when the deadline leaves no
    /// time, the TIMEOUT status to report instead of calling.
    // The status is large, but it is what the caller reports: boxing it would only add
    // an allocation to the path that already made no call.
    #[allow(clippy::result_large_err)]
    pub fn prepare_request<T>(
        &self,
        message: T,
        deadline: Option<Instant>,
    ) -> Result<(tonic::Request<T>, Duration), SourceStatus> {
        let Some(budget) = self.budget(deadline) else {
            return Err(source_status::no_time_left(&self.name));
        };
        let mut headers = http::HeaderMap::new();
        crate::telemetry::inject_current(&mut headers);
        let mut request = tonic::Request::from_parts(
            MetadataMap::from_headers(headers),
            tonic::Extensions::default(),
            message,
        );
        request.set_timeout(budget);
        Ok((request, budget))
    }

    /// The status to report for a call of this service that ended in `status`.
    pub fn status_of(&self, status: &Status, latency: Duration) -> SourceStatus {
        source_status::from_status(&self.name, status, latency)
    }

    /// Calls `rpc` (a method of the generated client, e.g.
    /// `|mut c, r| async move { c.decode_vin(r).await }`) with `message`, under the
    /// caller's `deadline` (`None`: only the configured timeout applies). A call the
    /// service refused unprocessed while shutting down is made again, once (the message
    /// is cloned for that: cheap next to the call, even for a photo).
    pub async fn call<T, R, F, Fut>(
        &self,
        deadline: Option<Instant>,
        message: T,
        rpc: F,
    ) -> Reply<R>
    where
        C: Clone,
        T: Clone,
        F: Fn(C, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        self.retry.record_call(Instant::now());
        self.attempt_again_if_refused(deadline, message, &rpc).await
    }

    /// [`ServiceClient::call`] for a call that is safe to repeat (a local, free RPC):
    /// after UNAVAILABLE it is made again, at most `retry.max_retries` times, while the
    /// deadline leaves time and the retry budget allows; `attempts` counts them all.
    pub async fn call_idempotent<T, R, F, Fut>(
        &self,
        deadline: Option<Instant>,
        message: T,
        rpc: F,
    ) -> Reply<R>
    where
        C: Clone,
        T: Clone,
        F: Fn(C, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        self.retry.record_call(Instant::now());
        let mut reply = self
            .attempt_again_if_refused(deadline, message.clone(), &rpc)
            .await;
        let mut retries = 0;
        while retries < self.retry.max_retries()
            && reply.status.code == Code::Unavailable as i32
            && reply.status.reason != source_status::CIRCUIT_OPEN
            && self.budget(deadline).is_some()
        {
            let granted = self.retry.try_retry(Instant::now());
            if let Some(m) = &self.metrics {
                m.retry(&self.name, metrics::RetryOutcome::of(granted));
            }
            if !granted {
                break;
            }
            retries += 1;
            let before = reply.status.attempts;
            reply = self
                .attempt_again_if_refused(deadline, message.clone(), &rpc)
                .await;
            reply.status.attempts += before;
        }
        reply
    }

    /// One attempt, and a second at once when the service refused the first unprocessed
    /// (gRPC's transparent retry): outside the retry budget, as it cannot multiply an
    /// outage (a service that refuses calls this way is stopping, one replica at a time),
    /// and at most once, so a service that refused every call would cost two attempts.
    async fn attempt_again_if_refused<T, R, F, Fut>(
        &self,
        deadline: Option<Instant>,
        message: T,
        rpc: &F,
    ) -> Reply<R>
    where
        C: Clone,
        T: Clone,
        F: Fn(C, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        // Boxed: a generated client's call future is kilobytes, and this future would
        // hold room for two of them inline in every caller's.
        let first = Box::pin(self.attempt(deadline, message.clone(), rpc)).await;
        if first.status.reason != source_status::DOWNSTREAM_DRAINING
            || self.budget(deadline).is_none()
        {
            return first;
        }
        if let Some(m) = &self.metrics {
            m.retry(&self.name, metrics::RetryOutcome::Transparent);
        }
        let mut reply = Box::pin(self.attempt(deadline, message, rpc)).await;
        reply.status.attempts += first.status.attempts;
        reply
    }

    /// One attempt, through the circuit breaker.
    async fn attempt<T, R, F, Fut>(&self, deadline: Option<Instant>, message: T, rpc: F) -> Reply<R>
    where
        C: Clone,
        F: FnOnce(C, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let permit = match self.breaker.admit(Instant::now()) {
            Ok(p) => p,
            Err(wait) => {
                if let Some(m) = &self.metrics {
                    m.rejected(&self.name);
                }
                return Reply {
                    response: None,
                    status: source_status::circuit_open(&self.name, wait),
                };
            }
        };
        let reply = self.attempt_unguarded(deadline, message, rpc).await;
        // A call not made (no time left), or refused unprocessed by a service that is
        // stopping as it should, says nothing about the service's health.
        if reply.status.attempts == 0 || reply.status.reason == source_status::DOWNSTREAM_DRAINING {
            permit.release();
        } else {
            let failed = Code::from_i32(reply.status.code);
            let state = permit.record(!breaker::is_failure(failed));
            if let Some(m) = &self.metrics {
                m.state(&self.name, state);
            }
        }
        reply
    }

    async fn attempt_unguarded<T, R, F, Fut>(
        &self,
        deadline: Option<Instant>,
        message: T,
        rpc: F,
    ) -> Reply<R>
    where
        C: Clone,
        F: FnOnce(C, tonic::Request<T>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %self.name,
            otel.kind = "client",
            rpc.system = "grpc",
            peer.service = %self.name,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        // Prepared inside the span, so the callee's parent is this call, not the caller.
        let prepared = {
            let _entered = span.enter();
            self.prepare_request(message, deadline)
        };
        let reply = match prepared {
            Err(status) => Reply {
                response: None,
                status,
            },
            Ok((request, budget)) => {
                let started = Instant::now();
                // tonic's own timer covers only the wait for response headers, not
                // connecting or a stalled body: this one bounds the whole call.
                let outcome = tokio::time::timeout(budget, rpc(self.client.clone(), request))
                    .instrument(span.clone())
                    .await;
                let latency = started.elapsed();
                match outcome {
                    Ok(Ok(response)) => Reply {
                        response: Some(response.into_inner()),
                        status: source_status::ok(&self.name, latency),
                    },
                    // A tonic server answers CANCELLED when the grpc-timeout we sent
                    // runs out (Axle's own answer DEADLINE_EXCEEDED): this source was late.
                    Ok(Err(status)) if status.code() == Code::Cancelled && latency >= budget => {
                        Reply {
                            response: None,
                            status: source_status::timed_out(&self.name, latency),
                        }
                    }
                    Ok(Err(status)) => Reply {
                        response: None,
                        status: self.status_of(&status, latency),
                    },
                    Err(_) => Reply {
                        response: None,
                        status: source_status::timed_out(&self.name, latency),
                    },
                }
            }
        };
        span.record("rpc.grpc.status_code", reply.status.code);
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internal_token_must_match_exactly_and_be_configured() {
        let mut m = MetadataMap::new();
        assert!(!carries_internal_token(&m, "secret"), "none sent");
        m.insert(INTERNAL_TOKEN_METADATA, "secret".parse().expect("ascii"));
        assert!(carries_internal_token(&m, "secret"));
        assert!(!carries_internal_token(&m, "secreT"));
        assert!(!carries_internal_token(&m, "secret2"));
        assert!(!carries_internal_token(&m, ""), "an empty token is off");
        m.insert(INTERNAL_TOKEN_METADATA, "".parse().expect("ascii"));
        assert!(!carries_internal_token(&m, ""));
        let mut attached = MetadataMap::new();
        attach_internal_token(&mut attached, "");
        assert!(attached.is_empty(), "the feature off sends nothing");
        attach_internal_token(&mut attached, "secret");
        assert!(carries_internal_token(&attached, "secret"));
    }
}
