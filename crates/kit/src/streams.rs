//! Ends open response streams when the server shuts down.
//!
//! tonic's graceful shutdown waits for every connection to finish, and a
//! `grpc.health.v1.Health/Watch` stream never finishes by itself: one watching client
//! (grpc-go's client-side health checking, a mesh sidecar) would hold shutdown for the
//! whole grace period. Once draining has begun (health already NOT_SERVING and sent),
//! streaming responses end with UNAVAILABLE, which tells the client to reconnect
//! elsewhere. Unary responses are never touched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::Frame;
use tower::{Layer, Service};

use crate::metrics::MethodTable;

type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Makes the stop signal for one stream: resolves when streams should end.
pub type StopFactory = Arc<dyn Fn() -> Stop + Send + Sync>;

#[derive(Clone)]
pub struct EndStreamsLayer {
    methods: Arc<MethodTable>,
    stop: StopFactory,
}

impl std::fmt::Debug for EndStreamsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndStreamsLayer")
    }
}

impl EndStreamsLayer {
    pub fn new(methods: MethodTable, stop: StopFactory) -> Self {
        Self {
            methods: Arc::new(methods),
            stop,
        }
    }
}

impl<S> Layer<S> for EndStreamsLayer {
    type Service = EndStreams<S>;
    fn layer(&self, inner: S) -> Self::Service {
        EndStreams {
            inner,
            methods: self.methods.clone(),
            stop: self.stop.clone(),
        }
    }
}

#[derive(Clone)]
pub struct EndStreams<S> {
    inner: S,
    methods: Arc<MethodTable>,
    stop: StopFactory,
}

impl<S> std::fmt::Debug for EndStreams<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndStreams")
    }
}

impl<S, B> Service<http::Request<B>> for EndStreams<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let streaming = self
            .methods
            .kind(req.uri().path())
            .is_some_and(|k| k == "server_stream" || k == "bidi_stream");
        let stop = streaming.then(|| (self.stop)());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(match stop {
                None => resp,
                Some(stop) => {
                    let (parts, body) = resp.into_parts();
                    http::Response::from_parts(
                        parts,
                        tonic::body::Body::new(EndOnStop {
                            inner: body,
                            stop,
                            done: false,
                        }),
                    )
                }
            })
        })
    }
}

pin_project_lite::pin_project! {
    struct EndOnStop {
        #[pin]
        inner: tonic::body::Body,
        stop: Stop,
        done: bool,
    }
}

impl http_body::Body for EndOnStop {
    type Data = bytes_alias::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            if frame.is_none() {
                *this.done = true;
            }
            return Poll::Ready(frame);
        }
        if this.stop.as_mut().poll(cx).is_ready() {
            *this.done = true;
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
            trailers.insert(
                "grpc-message",
                http::HeaderValue::from_static("server%20is%20shutting%20down"),
            );
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        // A stream that failed before its first message is a "trailers-only" response:
        // its status is in the headers and its body is already at its end. Saying so
        // lets hyper end the stream with those headers; otherwise a bare END_STREAM
        // DATA frame follows and clients report UNKNOWN instead of the status sent.
        self.done || self.inner.is_end_stream()
    }
}

/// `bytes::Bytes` as tonic's body uses it, without a direct dependency on `bytes`.
mod bytes_alias {
    pub type Bytes = <tonic::body::Body as http_body::Body>::Data;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_failed_before_its_first_message_is_already_over() {
        // tonic answers a stream that fails at once "trailers-only": the status in the
        // headers and an empty body. The wrapper must say the body is over, or hyper
        // sends an extra END_STREAM DATA frame and clients see UNKNOWN.
        let body = EndOnStop {
            inner: tonic::body::Body::empty(),
            stop: Box::pin(std::future::pending()),
            done: false,
        };
        assert!(http_body::Body::is_end_stream(&body));
    }
}
