//! The fault layer, in front of every vendor's routes (not the admin API): reads the
//! request once, asks the vendor for the values its fault matchers need, draws a plan
//! from the rule book, carries it out, and counts the call with its outcome.

mod body;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use self::body::{Dribble, recoded, retyped, truncated};
use crate::calls::outcome;
use crate::conn::ConnHandle;
use crate::faults::matching::RequestFacts;
use crate::faults::{FaultAction, FaultRule, parse_fault_header};
use crate::headers::FAULT_HEADER;
use crate::state::AppState;
use crate::vendor::{RequestView, Vendor, VendorCode};

/// Largest request body the fault layer buffers (apihz accepts base64 images up to 1 MB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Who the fault layer sits in front of.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) state: AppState,
    pub(crate) vendor: Arc<dyn Vendor>,
}

/// The middleware; see the module comment.
pub(crate) async fn layer(State(scope): State<Scope>, req: Request, next: Next) -> Response {
    let vendor = scope.vendor.as_ref();
    let (mut parts, body) = req.into_parts();
    // Buffered so rules can match on body parameters; handed on unchanged.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large for the sandbox",
        )
            .into_response();
    };
    let header_rule = match parts.headers.get(FAULT_HEADER) {
        None => None,
        Some(v) => match header_rule(v, &scope.state, vendor.name()) {
            Ok(rule) => Some(rule),
            // A broken test setup must be loud, not silently fault-free.
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("bad {FAULT_HEADER}: {e}"))
                    .into_response();
            }
        },
    };
    let path = parts.uri.path().to_owned();
    let endpoint = vendor
        .alias_prefix()
        .and_then(|alias| path.strip_prefix(alias))
        .filter(|p| p.starts_with('/'))
        .unwrap_or(&path)
        .to_owned();
    let params = vendor.fault_params(&RequestView {
        method: &parts.method,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &bytes,
    });
    let plan = scope.state.faults().plan(
        &RequestFacts {
            vendor: vendor.name(),
            endpoint: &endpoint,
            params: &params,
        },
        header_rule.as_ref(),
    );
    if !plan.fired.is_empty() {
        tracing::debug!(vendor = vendor.name(), %endpoint, delay = ?plan.delay, action = ?plan.action, fired = ?plan.fired, "fault injected");
    }
    scope.state.calls().arrive(vendor.name());
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let conn = parts.extensions.get::<ConnHandle>().cloned();
    // A callback fault changes what the vendor delivers later, not this answer: the
    // vendor's handler reads it from the request.
    if let Some(FaultAction::Callback { mode }) = plan.action {
        parts.extensions.insert(mode);
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let record = |outcome: &str| {
        scope
            .state
            .calls()
            .record(vendor.name(), &endpoint, outcome);
    };

    match plan.action {
        None | Some(FaultAction::Callback { .. }) => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            res
        }
        Some(FaultAction::VendorCode { code, msg }) => {
            record(&code.to_string());
            vendor.error_response(code, msg.as_deref())
        }
        Some(FaultAction::HttpStatus {
            status,
            retry_after_s,
            body,
        }) => {
            record(&outcome::http_status(status));
            http_status_response(status, retry_after_s, body)
        }
        Some(FaultAction::Reset {}) => {
            record(outcome::RESET);
            match conn {
                Some(conn) => {
                    conn.reset();
                    // The connection task drops this future together with the socket.
                    std::future::pending::<()>().await;
                    unreachable_response()
                }
                None => unreachable_response(),
            }
        }
        Some(FaultAction::Malformed { truncate_at }) => {
            let res = next.run(req).await;
            record(outcome::MALFORMED);
            let (mut parts, body) = res.into_parts();
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(truncated(&full, truncate_at)))
        }
        Some(FaultAction::ContentType { value }) => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            retyped(res, &value)
        }
        Some(FaultAction::Charset { encoding, declared }) => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            recoded(res, &encoding, declared.as_deref()).await
        }
        Some(FaultAction::SlowBody {
            chunk_bytes,
            interval_ms,
        }) => {
            let res = next.run(req).await;
            record(&outcome_of(&res));
            let (mut parts, body) = res.into_parts();
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(
                parts,
                Body::new(Dribble::new(
                    full,
                    chunk_bytes,
                    Duration::from_millis(interval_ms),
                )),
            )
        }
    }
}

/// The header's rule, refused like an admin rule when it could never fire. It is for
/// this request only, so its vendor is this one unless it names another.
fn header_rule(value: &HeaderValue, state: &AppState, vendor: &str) -> Result<FaultRule, String> {
    let mut rule = value
        .to_str()
        .map_err(|e| e.to_string())
        .and_then(parse_fault_header)?;
    rule.vendor.get_or_insert_with(|| vendor.to_owned());
    state.vendors().check_rule(&rule)?;
    Ok(rule)
}

fn outcome_of(res: &Response) -> String {
    res.extensions().get::<VendorCode>().map_or_else(
        || outcome::http_status(res.status().as_u16()),
        |c| c.0.to_string(),
    )
}

fn http_status_response(status: u16, retry_after_s: Option<u64>, body: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = body.unwrap_or_else(|| {
        format!(
            "{} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        )
    });
    let mut res = (status, body).into_response();
    if let Some(s) = retry_after_s {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res
}

/// Only reached when the router is served without the sandbox's accept loop, which
/// owns the connections that a reset drops.
fn unreachable_response() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "reset fault needs sandbox::start's server",
    )
        .into_response()
}
