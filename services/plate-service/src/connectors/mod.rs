//! Vendor connectors of plate-service: `mod.rs` says how to talk to the vendor,
//! `source.rs` makes it a `sources::Source`, `transformers.rs` converts its JSON. A vendor
//! that answers by callback (platecb) adds `webhook.rs`, its check of deliveries, and
//! `config.rs` for the `callback` crate's settings, which do the rest.
//!
//! Adding a plate vendor: its folder here, its `mod` line, its section in [`Vendors`] and
//! its line in [`registry`] (all in this file), its keys in `config/plate-service.toml`,
//! and its sandbox module.

pub mod platecb;
pub mod xiaoshibao;

use std::sync::Arc;
use std::time::Duration;

use kit::server::Shutdown;
use serde::{Deserialize, Serialize};
use sources::{SourceContext, Strategy};

use crate::error::StartError;
use crate::report::PlateSource;

/// The `[vendors]` section of plate-service's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vendors {
    /// `parallel` (every vendor at once), `fallback` (the next vendor only when none
    /// before it answered; a vendor not asked still contributes an answer it has stored)
    /// or `hedged` (fallback, plus a second xiaoshibao request when the first is slower
    /// than its recent p95; platecb's paid submissions are never hedged).
    pub strategy: Strategy,
    /// Vendor priority for asking (the fallback's order); vendors not named follow, the
    /// cheaper first. Empty: registry order (`xiaoshibao`, `platecb`).
    pub order: Vec<String>,
    /// Strategy `hedged`: the vendor's recent p95 latency is clamped to at least this ...
    #[serde(with = "settings::duration")]
    pub hedge_delay_min: Duration,
    /// ... and at most this, which is also the delay while it has too few recent asks.
    #[serde(with = "settings::duration")]
    pub hedge_delay_max: Duration,
    /// Source order per field for the merged record (sources: `xiaoshibao`, `platecb`).
    pub merge: merge::MergePolicy,
    pub xiaoshibao: xiaoshibao::XiaoshibaoConfig,
    pub platecb: platecb::PlatecbConfig,
}

impl Default for Vendors {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            order: Vec::new(),
            hedge_delay_min: sources::HedgeDelays::default().min,
            hedge_delay_max: sources::HedgeDelays::default().max,
            // xiaoshibao states a confidence and its sources, and answers synchronously;
            // platecb's registration fields (insurance, production date) are its own.
            merge: merge::MergePolicy::new(&["xiaoshibao", "platecb"]),
            xiaoshibao: xiaoshibao::XiaoshibaoConfig::default(),
            platecb: platecb::PlatecbConfig::default(),
        }
    }
}

impl Vendors {
    pub fn hedge_delays(&self) -> sources::HedgeDelays {
        sources::HedgeDelays {
            min: self.hedge_delay_min,
            max: self.hedge_delay_max,
        }
    }
}

/// What building a source may need besides its configuration.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    pub ctx: SourceContext,
    /// Fires when the service has stopped: side listeners (webhooks) stop on it. Work
    /// calls may leave running (paid submissions) is registered on it with `defer`.
    pub stop: Shutdown,
}

/// Every plate vendor Axle can use, one line each, in default priority order.
pub async fn registry(cfg: &Vendors, env: &BuildEnv) -> Result<Vec<Arc<PlateSource>>, StartError> {
    Ok(vec![
        xiaoshibao::source(&cfg.xiaoshibao, &env.ctx)?,
        platecb::source(&cfg.platecb, env).await?,
    ])
}
