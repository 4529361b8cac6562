//! vin-service: `axle.vin.v1.VinService`.
//!
//! `ValidateVin` is local only. `DecodeVin` adds what the VIN vendors say (connapi,
//! seed 001), merged per field with provenance; a vendor failure degrades the answer to
//! the local decode plus the vendor's status, never to an error.

pub mod config;
pub mod connectors;
pub mod local;
pub mod service;

pub mod summary;

use contracts::axle::vin::v1::vin_service_server::VinServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::VinServiceConfig;

/// Fully-qualified gRPC service name (health, reflection), from the generated server.
pub const SERVICE_NAME: &str =
    <VinServiceServer<service::Vin> as tonic::server::NamedService>::NAME;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("vendor connector: {0}")]
    Connector(#[from] connector::ConnectorError),
    #[error(transparent)]
    Order(#[from] sources::OrderError),
    #[error(transparent)]
    Kit(#[from] kit::KitError),
}

/// The service's routes, wired to its vendors per `cfg`.
pub fn routes(
    cfg: &VinServiceConfig,
    metrics: &Metrics,
) -> Result<tonic::service::Routes, StartError> {
    // The embedded tables are parsed here, once, not by the first request.
    domain::load_tables();
    let ctx = sources::SourceContext::new(metrics);
    let vendors = sources::arrange(
        connectors::registry(&cfg.vendors, &ctx)?,
        &cfg.vendors.order,
    )?;
    let mut known: Vec<&str> = vendors.iter().map(|v| v.name()).collect();
    known.push(local::SOURCE);
    sources::check_policy("merge", &cfg.merge, &known)?;
    let list = sources::SourceList::new(vendors, cfg.vendors.strategy, &ctx)
        .with_hedging("vin-service", cfg.vendors.hedge_delays());
    let svc = VinServiceServer::new(service::Vin::new(cfg.clone(), list))
        .max_decoding_message_size(cfg.server.max_request_bytes);
    Ok(tonic::service::Routes::new(svc))
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: VinServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    let routes = routes(&cfg, &metrics)?;
    Ok(kit::server::start_service(
        cfg.server.clone(),
        SERVICE_NAME,
        contracts::FILE_DESCRIPTOR_SET,
        routes,
        metrics,
        shutdown,
    )
    .await?)
}
