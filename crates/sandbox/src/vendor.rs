//! What a simulated vendor is to the rest of the sandbox: one trait, so routing, fault
//! injection, `/_sandbox/info` and `/_sandbox/reset` work for any vendor in the registry
//! (`crate::vendors`) without naming it.

use std::fmt::Debug;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::faults::matching::{Matcher, ParamFact};

/// One simulated vendor.
pub(crate) trait Vendor: Debug + Send + Sync + 'static {
    /// The name fault rules (`vendor`), call counts and `/_sandbox/info` use.
    fn name(&self) -> &'static str;

    /// Every path the vendor serves, the documented one first.
    fn paths(&self) -> Vec<String>;

    /// A prefix under which the vendor is also mounted (e.g. `/connapi`); calls under it
    /// are counted, and matched by `path_prefix`, as the documented path.
    fn alias_prefix(&self) -> Option<&'static str> {
        None
    }

    /// The vendor's endpoints. The router (`crate::app`) puts the fault layer in front.
    fn routes(self: Arc<Self>) -> Router;

    /// Admin endpoints of its own under `/_sandbox/<name>/` (never faulted or counted).
    fn admin_routes(self: Arc<Self>) -> Router {
        Router::new()
    }

    /// The vendor's own answer for an injected `vendor_code` fault: its envelope, its
    /// HTTP status, its wording for `code` unless the fault brings `msg`. Carries
    /// [`VendorCode`].
    fn error_response(&self, code: i64, msg: Option<&str>) -> Response;

    /// Back to the state right after start (counters, balances, remembered deliveries).
    fn reset(&self);

    /// What `/_sandbox/info` shows besides the paths: accounts, tokens, fixtures. Never
    /// a secret.
    fn info(&self) -> Map<String, Value>;

    /// Whether the vendor answers (some) submissions by callback, so that a `callback`
    /// fault rule can apply to it.
    fn delivers_callbacks(&self) -> bool {
        false
    }

    /// The request parameters fault rules may match on, and how they compare.
    fn fault_matchers(&self) -> &'static [Matcher] {
        &[]
    }

    /// The values of [`Vendor::fault_matchers`] in one request, read as the vendor
    /// reads its parameters.
    fn fault_params(&self, _req: &RequestView<'_>) -> Vec<ParamFact> {
        Vec::new()
    }
}

/// A request as the fault layer holds it, body already buffered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// The vendor's own result code of a response, attached by vendor handlers so the fault
/// layer can count calls by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VendorCode(pub(crate) i64);
