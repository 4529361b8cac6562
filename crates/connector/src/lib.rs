//! HTTP plumbing shared by every vendor connector.
//!
//! A connector (in a service's `connectors/<vendor>/`) says how to talk to one vendor:
//! URL, parameters, signature, how to read its answers. Everything that is the same for
//! all vendors lives here: per-attempt timeouts bounded by the caller's deadline, retries
//! with exponential backoff and full jitter for retryable failures only, Retry-After,
//! a per-vendor rate limit, md5 signing schemes, and per-vendor metrics (calls by outcome,
//! latency, money spent). It knows HTTP and money, not protobuf: turning a vendor
//! outcome into a `SourceStatus` is the `sources` crate's job.

pub mod client;
pub mod config;
pub mod error;
pub mod json;
pub mod metrics;
pub mod platform;
pub mod ratelimit;
pub mod retry;
pub mod signing;

pub use error::{ConnectorError, VendorError, VendorErrorKind};
