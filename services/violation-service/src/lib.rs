//! violation-service: `axle.violation.v1.ViolationService`.
//!
//! `GetCityRules` is local: what each city (issuing authority) needs besides the plate to
//! query violations, from the rule table in `domain::violation` with the deployment's
//! overrides. `QueryViolations` checks the request against that rule before anything is
//! paid for, then asks the violation vendor (seed 003, `apistore`) as a source: one paid
//! query per vehicle across callers and replicas, an answer reused within its TTL,
//! answers that come later (10023) received at the webhook beside the gRPC server and
//! found again by query handle.

pub mod answer;
pub mod config;
pub mod connectors;
pub mod error;
pub mod privacy;
pub mod query;
pub mod report;
pub mod rules;
pub mod service;

use contracts::axle::violation::v1::violation_service_server::ViolationServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::ViolationServiceConfig;
pub use crate::error::StartError;

/// Fully-qualified gRPC service name (health, reflection), from the generated server.
pub const SERVICE_NAME: &str =
    <ViolationServiceServer<service::Violations> as tonic::server::NamedService>::NAME;

/// The gRPC service wired to its vendors, to add to a server's routes. Side listeners a
/// vendor needs (apistore's webhook) run until `stop` fires.
pub async fn server(
    cfg: &ViolationServiceConfig,
    metrics: &Metrics,
    stop: &Shutdown,
) -> Result<ViolationServiceServer<service::Violations>, StartError> {
    let table = cfg.rules.table().map_err(StartError::Rules)?;
    if table.override_count() > 0 {
        tracing::info!(
            overrides = table.override_count(),
            version = table.version(),
            "violation city rules: configured overrides applied"
        );
    }
    let env = connectors::BuildEnv {
        // A paid submission waiting to retry gives up once the process is stopping.
        ctx: sources::SourceContext::new(metrics).stopping_on(stop.draining()),
        stop: stop.clone(),
    };
    let registry = connectors::registry(&cfg.vendors, &env).await?;
    // One vendor today: the flow still bounds its ask by the deadline, traces and counts it.
    let vendors = sources::SourceList::new(registry.sources, sources::Strategy::Fallback, &env.ctx);
    Ok(ViolationServiceServer::new(service::Violations::new(
        cfg,
        table,
        vendors,
        registry.handles,
    ))
    .max_decoding_message_size(cfg.server.max_request_bytes))
}

/// The service's routes (see [`server`]).
pub async fn routes(
    cfg: &ViolationServiceConfig,
    metrics: &Metrics,
    stop: &Shutdown,
) -> Result<tonic::service::Routes, StartError> {
    // The embedded tables (VINs are checked here too) are parsed now, not by the
    // first request.
    domain::load_tables();
    Ok(tonic::service::Routes::new(
        server(cfg, metrics, stop).await?,
    ))
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: ViolationServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    // The webhook stops when the gRPC server has finished, known only once it runs: it
    // outlives the drain instead of closing at the first signal.
    let side_stop = Shutdown::side_of(&shutdown);
    let routes = match routes(&cfg, &metrics, &side_stop).await {
        Ok(r) => r,
        Err(e) => {
            side_stop.trigger();
            return Err(e);
        }
    };
    let running = kit::server::start_service(
        cfg.server.clone(),
        SERVICE_NAME,
        contracts::FILE_DESCRIPTOR_SET,
        routes,
        metrics,
        shutdown,
    )
    .await;
    match &running {
        // Submissions the calls left running end (within the grace period) before the
        // server counts as stopped, while the webhook still listens; the webhook then
        // answers what it accepted before the process exits.
        Ok(r) => r.attach_side(side_stop),
        Err(_) => side_stop.trigger(),
    }
    Ok(running?)
}
