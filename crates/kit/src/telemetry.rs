//! Logs and traces.
//!
//! Logs go to stderr, human or JSON. Spans always carry W3C trace context: an incoming
//! `traceparent` becomes the parent of the RPC's span and is passed on to vendor calls,
//! so a trace started by a caller continues through Axle even when Axle itself exports
//! nothing. With `otlp_endpoint` set, spans are exported over OTLP/gRPC in batches.
//!
//! Every RPC ends with one log line (target `axle::access`, see [`crate::access`]):
//! method, gRPC code, latency and trace id; every line logged inside an RPC carries its
//! `trace_id`, so logs join traces.

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::KitError;
use crate::config::{LogFormat, TelemetryConfig};

/// Longest a process waits, when it ends, for its last spans to reach the collector: the
/// exit must stay within the shutdown bound (drain delay + grace + a little), collector
/// or not.
pub const FLUSH_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps the trace pipeline alive; flushes pending spans (for at most [`FLUSH_BOUND`])
/// when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown_with_timeout(FLUSH_BOUND);
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

    // Configuration first, then the OpenTelemetry environment variables every collector
    // deployment already sets (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_*), then defaults.
    let name = cfg
        .service_name
        .clone()
        .or_else(|| otel_env("OTEL_SERVICE_NAME"))
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
    if let Some(endpoint) = &cfg.otlp_endpoint.clone().or_else(otlp_endpoint_from_env) {
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
    // The log filter is the logs' own: a quiet `log_filter = "warn"` must not switch off
    // the spans that traces are made of, so the trace layer keeps every INFO span.
    let logs = human
        .map(|l| Box::new(l) as Box<dyn tracing_subscriber::Layer<_> + Send + Sync>)
        .or_else(|| {
            json.map(|l| Box::new(l) as Box<dyn tracing_subscriber::Layer<_> + Send + Sync>)
        })
        .map(|l| l.with_filter(filter));
    let span_export = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(span_export)
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

/// A non-empty OpenTelemetry environment variable.
fn otel_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// The OTLP endpoint the standard variables name (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
/// else `OTEL_EXPORTER_OTLP_ENDPOINT`), unless `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none` turn export off.
fn otlp_endpoint_from_env() -> Option<String> {
    otlp_endpoint_from(otel_env)
}

fn otlp_endpoint_from(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// Reads the caller's trace context from request headers.
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a http::HeaderMap);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_otel_variables_name_the_collector() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(otlp_endpoint_from(env(&[])), None);
        assert_eq!(
            otlp_endpoint_from(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])),
            Some("http://c:4317".to_owned())
        );
        assert_eq!(
            otlp_endpoint_from(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317"),
            ])),
            Some("http://t:4317".to_owned()),
            "the traces-specific one wins"
        );
        assert_eq!(
            otlp_endpoint_from(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_SDK_DISABLED", "true"),
            ])),
            None
        );
        assert_eq!(
            otlp_endpoint_from(env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ])),
            None
        );
    }
}
