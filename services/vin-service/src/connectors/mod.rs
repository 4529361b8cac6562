//! Vendor connectors used by vin-service: one module per vendor, each a `mod.rs` (how to
//! talk to it: URL, auth, signing, error codes, and its `sources::Source` impl) and a
//! `transformers.rs` (vendor JSON <-> our types, nothing else).
//!
//! Adding a VIN vendor: its folder here, its line in [`registry`], its section in
//! `config::Vendors`, and its sandbox module.

pub mod connapi;

use std::sync::Arc;

use contracts::axle::vin::v1::VendorVinDecode;
use sources::SourceContext;

use crate::config::Vendors;

/// What vin-service asks its vendors: one VIN, normalised and valid by the local rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VinQuery {
    pub vin: String,
}

/// What a vendor said about the VIN, with its provenance, and how far it is trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorDecode {
    pub decode: VendorVinDecode,
    /// The source's confidence in its descriptive fields (its configuration).
    pub confidence: f32,
}

/// A VIN vendor.
pub type VinSource = dyn sources::Source<VinQuery, VendorDecode>;

/// Every VIN vendor Axle can use, one line each, in default priority order.
pub fn registry(
    cfg: &Vendors,
    ctx: &SourceContext,
) -> Result<Vec<Arc<VinSource>>, connector::ConnectorError> {
    Ok(vec![connapi::source(&cfg.connapi, ctx)?])
}
