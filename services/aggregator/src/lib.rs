//! aggregator: `axle.aggregator.v1.AggregatorService`.
//!
//! One call for everything Axle can say about a vehicle: the request is checked by the
//! local rules ([`input`]), a plan decides which downstream RPCs are worth calling
//! ([`plan`]), they run under one deadline, and what they said is merged field by field
//! by source priority through the facts crate.

pub mod config;
pub mod error;
pub mod fields;
pub mod input;
pub mod plan;
pub mod profile;
