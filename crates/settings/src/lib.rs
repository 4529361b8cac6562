//! Building blocks of Axle's typed configuration, shared by `kit` (service settings) and
//! `connector` (vendor settings) so that neither has to depend on the other.
//!
//! * [`secret`]: credentials that print and serialise as `*** redacted ***`.
//! * [`duration`]: durations written with their unit ("250ms", "5s", "1m30s").

pub mod duration;
pub mod secret;

pub use secret::Secret;
