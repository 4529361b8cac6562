//! Logs and traces.
//!
//! Logs go to stderr, human or JSON. Spans always carry W3C trace context: an incoming
//! `traceparent` becomes the parent of the RPC's span and is passed on to vendor calls,
//! so a trace started by a caller continues through Axle even when Axle itself exports
//! nothing. With `otlp_endpoint` set, spans are exported over OTLP/gRPC in batches.
//!
//! Every RPC ends with one log line (target `axle::access`): method, gRPC code, latency
//! and trace id; every line logged inside an RPC carries its `trace_id`, so logs join
//! traces. Health and reflection calls log at debug (probes would drown the rest).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::KitError;
use crate::config::{LogFormat, TelemetryConfig};

/// Keeps the trace pipeline alive; flushes pending spans when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs logging and tracing for the process. Later calls (tests, `axle up` starting
/// several services) are no-ops: a process has one subscriber.
pub fn init(cfg: &TelemetryConfig, service_name: &str) -> Result<TelemetryGuard, KitError> {
    if INSTALLED.get().is_some() {
        return Ok(TelemetryGuard { provider: None });
    }
    if !(0.0..=1.0).contains(&cfg.trace_sample_ratio) {
        return Err(KitError::Telemetry(format!(
            "telemetry.trace_sample_ratio must be between 0 and 1, not {}",
            cfg.trace_sample_ratio
        )));
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let name = cfg
        .service_name
        .clone()
        .unwrap_or_else(|| service_name.to_owned());
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            cfg.trace_sample_ratio.clamp(0.0, 1.0),
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(name)
                .build(),
        );
    if let Some(endpoint) = &cfg.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| KitError::Telemetry(format!("OTLP exporter for {endpoint}: {e}")))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("axle");

    // RUST_LOG, when set, overrides log_filter; a wrong one is an error, not ignored.
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| KitError::Telemetry(format!("RUST_LOG {directives:?}: {e}")))?,
        _ => EnvFilter::try_new(&cfg.log_filter)
            .map_err(|e| KitError::Telemetry(format!("log_filter {:?}: {e}", cfg.log_filter)))?,
    };
    // Colours only on a terminal: redirected to a file they are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (human, json) = match cfg.log_format {
        LogFormat::Human => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    // The RPC's span is the only one that matters; the list repeats it.
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(human)
        .with(json)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init();
    let _ = INSTALLED.set(());
    match installed {
        Ok(()) => Ok(TelemetryGuard {
            provider: Some(provider),
        }),
        // Someone else (a test harness) installed a subscriber first: keep theirs.
        Err(_) => Ok(TelemetryGuard { provider: None }),
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjectorMap<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjectorMap<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into `headers`.
pub fn inject_current(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjectorMap(headers));
    });
}

/// Outermost server layer: one span per RPC, parented to the caller's `traceparent`, so
/// everything below (metrics, handler, vendor calls) happens inside it. With the server's
/// method table, a path it does not serve gets the span name "unknown/unknown", so
/// callers cannot mint span names in the trace backend (the access line keeps the path).
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    methods: Option<Arc<crate::metrics::MethodTable>>,
}

impl TraceLayer {
    pub fn new(methods: crate::metrics::MethodTable) -> Self {
        Self {
            methods: Some(Arc::new(methods)),
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceService {
            inner,
            methods: self.methods.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TraceService<S> {
    inner: S,
    methods: Option<Arc<crate::metrics::MethodTable>>,
}

impl<S, B> Service<http::Request<B>> for TraceService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (service, method) = crate::metrics::split_path(req.uri().path());
        let served = self
            .methods
            .as_ref()
            .is_none_or(|m| m.kind(req.uri().path()).is_some());
        let (span_service, span_method) = if served {
            (service.as_str(), method.as_str())
        } else {
            ("unknown", "unknown")
        };
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(req.headers()))
        });
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = %format!("{span_service}/{span_method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %span_service,
            rpc.method = %span_method,
            rpc.grpc.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let _ = span.set_parent(parent);
        let trace_id = {
            let cx = span.context();
            let sc = opentelemetry::trace::TraceContextExt::span(&cx)
                .span_context()
                .clone();
            sc.is_valid().then(|| sc.trace_id().to_string())
        };
        if let Some(id) = &trace_id {
            span.record("trace_id", id.as_str());
        }
        let access = AccessLog {
            start: Instant::now(),
            service,
            method,
            trace_id: trace_id.unwrap_or_default(),
            span: span.clone(),
            done: false,
        };
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        Box::pin(
            async move {
                let mut access = access;
                let resp = fut.await;
                match resp {
                    Ok(r) => {
                        // A failure before the handler answers is in the headers
                        // ("trailers-only"); a normal answer's status comes in the trailers.
                        if let Some(code) =
                            r.headers().get("grpc-status").and_then(|v| v.to_str().ok())
                        {
                            access.finish(code);
                            return Ok(r);
                        }
                        let (parts, body) = r.into_parts();
                        Ok(http::Response::from_parts(
                            parts,
                            tonic::body::Body::new(StatusRecordingBody {
                                inner: body,
                                access,
                            }),
                        ))
                    }
                    Err(e) => {
                        access.finish("13");
                        Err(e)
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// The end of one RPC: its code on the span, and one log line.
struct AccessLog {
    start: Instant,
    service: String,
    method: String,
    trace_id: String,
    span: tracing::Span,
    done: bool,
}

impl AccessLog {
    fn finish(&mut self, grpc_status: &str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.span.record("rpc.grpc.status_code", grpc_status);
        let code = grpc_status
            .parse::<i32>()
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
        let latency_ms = self.start.elapsed().as_secs_f64() * 1000.0;
        let rpc = format!("{}/{}", self.service, self.method);
        let code_name = crate::metrics::code_name(code);
        let _entered = self.span.enter();
        let quiet =
            self.service == "grpc.health.v1.Health" || self.service.starts_with("grpc.reflection.");
        let server_fault = matches!(
            code,
            tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss
        );
        macro_rules! access {
            ($level:expr) => {
                tracing::event!(
                    target: "axle::access",
                    $level,
                    rpc = %rpc,
                    grpc_code = code_name,
                    latency_ms = format_args!("{latency_ms:.2}"),
                    trace_id = %self.trace_id,
                    "rpc finished"
                )
            };
        }
        if quiet {
            access!(tracing::Level::DEBUG);
        } else if server_fault {
            access!(tracing::Level::WARN);
        } else {
            access!(tracing::Level::INFO);
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        // The response went away without a status: the client cancelled or the
        // connection died.
        self.finish("1");
    }
}

pin_project_lite::pin_project! {
    /// Records the status from the trailers on the RPC's span and logs the RPC's end.
    struct StatusRecordingBody {
        #[pin]
        inner: tonic::body::Body,
        access: AccessLog,
    }
}

impl http_body::Body for StatusRecordingBody {
    type Data = <tonic::body::Body as http_body::Body>::Data;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(t) = f.trailers_ref() {
                    let code = t
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0");
                    this.access.finish(code);
                }
            }
            Some(Err(_)) => this.access.finish("13"),
            None => this.access.finish("0"),
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
