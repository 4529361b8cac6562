//! plate-service: `axle.plate.v1.PlateService`.
//!
//! `ParsePlate` is local only: every civil plate format, province, issuing authority with
//! its GB/T 2260 code, plate category and 号牌种类. `LookupVehicle` (plate -> vehicle
//! through vendors 000 and 004) answers UNIMPLEMENTED until its connectors land.

pub mod config;
pub mod connectors;
pub mod convert;
pub mod lookup;
pub mod service;

use contracts::axle::plate::v1::plate_service_server::PlateServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, ServerOptions, Shutdown};

use crate::config::PlateServiceConfig;

/// Fully-qualified gRPC service name (health, reflection).
pub const SERVICE_NAME: &str = "axle.plate.v1.PlateService";

/// The gRPC service wired to its vendors, to add to a server's routes.
pub fn server(
    cfg: &PlateServiceConfig,
    metrics: &Metrics,
) -> Result<PlateServiceServer<service::Plate>, connector::ConnectorError> {
    let xiaoshibao = if cfg.vendors.xiaoshibao.enabled {
        let vendor_metrics = metrics.with_registry(connector::metrics::VendorMetrics::register);
        Some(
            connectors::xiaoshibao::XiaoshibaoClient::new(
                &cfg.vendors.xiaoshibao,
                &vendor_metrics,
            )?
            .with_header_injector(kit::telemetry::vendor_header_injector()),
        )
    } else {
        None
    };
    Ok(
        PlateServiceServer::new(service::Plate::new(cfg, xiaoshibao))
            .max_decoding_message_size(cfg.server.max_request_bytes),
    )
}

/// The service's routes.
pub fn routes(
    cfg: &PlateServiceConfig,
    metrics: &Metrics,
) -> Result<tonic::service::Routes, connector::ConnectorError> {
    Ok(tonic::service::Routes::new(server(cfg, metrics)?))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("xiaoshibao connector: {0}")]
    Connector(#[from] connector::ConnectorError),
    #[error(transparent)]
    Kit(#[from] kit::KitError),
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: PlateServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    let routes = routes(&cfg, &metrics)?;
    Ok(kit::server::start(
        ServerOptions {
            config: cfg.server.clone(),
            service_names: vec![SERVICE_NAME],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics,
        },
        routes,
        shutdown,
    )
    .await?)
}
