//! aggregator: `axle.aggregator.v1.AggregatorService`.
//!
//! One call for everything Axle can say about a vehicle (from a plate, a VIN or a 行驶证
//! photo): the request is checked by the local rules ([`input`]), a plan decides which downstream RPCs are worth calling
//! ([`plan`]), they run under one deadline ([`run`], through `kit::client`), and what
//! they said is merged field by field by source priority through the facts crate
//! ([`profile`]), with one status per source ([`table`]). A source that fails never
//! fails the call.

pub mod budget;
pub mod cache;
pub mod config;
pub mod error;
pub mod fields;
pub mod input;
pub mod outcome;
pub mod plan;
pub mod profile;
pub mod responses;
pub mod run;
pub mod service;
pub mod shared;
pub mod table;

use contracts::axle::aggregator::v1::aggregator_service_server::AggregatorServiceServer;
use contracts::axle::ocr::v1::ocr_service_client::OcrServiceClient;
use contracts::axle::plate::v1::plate_service_client::PlateServiceClient;
use contracts::axle::vin::v1::vin_service_client::VinServiceClient;
use contracts::axle::violation::v1::violation_service_client::ViolationServiceClient;
use kit::client::ServiceClient;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::AggregatorConfig;
use crate::plan::Service;

/// Fully-qualified gRPC service name (health, reflection), from the generated server.
pub const SERVICE_NAME: &str =
    <AggregatorServiceServer<service::Aggregator> as tonic::server::NamedService>::NAME;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] kit::client::ClientError),
    #[error("the violation city-rule table: {0}")]
    Rules(String),
    #[error(transparent)]
    Kit(#[from] kit::KitError),
    #[error(transparent)]
    SharedCache(#[from] shared::SharedCacheError),
}

/// The service's routes, wired to the downstream services per `cfg`. Must be called
/// inside a Tokio runtime (the clients' channels connect lazily on first use).
pub fn routes(
    cfg: &AggregatorConfig,
    metrics: &Metrics,
) -> Result<tonic::service::Routes, StartError> {
    // The embedded tables (VINs are checked here too) are parsed now, not by the
    // first request.
    domain::load_tables();
    let s = &cfg.services;
    let downstream = run::Downstream {
        vin: ServiceClient::new(Service::Vin.name(), &s.vin, VinServiceClient::new)?
            .with_metrics(metrics),
        plate: ServiceClient::new(Service::Plate.name(), &s.plate, PlateServiceClient::new)?
            .with_metrics(metrics),
        violation: if s.violation_enabled {
            Some(
                ServiceClient::new(
                    Service::Violation.name(),
                    &s.violation,
                    ViolationServiceClient::new,
                )?
                .with_metrics(metrics),
            )
        } else {
            None
        },
        ocr: if s.ocr_enabled {
            Some(
                ServiceClient::new(Service::Ocr.name(), &s.ocr, OcrServiceClient::new)?
                    .with_metrics(metrics),
            )
        } else {
            None
        },
        internal_token: s.internal_token.clone(),
    };
    let rules = domain::violation::embedded().map_err(|e| StartError::Rules(e.to_string()))?;
    let svc = AggregatorServiceServer::new(service::Aggregator::new(
        cfg.clone(),
        downstream,
        rules,
        cache::AnswerCache::new(cfg.cache.clone(), metrics)?,
        responses::ResponseCache::new(
            if cfg.cache.enabled {
                cfg.cache.response_bytes
            } else {
                0
            },
            metrics,
        ),
    ))
    .max_decoding_message_size(cfg.server.max_request_bytes);
    Ok(tonic::service::Routes::new(svc))
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: AggregatorConfig,
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
