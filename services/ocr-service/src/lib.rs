//! ocr-service: `axle.ocr.v1.OcrService`.
//!
//! `RecognizeVehicleLicense` reads a 行驶证 photo (front, back, or both) into typed,
//! cross-checked fields. Photos are checked and decoded under limits (`image`), URLs
//! fetched behind an SSRF guard (`fetch`), read by the in-process engine (`local`) and/or
//! the vendor of seed 002 (`connectors::apihz`) as configured (`config::Strategy`), then
//! typed and checked in one place (`fields`) and masked per the deployment (`privacy`).
//! Failures become gRPC statuses in `error`.

pub mod config;
pub mod connectors;
pub mod error;
pub mod fetch;
pub mod fields;
pub mod image;
pub mod local;
pub mod privacy;
pub mod read;
pub mod service;

use std::sync::Arc;

use contracts::axle::ocr::v1::ocr_service_server::OcrServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::OcrServiceConfig;
pub use crate::error::StartError;
use crate::local::Reader;

/// Fully-qualified gRPC service name (health, reflection), from the generated server.
pub const SERVICE_NAME: &str =
    <OcrServiceServer<service::Ocr> as tonic::server::NamedService>::NAME;

/// The gRPC service with the given local engine (`None`: no engine). The engine is
/// required when `local.enabled`; tests pass their own [`Reader`].
pub fn server_with_engine(
    cfg: &OcrServiceConfig,
    metrics: &Metrics,
    engine: Option<Arc<dyn Reader>>,
) -> Result<OcrServiceServer<service::Ocr>, StartError> {
    // The embedded tables (VINs are checked here too) are parsed now, not by the
    // first request.
    domain::load_tables();
    let ctx = sources::SourceContext::new(metrics);
    let vendor = if cfg.vendors.apihz.enabled {
        let client = connectors::apihz::ApihzClient::new(&cfg.vendors.apihz, ctx.client())?;
        let source: Arc<dyn sources::Source<connectors::apihz::VendorQuery, read::RawRead>> =
            Arc::new(client);
        Some(sources::SourceList::new(
            vec![source],
            sources::Strategy::Parallel,
            &ctx,
        ))
    } else {
        None
    };
    let readers = service::readers(cfg, engine, vendor);
    Ok(OcrServiceServer::new(service::Ocr::new(readers))
        .max_decoding_message_size(cfg.server.max_request_bytes))
}

/// The local engine as configured: loaded once (models and runtime library from
/// `local.models_dir`), `None` when `local.enabled` is false.
pub async fn load_engine(cfg: &OcrServiceConfig) -> Result<Option<Arc<dyn Reader>>, StartError> {
    if !cfg.local.enabled {
        return Ok(None);
    }
    let defaults = ocr_engine::EngineConfig::default();
    let engine_cfg = ocr_engine::EngineConfig {
        models_dir: if cfg.local.models_dir.as_os_str().is_empty() {
            defaults.models_dir.clone()
        } else {
            cfg.local.models_dir.clone()
        },
        threads: cfg.local.threads,
        ..defaults
    };
    // Loading reads ~15 MB of models and builds two sessions: off the runtime.
    let engine = tokio::task::spawn_blocking(move || ocr_engine::Engine::load(&engine_cfg))
        .await
        .map_err(|e| StartError::Engine(e.to_string()))?
        .map_err(|e| StartError::Engine(e.to_string()))?;
    tracing::info!("local OCR engine loaded");
    Ok(Some(Arc::new(engine)))
}

/// The service's routes, built from configuration (the engine loaded when enabled).
pub async fn routes(
    cfg: &OcrServiceConfig,
    metrics: &Metrics,
) -> Result<tonic::service::Routes, StartError> {
    let engine = load_engine(cfg).await?;
    Ok(tonic::service::Routes::new(server_with_engine(
        cfg, metrics, engine,
    )?))
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: OcrServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    let routes = routes(&cfg, &metrics).await?;
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

/// Starts the server with a given engine (tests; and the binary once the engine ships).
pub async fn start_with_engine(
    cfg: OcrServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
    engine: Option<Arc<dyn Reader>>,
) -> Result<RunningServer, StartError> {
    let svc = server_with_engine(&cfg, &metrics, engine)?;
    Ok(kit::server::start_service(
        cfg.server.clone(),
        SERVICE_NAME,
        contracts::FILE_DESCRIPTOR_SET,
        tonic::service::Routes::new(svc),
        metrics,
        shutdown,
    )
    .await?)
}
