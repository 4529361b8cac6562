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
pub mod store;

use contracts::axle::plate::v1::plate_service_server::PlateServiceServer;
use kit::metrics::Metrics;
use kit::server::{RunningServer, Shutdown};

use crate::config::PlateServiceConfig;

/// Fully-qualified gRPC service name (health, reflection).
pub const SERVICE_NAME: &str = "axle.plate.v1.PlateService";

/// What LookupVehicle needs from the outside: the platecb callback store and waiters,
/// shared with the webhook.
#[derive(Debug, Clone, Default)]
pub struct PlatecbWiring {
    pub store: Option<store::CallbackStore>,
    pub waiters: connectors::platecb::Waiters,
    /// The URL given to platecb for callbacks.
    pub callback_url: String,
}

/// The gRPC service wired to its vendors, to add to a server's routes.
pub fn server(
    cfg: &PlateServiceConfig,
    metrics: &Metrics,
    platecb: &PlatecbWiring,
) -> Result<PlateServiceServer<service::Plate>, StartError> {
    let vendor_metrics = metrics.vendor();
    let xiaoshibao = if cfg.vendors.xiaoshibao.enabled {
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
    let platecb_side = match (&platecb.store, cfg.vendors.platecb.enabled) {
        (Some(store), true) => {
            let mut pc = cfg.vendors.platecb.clone();
            pc.callback_url.clone_from(&platecb.callback_url);
            Some(lookup::PlatecbSide {
                client: connectors::platecb::PlatecbClient::new(&pc, &vendor_metrics)?,
                store: store.clone(),
                waiters: platecb.waiters.clone(),
                result_ttl: pc.result_ttl,
                pending_ttl: pc.pending_ttl,
                max_wait: pc.max_wait,
            })
        }
        _ => None,
    };
    let lookup = lookup::Lookup {
        xiaoshibao,
        platecb: platecb_side,
        strategy: cfg.vendors.strategy,
        policy: cfg.vendors.merge.clone(),
        reveal_full_vin: cfg.privacy.reveal_full_vin,
        reveal_engine_number: cfg.privacy.reveal_engine_number,
    };
    Ok(PlateServiceServer::new(service::Plate::new(cfg, lookup))
        .max_decoding_message_size(cfg.server.max_request_bytes))
}

/// The service's routes (platecb disabled unless `platecb` carries a store).
pub fn routes(
    cfg: &PlateServiceConfig,
    metrics: &Metrics,
    platecb: &PlatecbWiring,
) -> Result<tonic::service::Routes, StartError> {
    Ok(tonic::service::Routes::new(server(cfg, metrics, platecb)?))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("vendor connector: {0}")]
    Connector(#[from] connector::ConnectorError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("platecb webhook on {addr}: {error}")]
    Webhook {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error(transparent)]
    Kit(#[from] kit::KitError),
}

/// Starts the server (binds `cfg.server.listen`; port 0 picks a free one).
pub async fn start(
    cfg: PlateServiceConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<RunningServer, StartError> {
    // platecb answers at our webhook: open the durable store and listen before the
    // first submission can name the callback URL.
    let mut wiring = PlatecbWiring::default();
    // The webhook stops when the gRPC server has finished, known only once it runs.
    let webhook_stop = Shutdown::new();
    if cfg.vendors.platecb.enabled {
        let pc = &cfg.vendors.platecb;
        let store = if pc.store_url.is_empty() {
            store::CallbackStore::open(&pc.store_path)?
        } else {
            store::CallbackStore::connect_postgres(pc.store_url.expose()).await?
        };
        let hook = connectors::platecb::webhook::Webhook {
            appid: pc.appid.clone(),
            secret: pc.secret.clone(),
            max_clock_skew: pc.max_clock_skew,
            store: store.clone(),
            waiters: wiring.waiters.clone(),
        };
        let (bound, _task) = connectors::platecb::webhook::serve(pc.webhook_listen, hook, {
            let stop = webhook_stop.clone();
            async move { stop.triggered().await }
        })
        .await
        .map_err(|error| StartError::Webhook {
            addr: pc.webhook_listen,
            error,
        })?;
        tracing::info!(%bound, "platecb webhook listening at {}", connectors::platecb::webhook::PATH);
        // An empty callback_url means "this listener as seen from here" (sandbox, tests).
        wiring.callback_url = if pc.callback_url.is_empty() {
            format!("http://{bound}{}", connectors::platecb::webhook::PATH)
        } else {
            pc.callback_url.clone()
        };
        wiring.store = Some(store);
    }
    let routes = routes(&cfg, &metrics, &wiring)?;
    let running = kit::server::start_service(
        cfg.server.clone(),
        SERVICE_NAME,
        contracts::FILE_DESCRIPTOR_SET,
        routes,
        metrics,
        shutdown,
    )
    .await;
    // Whether the server started or not, the webhook ends with it.
    match &running {
        Ok(r) => {
            let finished = r.finished();
            tokio::spawn(async move {
                finished.triggered().await;
                webhook_stop.trigger();
            });
        }
        Err(_) => webhook_stop.trigger(),
    }
    Ok(running?)
}
