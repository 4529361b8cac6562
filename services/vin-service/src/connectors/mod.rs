//! Vendor connectors used by vin-service: one module per vendor, each a `mod.rs` (how to
//! talk to it: URL, auth, signing, error codes) and a `transformers.rs` (vendor JSON <->
//! our types, nothing else).

pub mod connapi;
