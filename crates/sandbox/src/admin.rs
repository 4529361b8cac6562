//! `/_sandbox/*`: runtime control for tests and demos. Not behind the fault layer and not
//! counted as vendor calls.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::faults::FaultRule;
use crate::faults::book::FaultBook;
use crate::state::AppState;

/// The shared admin endpoints; vendors' own admin endpoints are merged in by the router.
pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route("/_sandbox/health", get(|| async { "ok" }))
        .route("/_sandbox/info", get(info))
        .route(
            "/_sandbox/faults",
            get(get_faults).post(set_faults).delete(clear_faults),
        )
        .route("/_sandbox/calls", get(calls))
        .route("/_sandbox/reset", post(reset))
        .with_state(state)
}

/// `POST /_sandbox/faults` accepts `{"rules": [...], "seed": n}`, a bare array of rules,
/// or a single rule object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SetFaults {
    Rules {
        rules: Vec<FaultRule>,
        #[serde(default)]
        seed: Option<u64>,
    },
    List(Vec<FaultRule>),
    One(Box<FaultRule>),
}

async fn get_faults(State(state): State<AppState>) -> Response {
    Json(state.faults().report()).into_response()
}

/// Replaces the rules and reseeds the RNG (with `seed` or the configured seed), so a
/// test that sets rules and then sends N requests sees the same faults every run.
async fn set_faults(State(state): State<AppState>, body: Bytes) -> Response {
    // The untagged enum's own error ("did not match any variant") says nothing: try
    // each accepted shape and report the error of the one the body looks like.
    let parsed: SetFaults = match serde_json::from_slice::<serde_json::Value>(&body) {
        Err(e) => return bad_request(&format!("fault rules: not JSON: {e}")),
        Ok(v) => {
            let attempt = match &v {
                serde_json::Value::Array(_) => {
                    serde_json::from_value::<Vec<FaultRule>>(v).map(SetFaults::List)
                }
                serde_json::Value::Object(o)
                    if o.contains_key("rules") || o.contains_key("seed") =>
                {
                    #[derive(Deserialize)]
                    #[serde(deny_unknown_fields)]
                    struct Wrapped {
                        rules: Vec<FaultRule>,
                        #[serde(default)]
                        seed: Option<u64>,
                    }
                    serde_json::from_value::<Wrapped>(v).map(|w| SetFaults::Rules {
                        rules: w.rules,
                        seed: w.seed,
                    })
                }
                _ => serde_json::from_value::<FaultRule>(v).map(|r| SetFaults::One(Box::new(r))),
            };
            match attempt {
                Ok(p) => p,
                Err(e) => {
                    return bad_request(&format!(
                        "fault rules: {e} (send a rule, a list of rules, or {{\"rules\": [...], \"seed\": n}})"
                    ));
                }
            }
        }
    };
    let (rules, seed) = match parsed {
        SetFaults::Rules { rules, seed } => (rules, seed),
        SetFaults::List(rules) => (rules, None),
        SetFaults::One(rule) => (vec![*rule], None),
    };
    let seed = seed.unwrap_or(state.config().seed);
    let book = state
        .vendors()
        .check_rules(&rules)
        .and_then(|()| FaultBook::new(rules, seed));
    match book {
        Ok(book) => {
            let mut guard = state.faults();
            *guard = book;
            tracing::info!(rules = guard.len(), seed, "fault rules replaced");
            Json(guard.report()).into_response()
        }
        Err(e) => bad_request(&e),
    }
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    let mut guard = state.faults();
    *guard = FaultBook::empty(guard.seed());
    Json(guard.report()).into_response()
}

async fn calls(State(state): State<AppState>) -> Response {
    Json(state.calls().report()).into_response()
}

async fn reset(State(state): State<AppState>) -> Response {
    state.reset();
    Json(json!({"reset": true})).into_response()
}

/// Every registered vendor: its paths, then what it shows of itself.
async fn info(State(state): State<AppState>) -> Response {
    let vendors: serde_json::Map<String, serde_json::Value> = state
        .vendors()
        .iter()
        .map(|v| {
            let mut entry = serde_json::Map::new();
            entry.insert("paths".into(), json!(v.paths()));
            entry.extend(v.info());
            (v.name().to_owned(), serde_json::Value::Object(entry))
        })
        .collect();
    Json(json!({
        "sandbox": true,
        "seed": state.config().seed,
        "vendors": vendors,
    }))
    .into_response()
}

fn bad_request(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}
