//! The whole HTTP surface, assembled from the registry: every vendor behind the fault
//! layer, the vendors' own admin endpoints, the shared `/_sandbox/*` API, and the
//! provenance header on everything.

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;

use crate::admin;
use crate::headers::SANDBOX_HEADER;
use crate::inject::{self, Scope};
use crate::state::AppState;

/// The whole HTTP surface: every vendor (each behind the fault layer) plus the
/// `/_sandbox/*` admin API, all stamped with [`SANDBOX_HEADER`].
///
/// Serving this router with `axum::serve` works, except that `reset` faults degrade to
/// an HTTP 500: dropping a connection needs the connection handle that
/// [`crate::start`]'s own accept loop provides.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for vendor in state.vendors().iter() {
        let scope = Scope {
            state: state.clone(),
            vendor: vendor.clone(),
        };
        app = app
            .merge(
                vendor
                    .clone()
                    .routes()
                    .layer(axum::middleware::from_fn_with_state(scope, inject::layer)),
            )
            .merge(vendor.clone().admin_routes());
    }
    app.merge(admin::routes(state))
        // Outermost, so the label is also on admin answers, 404s and fault answers.
        .layer(axum::middleware::map_response(stamp_sandbox_header))
}

async fn stamp_sandbox_header(mut res: Response) -> Response {
    res.headers_mut()
        .insert(SANDBOX_HEADER, HeaderValue::from_static("1"));
    res
}
