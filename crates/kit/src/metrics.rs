//! Prometheus metrics: one registry per process, per-RPC counters and latency histograms
//! in the go-grpc-prometheus naming, and the `/metrics` endpoint.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::Frame;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

use crate::KitError;

type RpcLabels = [(&'static str, String); 3];

/// The process's metrics. Clones share the registry and the series.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    grpc: GrpcFamilies,
    /// Families other crates register (vendor calls, sources), once per process however
    /// many services share it: a family registered twice makes the exposition invalid.
    shared: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct GrpcFamilies {
    started: Family<RpcLabels, Counter>,
    handled: Family<[(&'static str, String); 4], Counter>,
    seconds: Family<RpcLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let grpc = GrpcFamilies {
            started: Family::default(),
            handled: Family::default(),
            // 0.5 ms .. 30 s (the default request timeout): local RPCs live in the first
            // buckets, vendor-backed ones further up, and P99 targets of tens of ms get
            // buckets close enough for histogram_quantile to be read to a few ms.
            seconds: Family::new_with_constructor(|| {
                Histogram::new([
                    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04,
                    0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
            }),
        };
        registry.register(
            "grpc_server_started",
            "RPCs started on the server",
            grpc.started.clone(),
        );
        registry.register(
            "grpc_server_handled",
            "RPCs completed on the server, by gRPC status code",
            grpc.handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Time from request to the end of the response (trailers), by method",
            grpc.seconds.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            grpc,
            shared: Arc::default(),
        }
    }

    /// The process's one instance of a set of metric families registered by another
    /// crate (`register` runs the first time `T` is asked for; later calls get a clone of
    /// that instance), so that every service of the process updates the same series.
    pub fn shared<T: Clone + Send + Sync + 'static>(
        &self,
        register: impl FnOnce(&mut Registry) -> T,
    ) -> T {
        let mut shared = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = shared
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
        {
            return existing.clone();
        }
        // Lock order: `shared`, then `registry` (nothing takes them the other way).
        let families = self.with_registry(register);
        shared.insert(TypeId::of::<T>(), Box::new(families.clone()));
        families
    }

    /// Lets other crates (connectors) register their families in the same registry.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut r = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut r)
    }

    /// OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }

    /// The tower layer that records every RPC. Paths not in `methods` are counted as
    /// service and method `unknown`: a client must not be able to mint label values.
    pub fn layer(&self, methods: MethodTable) -> GrpcMetricsLayer {
        GrpcMetricsLayer {
            families: self.grpc.clone(),
            methods: Arc::new(methods),
        }
    }
}

/// The RPCs a server serves, by path (`/pkg.Service/Method`), with their kind in the
/// go-grpc-prometheus `grpc_type` vocabulary (`unary`, `client_stream`, `server_stream`,
/// `bidi_stream`).
#[derive(Debug, Clone, Default)]
pub struct MethodTable {
    kinds: HashMap<String, &'static str>,
}

impl MethodTable {
    /// The methods of `services` (fully-qualified names) found in the encoded descriptor
    /// sets. Services not named are left out even if a set describes them.
    pub fn from_descriptor_sets(sets: &[&[u8]], services: &[&str]) -> Result<Self, KitError> {
        use prost::Message as _;
        let mut kinds = HashMap::new();
        for set in sets {
            let set = prost_types::FileDescriptorSet::decode(*set)
                .map_err(|e| KitError::Reflection(format!("descriptor set: {e}")))?;
            for file in &set.file {
                for svc in &file.service {
                    let full = match file.package() {
                        "" => svc.name().to_owned(),
                        pkg => format!("{pkg}.{}", svc.name()),
                    };
                    if !services.contains(&full.as_str()) {
                        continue;
                    }
                    for m in &svc.method {
                        let kind = match (m.client_streaming(), m.server_streaming()) {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        kinds.insert(format!("/{full}/{}", m.name()), kind);
                    }
                }
            }
        }
        Ok(Self { kinds })
    }

    /// The kind of the RPC at `path`, if it is served.
    pub fn kind(&self, path: &str) -> Option<&'static str> {
        self.kinds.get(path).copied()
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Serves `GET /metrics` (and `GET /healthz` for plain HTTP probes) until `stop`
/// resolves. Pass the servers' end ([`crate::server::RunningServer::finished`]), not the
/// shutdown signal: the drain is when shed calls and final counters matter, and a
/// scrape during it must still find the endpoint.
pub async fn serve_metrics(
    addr: SocketAddr,
    metrics: Metrics,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), KitError> {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| KitError::Bind { addr, error })?;
    let bound = listener
        .local_addr()
        .map_err(|error| KitError::Bind { addr, error })?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    let handle = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "metrics endpoint failed");
        }
    });
    Ok((bound, handle))
}

/// Records `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}` and
/// `grpc_server_handling_seconds` for every call. The status of a unary call is in the
/// trailers when it succeeds and in the headers when it fails early ("trailers-only"), so
/// both are read.
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    families: GrpcFamilies,
    methods: Arc<MethodTable>,
}

impl std::fmt::Debug for GrpcMetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrpcMetricsLayer")
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            families: self.families.clone(),
            methods: self.methods.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    families: GrpcFamilies,
    methods: Arc<MethodTable>,
}

impl<S> std::fmt::Debug for GrpcMetrics<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrpcMetrics")
    }
}

/// Splits `/pkg.Service/Method`.
pub fn split_path(path: &str) -> (String, String) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((s, m)) => (s.to_owned(), m.to_owned()),
        None => (trimmed.to_owned(), String::new()),
    }
}

impl<S, B> Service<http::Request<B>> for GrpcMetrics<S>
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
        let path = req.uri().path();
        let (kind, (service, method)) = match self.methods.kind(path) {
            Some(kind) => (kind, split_path(path)),
            None => ("unknown", ("unknown".to_owned(), "unknown".to_owned())),
        };
        let families = self.families.clone();
        families
            .started
            .get_or_create(&[
                ("grpc_type", kind.to_owned()),
                ("grpc_service", service.clone()),
                ("grpc_method", method.clone()),
            ])
            .inc();
        let recorder = Recorder {
            families,
            kind,
            service,
            method,
            start: Instant::now(),
            done: false,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            let (parts, body) = resp.into_parts();
            if let Some(code) = parts.headers.get("grpc-status") {
                let mut recorder = recorder;
                recorder.finish(code.to_str().unwrap_or("2"));
                return Ok(http::Response::from_parts(parts, body));
            }
            let body = tonic::body::Body::new(RecordingBody {
                inner: body,
                recorder,
            });
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

struct Recorder {
    families: GrpcFamilies,
    kind: &'static str,
    service: String,
    method: String,
    start: Instant,
    done: bool,
}

impl Recorder {
    fn finish(&mut self, code: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let code_name = code
            .parse::<i32>()
            .map_or("Unknown", |c| code_name(tonic::Code::from_i32(c)));
        self.families
            .handled
            .get_or_create(&[
                ("grpc_type", self.kind.to_owned()),
                ("grpc_service", self.service.clone()),
                ("grpc_method", self.method.clone()),
                ("grpc_code", code_name.to_owned()),
            ])
            .inc();
        self.families
            .seconds
            .get_or_create(&[
                ("grpc_type", self.kind.to_owned()),
                ("grpc_service", self.service.clone()),
                ("grpc_method", self.method.clone()),
            ])
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // The body went away without trailers: the client cancelled or the connection died.
        self.finish("1");
    }
}

/// A gRPC code's name as the grpc-ecosystem Prometheus middlewares label it (Go's
/// `codes.Code.String()`: "OK", "InvalidArgument", "Canceled" ...), so that standard
/// dashboards and alert rules match.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "Canceled",
        C::Unknown => "Unknown",
        C::InvalidArgument => "InvalidArgument",
        C::DeadlineExceeded => "DeadlineExceeded",
        C::NotFound => "NotFound",
        C::AlreadyExists => "AlreadyExists",
        C::PermissionDenied => "PermissionDenied",
        C::ResourceExhausted => "ResourceExhausted",
        C::FailedPrecondition => "FailedPrecondition",
        C::Aborted => "Aborted",
        C::OutOfRange => "OutOfRange",
        C::Unimplemented => "Unimplemented",
        C::Internal => "Internal",
        C::Unavailable => "Unavailable",
        C::DataLoss => "DataLoss",
        C::Unauthenticated => "Unauthenticated",
    }
}

pin_project_lite::pin_project! {
    struct RecordingBody {
        #[pin]
        inner: tonic::body::Body,
        recorder: Recorder,
    }
}

impl http_body::Body for RecordingBody {
    type Data = bytes_alias::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(trailers) = f.trailers_ref() {
                    let code = trailers
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0");
                    this.recorder.finish(code);
                }
            }
            Some(Err(_)) => this.recorder.finish("13"),
            None => this.recorder.finish("0"),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

mod bytes_alias {
    pub type Bytes = <tonic::body::Body as http_body::Body>::Data;
}
