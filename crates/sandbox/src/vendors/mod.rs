//! One module per simulated vendor. Each exposes `routes(state)` (its endpoints, already
//! behind the shared fault layer) and an error renderer used by `vendor_code` faults, so
//! an injected error looks exactly like the vendor's own.

pub mod connapi;
pub mod platecb;
pub mod xiaoshibao;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The vendor's own result code of a response, attached by vendor handlers so the fault
/// layer can count calls by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VendorCode(pub(crate) i64);

/// The vendor-shaped error answer for an injected `vendor_code` fault.
pub(crate) fn error_response(vendor: &str, code: i64, msg: Option<&str>) -> Response {
    match vendor {
        connapi::VENDOR => connapi::error_response(code, msg),
        xiaoshibao::VENDOR => xiaoshibao::error_response(code, msg),
        platecb::VENDOR => platecb::error_response(code, msg),
        other => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("sandbox: no error renderer for vendor {other}"),
        )
            .into_response(),
    }
}
