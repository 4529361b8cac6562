//! Vendor connectors of violation-service: `mod.rs` says how to talk to the vendor,
//! `source.rs` makes it a `sources::Source`, `transformers.rs` reads its JSON,
//! `webhook.rs` checks its callbacks, `config.rs` holds its settings.
//!
//! Adding a violation vendor: its folder here, its `mod` line, its section in [`Vendors`]
//! and its line in [`registry`] (all in this file), its keys in
//! `config/violation-service.toml`, and its sandbox module.

pub mod apistore;

use std::sync::Arc;

use kit::server::Shutdown;
use serde::{Deserialize, Serialize};
use sources::SourceContext;

use crate::error::StartError;
use crate::report::{Handles, ViolationSource};

/// The `[vendors]` section of violation-service's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vendors {
    pub apistore: apistore::ApistoreConfig,
}

/// What building a source may need besides its configuration.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    pub ctx: SourceContext,
    /// Fires when the service has stopped: side listeners (webhooks) stop on it. Work
    /// calls may leave running (paid submissions) is registered on it with `defer`.
    pub stop: Shutdown,
}

/// The vendors, and those that find earlier PENDING queries by handle.
#[derive(Debug)]
pub struct Registry {
    pub sources: Vec<Arc<ViolationSource>>,
    pub handles: Vec<Arc<dyn Handles>>,
}

/// Every violation vendor Axle can use, one line each, in priority order.
pub async fn registry(cfg: &Vendors, env: &BuildEnv) -> Result<Registry, StartError> {
    let (apistore, apistore_handles) = apistore::source(&cfg.apistore, env).await?;
    Ok(Registry {
        sources: vec![apistore],
        handles: apistore_handles.into_iter().collect(),
    })
}
