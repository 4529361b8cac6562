//! Fuzz targets over everything Axle reads from outside: what callers type (VINs,
//! plates), what vendors answer (every connector's response reader), what vendors post to
//! our webhooks (the body parser and the signature check), and configuration (TOML and
//! durations).
//!
//! Each target is a function over bytes here, so that the tests replay the checked-in
//! seeds (`fuzz/seeds/<target>/`) through exactly what `cargo fuzz` runs; the binaries in
//! `fuzz_targets/` only hand libFuzzer's input to them (see `scripts/fuzz.sh`). A target
//! calls the real code and asserts what must hold whatever the input: no panic, errors
//! are errors, and each parser's own invariants (normalisation is idempotent, what is
//! stored can be read back, a signature is only accepted when it is right).

mod config;
mod text;
mod vendors;
mod webhook;

pub use config::{config, duration};
pub use text::{plate, vin};
pub use vendors::{
    apihz, apistore, apistore_answer, connapi, platecb_answer, platecb_submit, xiaoshibao,
};
pub use webhook::{webhook, webhook_signed};

/// A fuzz target: one input, checked.
pub type Target = fn(&[u8]);

/// Every target by name, as `cargo fuzz` and `fuzz/seeds/` name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("vin", vin),
    ("plate", plate),
    ("duration", duration),
    ("config", config),
    ("connapi", connapi),
    ("xiaoshibao", xiaoshibao),
    ("platecb_submit", platecb_submit),
    ("platecb_answer", platecb_answer),
    ("apistore", apistore),
    ("apistore_answer", apistore_answer),
    ("apihz", apihz),
    ("webhook", webhook),
    ("webhook_signed", webhook_signed),
];
