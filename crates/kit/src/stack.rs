//! The server stack: what happens around every call, in one tower layer.
//!
//! In order, for each request: the path is resolved once to its [`Method`] (labels, kind,
//! metric handles); the RPC's span opens ([`crate::access`]), so everything below logs
//! inside it; `grpc_server_started_total` counts it; an application call past
//! `max_concurrent_requests` is refused ([`crate::limit`]); the call gets its deadline
//! ([`crate::deadline`]) in its extensions and a timer that answers DEADLINE_EXCEEDED; the
//! handler runs. When the answer's status is known (in the headers of a trailers-only
//! answer, else in the trailers), tonic's wire-level statuses are made into what they mean
//! for the client ([`crate::wire_errors`]), then that final status is counted and logged
//! once. Streaming answers end with UNAVAILABLE when shutdown drains
//! ([`crate::streams`]).
//!
//! Why one layer and not one per concern: each separate layer boxed its future, looked the
//! path up again and wrapped the body again, and together they made the stack cost 15%
//! more instructions per call than bare tonic (docs/perf.md). Here the concerns stay in
//! their modules; this file only sequences them, with one future and one body wrapper.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Frame;
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::access::RpcTrace;
use crate::deadline::{Deadline, DeadlinePolicy};
use crate::limit::{Permit, Shed};
use crate::methods::{Method, MethodTable};
use crate::streams::{Stop, StopFactory};

const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

type TonicBody = tonic::body::Body;
type Bytes = <TonicBody as http_body::Body>::Data;

/// Every Axle server's cross-cutting behaviour (see the module documentation).
#[derive(Clone)]
pub struct RpcLayer {
    shared: Arc<Shared>,
}

struct Shared {
    methods: MethodTable,
    shed: Shed,
    deadline: DeadlinePolicy,
    stop_streams: StopFactory,
}

impl std::fmt::Debug for RpcLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcLayer")
            .field("methods", &self.shared.methods.len())
            .finish_non_exhaustive()
    }
}

impl RpcLayer {
    /// `max_in_flight` bounds application calls, `request_timeout` every call's deadline;
    /// `stop_streams` says when streaming answers must end.
    pub fn new(
        methods: MethodTable,
        max_in_flight: usize,
        request_timeout: std::time::Duration,
        stop_streams: StopFactory,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                methods,
                shed: Shed::new(max_in_flight),
                deadline: DeadlinePolicy::new(request_timeout),
                stop_streams,
            }),
        }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for RpcService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcService")
    }
}

impl<S, B> Service<http::Request<B>> for RpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<TonicBody>>,
{
    type Response = http::Response<RpcBody>;
    type Error = S::Error;
    type Future = RpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let path = req.uri().path();
        let method = self.shared.methods.resolve(path).clone();
        let trace = RpcTrace::start(&method, path, req.headers());
        method.metrics.started();
        let end = CallEnd {
            method,
            trace,
            start,
            done: false,
        };
        let stop = end
            .method
            .kind
            .streams_responses()
            .then(|| (self.shared.stop_streams)());
        let permit = if end.method.infrastructure {
            None
        } else {
            match self.shared.shed.admit() {
                Some(permit) => Some(permit),
                None => {
                    return RpcFuture {
                        call: Call::Answered {
                            response: Some(Shed::refusal()),
                        },
                        end: Some(end),
                        stop,
                    };
                }
            }
        };
        let (budget, client_asked) = self.shared.deadline.budget(req.headers());
        let deadline = crate::deadline::deadline_after(start, budget);
        req.extensions_mut().insert(Deadline(deadline));
        let inner = {
            let _entered = end.trace.span().enter();
            self.inner.call(req)
        };
        RpcFuture {
            call: Call::Running {
                inner,
                timer: None,
                deadline,
                client_asked,
                permit,
            },
            end: Some(end),
            stop,
        }
    }
}

/// The end of one call: its status counted and logged once, with one latency.
struct CallEnd {
    method: Arc<Method>,
    trace: RpcTrace,
    start: Instant,
    done: bool,
}

impl CallEnd {
    fn finish(&mut self, code: tonic::Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let latency = self.start.elapsed();
        self.method.metrics.finished(code, latency);
        self.trace.finish(&self.method, code, latency);
    }

    /// Where a wire-level error message should say the call went.
    fn path(&self) -> &str {
        self.trace.unserved_path().unwrap_or(&self.method.path)
    }
}

impl Drop for CallEnd {
    fn drop(&mut self) {
        // The call went away without a status: the client cancelled or the connection died.
        self.finish(tonic::Code::Cancelled);
    }
}

fn status_of(headers: &http::HeaderMap) -> Option<tonic::Code> {
    let value = headers.get(&GRPC_STATUS)?;
    Some(
        std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32),
    )
}

pin_project_lite::pin_project! {
    /// The answer's headers: the handler's, or the stack's own (refused, expired).
    pub struct RpcFuture<F> {
        #[pin]
        call: Call<F>,
        end: Option<CallEnd>,
        stop: Option<Stop>,
    }
}

pin_project_lite::pin_project! {
    #[project = CallProj]
    enum Call<F> {
        Running {
            #[pin]
            inner: F,
            // Created only if the handler does not answer at its first poll: a call answered
            // at once never touches the timer wheel.
            #[pin]
            timer: Option<Sleep>,
            deadline: Instant,
            client_asked: bool,
            permit: Option<Permit>,
        },
        Answered {
            response: Option<http::Response<TonicBody>>,
        },
    }
}

impl<F, E> Future for RpcFuture<F>
where
    F: Future<Output = Result<http::Response<TonicBody>, E>>,
{
    type Output = Result<http::Response<RpcBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.call.project() {
            CallProj::Answered { response } => response
                .take()
                .unwrap_or_else(|| tonic::Status::internal("polled after completion").into_http()),
            CallProj::Running {
                inner,
                mut timer,
                deadline,
                client_asked,
                permit,
            } => {
                let polled = {
                    let _entered = this.end.as_ref().map(|e| e.trace.span().enter());
                    inner.poll(cx)
                };
                match polled {
                    Poll::Ready(Ok(response)) => {
                        permit.take();
                        response
                    }
                    Poll::Ready(Err(e)) => {
                        permit.take();
                        if let Some(end) = this.end.as_mut() {
                            end.finish(tonic::Code::Internal);
                        }
                        return Poll::Ready(Err(e));
                    }
                    Poll::Pending => {
                        if timer.is_none() {
                            timer.set(Some(tokio::time::sleep_until(
                                tokio::time::Instant::from_std(*deadline),
                            )));
                        }
                        let Some(timer) = timer.as_pin_mut() else {
                            return Poll::Pending;
                        };
                        std::task::ready!(timer.poll(cx));
                        // The handler future is dropped with this one, which cancels its
                        // vendor calls too.
                        permit.take();
                        crate::deadline::expired(*client_asked)
                    }
                }
            }
        };
        Poll::Ready(Ok(answer(response, this.end.take(), this.stop.take())))
    }
}

#[cfg(test)]
impl<F> RpcFuture<F> {
    fn has_timer(self: Pin<&mut Self>) -> bool {
        match self.project().call.project() {
            CallProj::Running { timer, .. } => timer.is_some(),
            CallProj::Answered { .. } => false,
        }
    }
}

/// The response as the client gets it: a trailers-only answer rewritten and recorded now,
/// any other one wrapped so that its trailers are recorded when they come.
fn answer(
    response: http::Response<TonicBody>,
    end: Option<CallEnd>,
    stop: Option<Stop>,
) -> http::Response<RpcBody> {
    let (mut parts, body) = response.into_parts();
    let Some(mut end) = end else {
        return http::Response::from_parts(parts, RpcBody::plain(body));
    };
    if let Some(code) = status_of(&parts.headers) {
        let code = crate::wire_errors::rewrite(&mut parts.headers, code, end.path());
        end.finish(code);
        return http::Response::from_parts(parts, RpcBody::plain(body));
    }
    http::Response::from_parts(
        parts,
        RpcBody {
            inner: body,
            end: Some(end),
            stop,
            stopped: false,
        },
    )
}

pin_project_lite::pin_project! {
    /// The answer's body: records the status from the trailers, and ends a stream when
    /// shutdown drains.
    pub struct RpcBody {
        #[pin]
        inner: TonicBody,
        end: Option<CallEnd>,
        stop: Option<Stop>,
        stopped: bool,
    }
}

impl std::fmt::Debug for RpcBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcBody")
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl RpcBody {
    fn plain(inner: TonicBody) -> Self {
        Self {
            inner,
            end: None,
            stop: None,
            stopped: false,
        }
    }
}

impl http_body::Body for RpcBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.stopped {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            if let Some(end) = this.end.as_mut() {
                match &frame {
                    Some(Ok(f)) => {
                        if let Some(trailers) = f.trailers_ref() {
                            end.finish(status_of(trailers).unwrap_or(tonic::Code::Ok));
                        }
                    }
                    Some(Err(_)) => end.finish(tonic::Code::Internal),
                    None => end.finish(tonic::Code::Ok),
                }
            }
            if frame.is_none() {
                *this.stopped = true;
            }
            return Poll::Ready(frame);
        }
        if let Some(stop) = this.stop.as_mut()
            && stop.as_mut().poll(cx).is_ready()
        {
            *this.stopped = true;
            if let Some(end) = this.end.as_mut() {
                end.finish(tonic::Code::Unavailable);
            }
            return Poll::Ready(Some(Ok(Frame::trailers(
                crate::streams::shutting_down_trailers(),
            ))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        // A stream that failed before its first message is a "trailers-only" response:
        // its status is in the headers and its body is already at its end. Saying so
        // lets hyper end the stream with those headers; otherwise a bare END_STREAM
        // DATA frame follows and clients report UNKNOWN instead of the status sent.
        self.stopped || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
