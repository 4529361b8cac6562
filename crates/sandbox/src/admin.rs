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

use crate::faults::{FaultBook, FaultRule};
use crate::state::{AppState, lock};
use crate::vendors::connapi;

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
    One(FaultRule),
}

async fn get_faults(State(state): State<AppState>) -> Response {
    Json(lock(&state.0.faults).report()).into_response()
}

/// Replaces the rules and reseeds the RNG (with `seed` or the configured seed), so a
/// test that sets rules and then sends N requests sees the same faults every run.
async fn set_faults(State(state): State<AppState>, body: Bytes) -> Response {
    let parsed: SetFaults = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("fault rules: {e}")),
    };
    let (rules, seed) = match parsed {
        SetFaults::Rules { rules, seed } => (rules, seed),
        SetFaults::List(rules) => (rules, None),
        SetFaults::One(rule) => (vec![rule], None),
    };
    let seed = seed.unwrap_or(state.0.config.seed);
    match FaultBook::new(rules, seed) {
        Ok(book) => {
            let mut guard = lock(&state.0.faults);
            *guard = book;
            tracing::info!(rules = guard.report_len(), seed, "fault rules replaced");
            Json(guard.report()).into_response()
        }
        Err(e) => bad_request(&e.to_string()),
    }
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    let mut guard = lock(&state.0.faults);
    *guard = FaultBook::empty(guard.seed());
    Json(guard.report()).into_response()
}

async fn calls(State(state): State<AppState>) -> Response {
    Json(lock(&state.0.calls).report()).into_response()
}

async fn reset(State(state): State<AppState>) -> Response {
    state.reset();
    Json(json!({"reset": true})).into_response()
}

async fn info(State(state): State<AppState>) -> Response {
    let c = &state.0.connapi;
    Json(json!({
        "sandbox": true,
        "seed": state.0.config.seed,
        "vendors": {
            connapi::VENDOR: {
                "paths": [connapi::PATH, format!("{}{}", connapi::ALIAS_PREFIX, connapi::PATH)],
                "accounts": c.account_list(),
                "fixtures": c.fixture_list(),
            }
        }
    }))
    .into_response()
}

fn bad_request(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}
