//! One span per RPC, parented to the caller's `traceparent`, and one access line when the
//! RPC ends (target `axle::access`: `rpc`, `grpc_code`, `latency_ms`, `trace_id`).
//!
//! A path the server does not serve gets the span name `unknown/unknown`, so callers
//! cannot mint span names in the trace backend; its access line keeps the path. Health
//! and reflection calls log at debug (probes would drown the rest), server faults
//! (INTERNAL, UNKNOWN, DATA_LOSS) at warn.
//!
//! Cheap when nobody listens: with tracing disabled for these callsites (no subscriber,
//! or a filter that drops them) the span is a disabled handle, the caller's trace context
//! is not parsed, and the access line's fields are never formatted.

use std::time::Duration;

use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::methods::{Method, split_path};

/// The tracing side of one RPC.
pub(crate) struct RpcTrace {
    span: tracing::Span,
    trace_id: Option<String>,
    /// The request's path when the server does not serve it (the access line names it).
    unserved_path: Option<Box<str>>,
}

impl RpcTrace {
    /// Opens the RPC's span. `path` is the request's own path, kept only when `method`
    /// is not served.
    pub(crate) fn start(method: &Method, path: &str, headers: &http::HeaderMap) -> Self {
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = &*method.rpc,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = &*method.service,
            rpc.method = &*method.method,
            rpc.grpc.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let trace_id = if span.is_disabled() {
            None
        } else {
            let parent = opentelemetry::global::get_text_map_propagator(|p| {
                p.extract(&crate::telemetry::HeaderExtractor(headers))
            });
            let _ = span.set_parent(parent);
            let cx = span.context();
            let sc = opentelemetry::trace::TraceContextExt::span(&cx)
                .span_context()
                .clone();
            let id = sc.is_valid().then(|| sc.trace_id().to_string());
            if let Some(id) = &id {
                span.record("trace_id", id.as_str());
            }
            id
        };
        Self {
            span,
            trace_id,
            unserved_path: (!method.is_served()).then(|| path.into()),
        }
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The request's path when the server does not serve it.
    pub(crate) fn unserved_path(&self) -> Option<&str> {
        self.unserved_path.as_deref()
    }

    /// Records the status on the span and writes the access line.
    pub(crate) fn finish(&self, method: &Method, code: tonic::Code, latency: Duration) {
        if !self.span.is_disabled() {
            self.span.record("rpc.grpc.status_code", code_number(code));
        }
        let _entered = self.span.enter();
        let quiet = match &self.unserved_path {
            None => method.infrastructure,
            // As for served probes, so a mistyped probe path does not flood the logs.
            Some(path) => {
                let (service, _) = split_path(path);
                service == crate::methods::HEALTH_SERVICE
                    || crate::methods::REFLECTION_SERVICES.contains(&service)
            }
        };
        let server_fault = matches!(
            code,
            tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss
        );
        // Only reached when the level is enabled for this target: the macro checks the
        // callsite before it evaluates (formats) any field.
        macro_rules! access {
            ($level:expr) => {
                tracing::event!(
                    target: "axle::access",
                    $level,
                    rpc = %AccessRpc { method, unserved: self.unserved_path.as_deref() },
                    grpc_code = crate::metrics::code_name(code),
                    latency_ms = format_args!("{:.2}", latency.as_secs_f64() * 1000.0),
                    trace_id = %self.trace_id.as_deref().unwrap_or_default(),
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

/// The access line's `rpc`: `pkg.Service/Method`, or what an unserved path names.
struct AccessRpc<'a> {
    method: &'a Method,
    unserved: Option<&'a str>,
}

impl std::fmt::Display for AccessRpc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unserved {
            None => f.write_str(&self.method.rpc),
            Some(path) => {
                let (service, method) = split_path(path);
                write!(f, "{service}/{method}")
            }
        }
    }
}

/// The code as the number gRPC sends (`grpc-status`), as text: how the span has always
/// recorded it.
fn code_number(code: tonic::Code) -> &'static str {
    const NUMBERS: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    usize::try_from(code as i32)
        .ok()
        .and_then(|i| NUMBERS.get(i))
        .copied()
        .unwrap_or("2")
}
