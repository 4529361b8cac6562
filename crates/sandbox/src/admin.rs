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
                _ => serde_json::from_value::<FaultRule>(v).map(SetFaults::One),
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
    // App ids only: the secrets are demo values, but /info never lists secrets.
    let mut app_ids: Vec<&String> = state.0.config.platecb.apps.keys().collect();
    app_ids.sort();
    Json(json!({
        "sandbox": true,
        "seed": state.0.config.seed,
        "vendors": {
            connapi::VENDOR: {
                "paths": [connapi::PATH, format!("{}{}", connapi::ALIAS_PREFIX, connapi::PATH)],
                "accounts": c.account_list(),
                "fixtures": c.fixture_list(),
            },
            crate::vendors::xiaoshibao::VENDOR: {
                "paths": [
                    crate::vendors::xiaoshibao::PATH,
                    format!("{}{}", crate::vendors::xiaoshibao::ALIAS_PREFIX, crate::vendors::xiaoshibao::PATH),
                ],
                "tokens": {
                    "active": crate::vendors::xiaoshibao::TOKEN,
                    "forbidden (403)": crate::vendors::xiaoshibao::FORBIDDEN_TOKEN,
                },
                "fixtures": state.0.xiaoshibao.fixture_plates(),
            },
            crate::vendors::platecb::VENDOR: {
                "paths": [crate::vendors::platecb::PATH],
                "apps": app_ids,
                "fixtures": state.0.platecb.fixture_plates(),
                "time_scale": state.0.config.platecb.time_scale,
            }
        }
    }))
    .into_response()
}

fn bad_request(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}
