//! Server bootstrap shared by every service: one call binds, serves health and
//! reflection next to the service, stacks the cross-cutting layers, and stops within a
//! bounded time.
//!
//! The shutdown contract, from the moment the [`Shutdown`] fires (SIGTERM):
//!
//! 1. health answers NOT_SERVING at once, for every service and for "";
//! 2. for `drain_delay` everything else goes on as before (new connections and calls are
//!    served), so load balancers and probes polling health see NOT_SERVING first;
//! 3. then the listener closes (new connections are refused), every connection gets
//!    GOAWAY (no new calls on it), open streams such as health watches end with
//!    UNAVAILABLE, and calls in flight may finish;
//! 4. at `drain_delay + shutdown_grace` every connection still open is cut, which also
//!    cancels the handlers still running on it ([`crate::cutoff`]);
//! 5. once no connection is left, work the calls started and left running (registered
//!    with [`RunningServer::finish_after`]: a paid vendor submission whose caller's
//!    deadline ended first) gets what is left of `drain_delay + shutdown_grace` to end;
//!    then "gRPC server stopped" is logged and the server's future
//!    ([`RunningServer::wait`]) resolves: at most [`CUT_BOUND`] after the cut.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::KitError;
use crate::config::ServerConfig;
use crate::cutoff::Cutoff;
use crate::methods::INFRASTRUCTURE;
use crate::metrics::Metrics;
use crate::stack::RpcLayer;

/// Longest wait, after the grace period's cut, for the connections' tasks to notice and
/// end. They end at their next poll, which the cut wakes; this only bounds the
/// unexpected.
pub const CUT_BOUND: Duration = Duration::from_secs(1);

/// A shutdown signal shared by every server of a process (`axle up` runs several).
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    deferred: Deferred,
    closing: Deferred,
    /// When the process begins to stop: this signal, or for a side signal its main's.
    draining: watch::Receiver<bool>,
    /// The side listeners started on this signal, where they listen.
    listening: Listening,
}

/// A listener beside a server's gRPC port (a vendor's callback webhook): whoever runs
/// the server can say where it listens, port 0 included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideListener {
    /// What listens, e.g. `platecb` (its webhook).
    pub name: &'static str,
    /// The bound address.
    pub addr: SocketAddr,
    /// The path it answers, e.g. `/webhooks/platecb`.
    pub path: &'static str,
}

impl SideListener {
    /// `http://addr/path`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }
}

#[derive(Debug, Clone, Default)]
struct Listening(Arc<Mutex<Vec<SideListener>>>);

impl Listening {
    fn lock(&self) -> MutexGuard<'_, Vec<SideListener>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Work registered now and awaited later, each piece once.
#[derive(Clone, Default)]
struct Deferred(Arc<Mutex<Vec<Work>>>);

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("pieces", &self.lock().len())
            .finish()
    }
}

impl Deferred {
    fn lock(&self) -> MutexGuard<'_, Vec<Work>> {
        // A panic elsewhere while holding the list leaves it usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.lock().push(Box::pin(work));
    }

    /// Awaits every piece, pieces registered meanwhile included.
    fn run(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            loop {
                let next = this.lock().pop();
                match next {
                    Some(work) => work.await,
                    None => return,
                }
            }
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, draining) = watch::channel(false);
        Self {
            tx: Arc::new(tx),
            deferred: Deferred::default(),
            closing: Deferred::default(),
            draining,
            listening: Listening::default(),
        }
    }

    /// Records where a side listener started on this signal listens; its server then
    /// reports it ([`RunningServer::side_listeners`], once attached with
    /// [`RunningServer::attach_side`]).
    pub fn listening(&self, listener: SideListener) {
        self.listening.lock().push(listener);
    }

    /// Registers work that whoever stops on this signal lets end before it is done:
    /// what a call starts and may outlive, such as a paid vendor submission whose outcome
    /// must be recorded. A service hands it to its server with
    /// [`RunningServer::finish_after`]`(stop.deferred())`.
    pub fn defer(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.deferred.push(work);
    }

    /// Resolves once every piece of work registered with [`Shutdown::defer`] has ended
    /// (work registered while it waits included).
    pub fn deferred(&self) -> impl Future<Output = ()> + Send + 'static {
        self.deferred.run()
    }

    /// A signal of its own for the side listeners of a server stopped by `main` (they
    /// stop after the server: [`RunningServer::attach_side`]), whose
    /// [`Shutdown::draining`] is `main`'s: what they start can tell that the process is
    /// stopping before they are told to stop.
    pub fn side_of(main: &Shutdown) -> Self {
        Self {
            draining: main.draining.clone(),
            ..Self::new()
        }
    }

    /// Turns true when the process begins to stop: this signal's trigger, or for a
    /// [`Shutdown::side_of`] signal its main's. For work that must not begin anything new
    /// once stopping, such as a vendor client's next attempt at a paid submission
    /// (`connector::client::ClientContext::stopping_on`).
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.clone()
    }

    /// A side listener that stops on this signal (a webhook beside the gRPC server):
    /// `closing` ends once it has answered the requests it accepted. Its owner awaits
    /// it through [`Shutdown::closed`] and [`RunningServer::close_after`], so that the
    /// process does not exit in the middle of a request it accepted (a vendor's callback
    /// half stored and never acknowledged).
    pub fn close_with(&self, closing: impl Future<Output = ()> + Send + 'static) {
        self.closing.push(closing);
    }

    /// Resolves once every listener registered with [`Shutdown::close_with`] has closed.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.closing.run()
    }

    /// A signal that fires on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
    pub fn on_signals() -> Self {
        let s = Self::new();
        let t = s.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received: draining (a second signal exits at once)");
            t.trigger();
            // An operator who asks twice does not want to wait for the grace period.
            wait_for_signal().await;
            tracing::warn!("second shutdown signal: exiting without waiting for calls in flight");
            std::process::exit(130);
        });
        s
    }

    /// Starts the shutdown. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the shutdown has started.
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail while we hold it.
        let _ = rx.wait_for(|t| *t).await;
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What to serve.
#[derive(Debug)]
pub struct ServerOptions {
    pub config: ServerConfig,
    /// Fully-qualified names of the application services, for health.
    pub service_names: Vec<&'static str>,
    /// Encoded descriptor sets of the application protos, for reflection.
    pub file_descriptor_sets: Vec<&'static [u8]>,
    pub metrics: Metrics,
}

/// A server that is accepting calls.
#[derive(Debug)]
pub struct RunningServer {
    pub grpc_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    task: JoinHandle<Result<(), KitError>>,
    finished: Shutdown,
    after: Deferred,
    closing: Deferred,
    sides: Listening,
}

impl RunningServer {
    /// Work the server lets end once its last connection has closed, within what is
    /// left of `drain_delay + shutdown_grace` after the signal, before it counts as
    /// stopped ([`RunningServer::finished`] fires, [`RunningServer::wait`] resolves):
    /// work its calls started and left running. Abandoned, with a warning, when the grace
    /// period ends first.
    pub fn finish_after(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.after.push(work);
    }

    /// Fires once the server has stopped serving (drained, or the grace period is over):
    /// what its side listeners (metrics, webhooks) stop on, so that they outlive the
    /// drain instead of closing at the first signal.
    pub fn finished(&self) -> Shutdown {
        self.finished.clone()
    }

    /// Side listeners that stop when [`RunningServer::finished`] fires: the server counts
    /// as stopped ([`RunningServer::wait`] resolves) once they have closed too, within
    /// what is left of `drain_delay + shutdown_grace +` [`CUT_BOUND`] after the signal.
    /// Without this a process exits while its webhook is still answering a callback.
    pub fn close_after(&self, closing: impl Future<Output = ()> + Send + 'static) {
        self.closing.push(closing);
    }

    /// Ties the side listeners started on `side` (a signal of their own, e.g. a vendor's
    /// webhook) to this server: the work they [`Shutdown::defer`]red ends before the
    /// server counts as stopped, they are told to stop once it has (they outlive the
    /// drain instead of closing at the first signal: a callback for a submission still
    /// running must find them), and their closing is awaited
    /// ([`RunningServer::close_after`]).
    pub fn attach_side(&self, side: Shutdown) {
        self.sides
            .lock()
            .extend(side.listening.lock().iter().cloned());
        self.finish_after(side.deferred());
        self.close_after(side.closed());
        let finished = self.finished();
        tokio::spawn(async move {
            finished.triggered().await;
            side.trigger();
        });
    }

    /// Where the side listeners attached to this server listen (those recorded with
    /// [`Shutdown::listening`] before [`RunningServer::attach_side`]).
    pub fn side_listeners(&self) -> Vec<SideListener> {
        self.sides.lock().clone()
    }

    /// Waits until the server and its side listeners have stopped: at most
    /// `drain_delay + shutdown_grace +` [`CUT_BOUND`] after the shutdown signal.
    pub async fn wait(self) -> Result<(), KitError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(KitError::Serve(format!("server task failed: {e}"))),
        }
    }
}

/// Binds `config.listen` (port 0 picks a free port, returned in `grpc_addr`) and serves
/// `routes` plus `grpc.health.v1.Health` and server reflection v1 and v1alpha until
/// `shutdown`, then stops as the module documentation describes.
pub async fn start(
    opts: ServerOptions,
    routes: Routes,
    shutdown: Shutdown,
) -> Result<RunningServer, KitError> {
    let cfg = opts.config;
    cfg.validate()?;
    let max_in_flight = affordable_concurrency(cfg.max_concurrent_requests);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|error| KitError::Bind {
            addr: cfg.listen,
            error,
        })?;
    let grpc_addr = listener.local_addr().map_err(|error| KitError::Bind {
        addr: cfg.listen,
        error,
    })?;

    let (reporter, health) = tonic_health::server::health_reporter();
    for name in &opts.service_names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }

    // The descriptor sets hold every Axle contract; list only what this server serves,
    // or `grpcurl list` would advertise services that answer UNIMPLEMENTED.
    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        opts.service_names
            .iter()
            .chain(&INFRASTRUCTURE)
            .fold(b, |b, name| b.with_service_name(*name))
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let reflection = |b: tonic_reflection::server::Builder<'static>| {
        reflection(
            opts.file_descriptor_sets
                .iter()
                .fold(b, |b, fds| b.register_encoded_file_descriptor_set(fds)),
        )
    };
    let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
        .build_v1()
        .map_err(|e| KitError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
        .build_v1alpha()
        .map_err(|e| KitError::Reflection(e.to_string()))?;
    let routes = routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let mut labelled = opts.service_names.clone();
    labelled.extend(INFRASTRUCTURE);
    let mut sets = opts.file_descriptor_sets.clone();
    sets.extend([
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]);
    let methods = crate::methods::MethodTable::from_descriptor_sets(
        &sets,
        &labelled,
        &INFRASTRUCTURE,
        &opts.metrics,
    )?;
    // Streams end once NOT_SERVING has gone out and the drain delay is over (at least a
    // moment, so a watcher receives NOT_SERVING before its stream ends).
    let drain_delay = cfg.drain_delay;
    let stop_streams: crate::streams::StopFactory = {
        let shutdown = shutdown.clone();
        Arc::new(move || {
            let shutdown = shutdown.clone();
            Box::pin(async move {
                shutdown.triggered().await;
                tokio::time::sleep(drain_delay.max(Duration::from_millis(100))).await;
            })
        })
    };
    let layer = RpcLayer::new(methods, max_in_flight, cfg.request_timeout, stop_streams);

    let server = tonic::transport::Server::builder()
        // Detects dead peers (and keeps NAT/LB idle timers from cutting quiet connections).
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(layer)
        .add_routes(routes);

    let finished = Shutdown::new();
    let metrics_addr = match cfg.metrics_listen {
        Some(addr) => Some(
            crate::metrics::serve_metrics(addr, opts.metrics.clone(), {
                let finished = finished.clone();
                async move { finished.triggered().await }
            })
            .await?
            .0,
        ),
        None => None,
    };

    let cutoff = Cutoff::new();
    let incoming = {
        use tokio_stream::StreamExt as _;
        let cutoff = cutoff.clone();
        TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .map(move |conn| conn.map(|io| cutoff.wrap(io)))
    };
    let names = opts.service_names.clone();
    let signal = {
        let shutdown = shutdown.clone();
        let reporter = reporter.clone();
        async move {
            shutdown.triggered().await;
            for name in names {
                reporter
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            // Keep accepting while pollers learn of NOT_SERVING.
            tokio::time::sleep(drain_delay).await;
        }
    };
    let grace = cfg.shutdown_grace;
    let after = Deferred::default();
    let closing = Deferred::default();
    let task = tokio::spawn({
        let finished = finished.clone();
        let after = after.clone();
        let closing = closing.clone();
        async move {
            let serve = server.serve_with_incoming_shutdown(incoming, signal);
            tokio::pin!(serve);
            let signalled = OnceLock::new();
            let grace_over = async {
                shutdown.triggered().await;
                cutoff.arm();
                let began = Instant::now();
                let _ = signalled.set(began);
                tokio::time::sleep(drain_delay + grace).await;
                began
            };
            let mut cut = false;
            let result = tokio::select! {
                r = &mut serve => r.map_err(|e| KitError::Serve(e.to_string())),
                began = grace_over => {
                    cut = true;
                    let open = cutoff.cut();
                    tracing::warn!(
                        ?grace,
                        connections = open,
                        "shutdown grace period over: cutting the connections still open and the calls on them"
                    );
                    match tokio::time::timeout(CUT_BOUND, &mut serve).await {
                        Ok(r) => r.map_err(|e| KitError::Serve(e.to_string())),
                        Err(_) => {
                            tracing::warn!(
                                connections = cutoff.open(),
                                after = ?began.elapsed(),
                                "connections still open after the cut; no longer waiting for them"
                            );
                            Ok(())
                        }
                    }
                }
            };
            // Work the calls left running (a paid submission) gets the rest of the grace
            // period; after a cut there is none left. A serve that ended before any
            // signal failed: nothing to let end.
            let began = signalled
                .get()
                .copied()
                .or_else(|| shutdown.is_triggered().then(Instant::now));
            if let (false, Some(began)) = (cut, began) {
                let end = began + drain_delay + grace;
                if tokio::time::timeout_at(end.into(), after.run())
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        ?grace,
                        "shutdown grace period over: no longer waiting for work the calls left running"
                    );
                }
            }
            tracing::info!(%grpc_addr, "gRPC server stopped");
            finished.trigger();
            // The side listeners were told to stop just now: their last requests get what
            // is left of the whole bound, so the process's exit stays within it.
            if let Some(began) = began {
                let end = began + drain_delay + grace + CUT_BOUND;
                if tokio::time::timeout_at(end.into(), closing.run())
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "side listeners (webhooks) still answering at the end of the shutdown bound; no longer waiting for them"
                    );
                }
            }
            result
        }
    });
    tracing::info!(%grpc_addr, services = ?opts.service_names, max_concurrent_requests = max_in_flight, "gRPC server listening");
    Ok(RunningServer {
        grpc_addr,
        metrics_addr,
        task,
        finished,
        after,
        closing,
        sides: Listening::default(),
    })
}

/// `requested` calls in flight, or fewer if the process's open-file limit (raised to its
/// hard limit first) cannot hold that many ([`crate::descriptors`]).
fn affordable_concurrency(requested: usize) -> usize {
    let limit = crate::descriptors::raise_limit();
    let allowed = crate::descriptors::concurrency_within(limit.map(|l| l.now), requested);
    if let Some(l) = limit
        && l.now > l.before
    {
        tracing::debug!(from = l.before, to = l.now, "raised the open-file limit");
    }
    if allowed < requested {
        tracing::warn!(
            max_concurrent_requests = requested,
            open_file_limit = limit.map(|l| l.now),
            lowered_to = allowed,
            "server.max_concurrent_requests lowered: each call in flight may hold {} file descriptors and {} are kept for the process; raise the open-file limit (ulimit -n, LimitNOFILE) or lower server.max_concurrent_requests",
            crate::descriptors::PER_CALL,
            crate::descriptors::RESERVED,
        );
    }
    allowed
}

/// [`start`] for one application service whose contracts are in `file_descriptor_set`.
pub async fn start_service(
    config: ServerConfig,
    service_name: &'static str,
    file_descriptor_set: &'static [u8],
    routes: Routes,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, KitError> {
    start(
        ServerOptions {
            config,
            service_names: vec![service_name],
            file_descriptor_sets: vec![file_descriptor_set],
            metrics,
        },
        routes,
        shutdown,
    )
    .await
}
