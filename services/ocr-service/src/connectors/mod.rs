//! Vendor connectors of ocr-service: `mod.rs` says how to talk to the vendor (addresses,
//! parameters, error messages), `transformers.rs` converts its JSON into raw field
//! readings, which `crate::fields` types and cross-checks like the engine's.

pub mod apihz;
