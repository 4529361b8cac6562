//! Vendor connectors of plate-service: `mod.rs` says how to talk to the vendor,
//! `source.rs` makes it a `sources::Source`, `transformers.rs` converts its JSON. A vendor
//! that answers by callback (platecb) adds `webhook.rs`, its check of deliveries, and
//! `config.rs` for the `callback` crate's settings, which do the rest.
//!
//! Adding a plate vendor: its folder here, its line in [`registry`], its section in
//! `config::Vendors`, and its sandbox module.

pub mod platecb;
pub mod xiaoshibao;

use std::sync::Arc;

use kit::server::Shutdown;
use sources::SourceContext;

use crate::StartError;
use crate::config::Vendors;
use crate::report::PlateSource;

/// What building a source may need besides its configuration.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    pub ctx: SourceContext,
    /// Fires when the service has stopped: side listeners (webhooks) stop on it.
    pub stop: Shutdown,
}

/// Every plate vendor Axle can use, one line each, in default priority order.
pub async fn registry(cfg: &Vendors, env: &BuildEnv) -> Result<Vec<Arc<PlateSource>>, StartError> {
    Ok(vec![
        xiaoshibao::source(&cfg.xiaoshibao, &env.ctx)?,
        platecb::source(&cfg.platecb, env).await?,
    ])
}
