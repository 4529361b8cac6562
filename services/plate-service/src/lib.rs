//! plate-service: `axle.plate.v1.PlateService`.
//!
//! `ParsePlate` is local only: every civil plate format, province, issuing authority with
//! its GB/T 2260 code, plate category and 号牌种类. `LookupVehicle` adds what the plate
//! vendors say (plate -> VIN, 使用性质, brand ...; seeds 000 and 004), asked as sources in
//! the configured order and strategy and merged into one vehicle record. platecb answers
//! by callback: its webhook listens beside the gRPC server, on the `callback` crate's
//! durable store.

pub mod config;
pub mod connectors;
pub mod convert;
pub mod error;
pub mod lookup;
pub mod privacy;
pub mod record;
pub mod report;
pub mod service;

use contracts::axle::plate::v1::plate_service_server::PlateServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::PlateServiceConfig;
pub use crate::error::StartError;

/// Fully-qualified gRPC service name (health, reflection), from the generated server.
pub const SERVICE_NAME: &str =
    <PlateServiceServer<service::Plate> as tonic::server::NamedService>::NAME;

/// The gRPC service wired to its vendors, to add to a server's routes. Side listeners a
/// vendor needs (platecb's webhook) run until `stop` fires.
pub async fn server(
    cfg: &PlateServiceConfig,
    metrics: &Metrics,
    stop: &Shutdown,
) -> Result<PlateServiceServer<service::Plate>, StartError> {
    let env = connectors::BuildEnv {
        // A paid submission waiting to retry gives up once the process is stopping.
        ctx: sources::SourceContext::new(metrics).stopping_on(stop.draining()),
        stop: stop.clone(),
    };
    let vendors = sources::arrange(
        connectors::registry(&cfg.vendors, &env).await?,
        &cfg.vendors.order,
    )?;
    let known: Vec<&str> = vendors.iter().map(|v| v.name()).collect();
    sources::check_policy("vendors.merge", &cfg.vendors.merge, &known)?;
    let lookup = lookup::Lookup {
        vendors: sources::SourceList::new(vendors, cfg.vendors.strategy, &env.ctx)
            .with_hedging("plate-service", cfg.vendors.hedge_delays()),
        policy: cfg.vendors.merge.clone(),
        privacy: cfg.privacy.clone(),
    };
    Ok(PlateServiceServer::new(service::Plate::new(cfg, lookup))
        .max_decoding_message_size(cfg.server.max_request_bytes))
}

/// The service's routes (see [`server`]).
pub async fn routes(
    cfg: &PlateServiceConfig,
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
    cfg: PlateServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    // Side listeners (webhooks) stop when the gRPC server has finished, known only once
    // it runs: they outlive the drain instead of closing at the first signal.
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
