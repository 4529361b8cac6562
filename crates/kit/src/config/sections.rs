//! The sections every service's configuration has: `[server]` and `[telemetry]`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Validate, duration};

/// The gRPC server settings every service has under `[server]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Prometheus `/metrics` listen address; absent, "" or "off" disables it (the
    /// latter two so an environment variable can turn it off).
    #[serde(with = "optional_addr")]
    pub metrics_listen: Option<SocketAddr>,
    /// Requests in flight beyond this are rejected at once with RESOURCE_EXHAUSTED
    /// (queueing would only turn overload into timeouts). Lowered at start, with a
    /// warning, to what the open-file limit can hold (`crate::descriptors`).
    pub max_concurrent_requests: usize,
    /// Upper bound of any call's deadline; a client's shorter `grpc-timeout` wins.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// On SIGTERM health goes NOT_SERVING at once; the listener stays open this long
    /// more, so that load balancers and probes polling health see NOT_SERVING before
    /// connections are refused (on Kubernetes a few seconds, within the pod's
    /// terminationGracePeriodSeconds).
    #[serde(with = "duration")]
    pub drain_delay: Duration,
    /// After the drain delay new connections are refused, open streams (health
    /// watches) end with UNAVAILABLE, and in-flight calls get this long to finish; then
    /// the connections still open are cut (a hard bound: see `crate::server`).
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Largest request message accepted (bytes).
    pub max_request_bytes: usize,
}

impl Validate for ServerConfig {
    fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: &str| out.push((key.to_owned(), message.to_owned()));
        if self.request_timeout.is_zero() {
            bad(
                "request_timeout",
                "must be more than 0 (every call would fail)",
            );
        }
        if self.max_concurrent_requests == 0 {
            bad(
                "max_concurrent_requests",
                "must be at least 1 (every call would be refused)",
            );
        }
        if self.max_request_bytes == 0 {
            bad("max_request_bytes", "must be at least 1");
        }
        out
    }
}

impl ServerConfig {
    /// Values that parse but cannot work: refused at start with the key to fix (a
    /// configuration loaded by [`load`] was checked already, with the key's origin).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some((key, message)) => Err(ConfigError::Invalid {
                key: format!("server.{key}"),
                origin: "configuration".to_owned(),
                message,
            }),
        }
    }

    /// Loopback defaults of a service: gRPC on `port`, `/metrics` on `metrics_port`.
    pub fn local(port: u16, metrics_port: u16) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], metrics_port))),
            ..Self::default()
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_listen: None,
            max_concurrent_requests: 1024,
            request_timeout: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(30),
            max_request_bytes: 4 * 1024 * 1024,
        }
    }
}

/// An optional socket address that configuration can also switch off with "" or "off"
/// (an environment variable cannot express "absent").
pub mod optional_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.serialize_str(&a.to_string()),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "{t:?} is not an address such as 127.0.0.1:9051 (a host name is not accepted), or \"off\""
            ))
        })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging and tracing, under `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// `tracing` filter directive, e.g. "info" or "info,connector=debug"; `RUST_LOG`
    /// overrides it.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint, e.g. "http://otel-collector:4317"; absent disables
    /// trace export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` resource attribute; defaults to the binary's service name.
    pub service_name: Option<String>,
    /// Fraction of root traces sampled (parent-based: a sampled caller is always followed).
    pub trace_sample_ratio: f64,
}

impl Validate for TelemetryConfig {
    fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            out.push((
                "trace_sample_ratio".to_owned(),
                format!("must be between 0 and 1, not {}", self.trace_sample_ratio),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_filter) {
            out.push((
                "log_filter".to_owned(),
                format!("not a tracing filter directive: {e}"),
            ));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let ok = endpoint.parse::<http::Uri>().is_ok_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()
            });
            if !ok {
                out.push((
                    "otlp_endpoint".to_owned(),
                    "must be an http:// or https:// URL such as http://otel-collector:4317"
                        .to_owned(),
                ));
            }
        }
        out
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Human,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name: None,
            trace_sample_ratio: 1.0,
        }
    }
}
