//! Prometheus metrics: one registry per process, per-RPC counters and latency histograms
//! in the go-grpc-prometheus naming, and the `/metrics` endpoint.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
    /// Read when the metrics are encoded: a count that keeps growing under a steady load
    /// is a task leak (a soak run reads it, docs/reliability.md).
    alive_tasks: Gauge,
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
        let alive_tasks = Gauge::default();
        registry.register(
            "tokio_alive_tasks",
            "Tasks alive in the Tokio runtime that serves /metrics, when it was read",
            alive_tasks.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            grpc,
            shared: Arc::default(),
            alive_tasks,
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
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            self.alive_tasks
                .set(i64::try_from(rt.metrics().num_alive_tasks()).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        let r = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }

    /// The series of one method, for the server stack. Label values are built here, once
    /// per method at start, never per call.
    pub(crate) fn method(&self, kind: &'static str, service: &str, method: &str) -> MethodMetrics {
        MethodMetrics {
            labels: [
                ("grpc_type", kind.to_owned()),
                ("grpc_service", service.to_owned()),
                ("grpc_method", method.to_owned()),
            ],
            families: self.grpc.clone(),
            started: OnceLock::new(),
            seconds: OnceLock::new(),
            handled: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// Number of gRPC status codes (0 OK ..= 16 UNAUTHENTICATED).
const CODES: usize = 17;

/// Handles on one method's series. A series is registered in its family at its first use
/// (so `/metrics` shows exactly the series that have happened, as before handles existed)
/// and kept: recording a call is an atomic add, with no label built or hashed.
pub(crate) struct MethodMetrics {
    labels: RpcLabels,
    families: GrpcFamilies,
    started: OnceLock<Counter>,
    seconds: OnceLock<Histogram>,
    handled: [OnceLock<Counter>; CODES],
}

impl std::fmt::Debug for MethodMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodMetrics")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl MethodMetrics {
    /// `grpc_server_started_total`.
    pub(crate) fn started(&self) {
        self.started
            .get_or_init(|| self.families.started.get_or_create(&self.labels).clone())
            .inc();
    }

    /// `grpc_server_handled_total{grpc_code}` and `grpc_server_handling_seconds`.
    pub(crate) fn finished(&self, code: tonic::Code, elapsed: Duration) {
        let index = usize::try_from(code as i32).unwrap_or(0).min(CODES - 1);
        self.handled[index]
            .get_or_init(|| {
                let [kind, service, method] = self.labels.clone();
                self.families
                    .handled
                    .get_or_create(&[
                        kind,
                        service,
                        method,
                        ("grpc_code", code_name(code).to_owned()),
                    ])
                    .clone()
            })
            .inc();
        self.seconds
            .get_or_init(|| self.families.seconds.get_or_create(&self.labels).clone())
            .observe(elapsed.as_secs_f64());
    }
}

/// How long a `/metrics` client may take to send a request's head, and how long an idle
/// keep-alive connection stays open: a scrape sends its few hundred bytes at once, so
/// anything slower is a stuck or hostile client holding a task and a descriptor
/// (slowloris). A scraper on a 15 s interval reconnects, which costs nothing.
pub const METRICS_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one `/metrics` request may take, its answer written: the handlers read no
/// body, so this bounds a client that sends one slowly (or reads the answer slowly).
pub const METRICS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// After the endpoint stops, how long a scrape still in flight may take (encoding the
/// registry takes milliseconds; the rest is a slow reader, not worth holding the exit).
pub const METRICS_CLOSE_BOUND: Duration = Duration::from_secs(1);

/// Serves `GET /metrics` (and `GET /healthz` for plain HTTP probes) until `stop`
/// resolves. Pass the servers' end ([`crate::server::RunningServer::finished`]), not the
/// shutdown signal: the drain is when shed calls and final counters matter, and a
/// scrape during it must still find the endpoint.
///
/// HTTP/1 only, each connection bounded by [`METRICS_HEADER_READ_TIMEOUT`] and
/// [`METRICS_REQUEST_TIMEOUT`] (`axum::serve` sets no timer, so a client sending its
/// headers a byte at a time was kept forever). After `stop`, connections still open get
/// [`METRICS_CLOSE_BOUND`] to finish.
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
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        use tower::ServiceExt as _;
        let app = app.clone();
        async move {
            let answer = tokio::time::timeout(
                METRICS_REQUEST_TIMEOUT,
                app.oneshot(req.map(axum::body::Body::new)),
            )
            .await;
            match answer {
                Ok(Ok(resp)) => Ok(resp),
                Ok(Err(never)) => match never {},
                Err(elapsed) => Err(elapsed),
            }
        }
    });
    let limits = listener::Limits {
        header_read_timeout: METRICS_HEADER_READ_TIMEOUT,
        // A scrape's head is a few hundred bytes.
        max_header_bytes: 16 * 1024,
        // Reached by scrapers and probes only (a NetworkPolicy's business to restrict).
        max_connections: None,
        close_bound: METRICS_CLOSE_BOUND,
    };
    let handle = listener::spawn(listener, service, limits, stop, "metrics endpoint");
    Ok((bound, handle))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_record_into_the_registry_under_the_method_labels() {
        let metrics = Metrics::new();
        let m = metrics.method("unary", "a.B", "C");
        assert!(
            !metrics.encode().contains("a.B"),
            "no series before the first call"
        );
        m.started();
        m.started();
        m.finished(tonic::Code::Ok, Duration::from_millis(3));
        m.finished(tonic::Code::NotFound, Duration::from_millis(3));
        let text = metrics.encode();
        for line in [
            r#"grpc_server_started_total{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 2"#,
            r#"grpc_server_handled_total{grpc_type="unary",grpc_service="a.B",grpc_method="C",grpc_code="OK"} 1"#,
            r#"grpc_server_handled_total{grpc_type="unary",grpc_service="a.B",grpc_method="C",grpc_code="NotFound"} 1"#,
            r#"grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 2"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // A second handle on the same labels (another server in the process) shares the
        // series instead of registering it twice.
        metrics.method("unary", "a.B", "C").started();
        assert!(metrics.encode().contains(
            r#"grpc_server_started_total{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 3"#
        ));
    }
}

#[cfg(test)]
mod task_tests {
    use super::*;

    #[tokio::test]
    async fn the_alive_tasks_gauge_follows_the_runtime() {
        let metrics = Metrics::new();
        let count = |text: &str| -> i64 {
            text.lines()
                .find_map(|l| l.strip_prefix("tokio_alive_tasks "))
                .expect("the gauge is exposed")
                .trim()
                .parse()
                .expect("a number")
        };
        let before = count(&metrics.encode());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let parked: Vec<_> = (0..5)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        let waiter = tokio::spawn(async move {
            let _ = rx.await;
        });
        assert_eq!(count(&metrics.encode()), before + 6);
        parked.iter().for_each(tokio::task::JoinHandle::abort);
        let _ = tx.send(());
        waiter.await.expect("waiter");
        for p in parked {
            let _ = p.await;
        }
        assert_eq!(count(&metrics.encode()), before);
    }
}
