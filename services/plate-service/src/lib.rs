//! plate-service: `axle.plate.v1.PlateService`.
//!
//! `ParsePlate` is local only: every civil plate format, province, issuing authority with
//! its GB/T 2260 code, plate category and 号牌种类. `LookupVehicle` (plate -> vehicle
//! through vendors 000 and 004) answers UNIMPLEMENTED until its connectors land.

pub mod config;
pub mod convert;
pub mod service;

use contracts::axle::plate::v1::plate_service_server::PlateServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, ServerOptions, Shutdown};

use crate::config::PlateServiceConfig;

/// Fully-qualified gRPC service name (health, reflection).
pub const SERVICE_NAME: &str = "axle.plate.v1.PlateService";

/// The gRPC service, to add to a server's routes.
pub fn server(cfg: &PlateServiceConfig) -> PlateServiceServer<service::Plate> {
    PlateServiceServer::new(service::Plate::new(cfg))
        .max_decoding_message_size(cfg.server.max_request_bytes)
}

/// The service's routes.
pub fn routes(cfg: &PlateServiceConfig) -> tonic::service::Routes {
    tonic::service::Routes::new(server(cfg))
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: PlateServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, kit::KitError> {
    kit::server::start(
        ServerOptions {
            config: cfg.server.clone(),
            service_names: vec![SERVICE_NAME],
            file_descriptor_sets: vec![contracts::FILE_DESCRIPTOR_SET],
            metrics,
        },
        routes(&cfg),
        shutdown,
    )
    .await
}
