//! Vendor connectors of plate-service: `mod.rs` says how to talk to the vendor,
//! `transformers.rs` converts its JSON, nothing else.

pub mod platecb;
pub mod xiaoshibao;
