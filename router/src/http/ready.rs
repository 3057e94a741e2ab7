//! `GET /ready`: whether this router can answer now. A supergraph is loaded (always, once
//! serving), Redis answers when the rate limiter uses it, and every subgraph of the current
//! supergraph answers `{ __typename }`. Results are kept for a second, so probes (or a
//! client hammering the endpoint) never multiply into subgraph traffic.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one readiness verdict is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long a subgraph or Redis has to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last verdict: when it was reached, and the status and body it answered.
#[derive(Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, StatusCode, Value)>>,
}

pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if let Some((at, status, body)) = state.readiness.last.lock().clone() {
        if at.elapsed() < FRESH_FOR {
            return (status, axum::Json(body)).into_response();
        }
    }
    let (status, body) = check(&state).await;
    *state.readiness.last.lock() = Some((Instant::now(), status, body.clone()));
    (status, axum::Json(body)).into_response()
}

async fn check(state: &AppState) -> (StatusCode, Value) {
    let current = state.current.load_full();
    let probes = current.supergraph.subgraphs.iter().map(|subgraph| {
        let client = current.client.clone();
        async move {
            let result = client.probe(&subgraph.url, PROBE_TIMEOUT).await;
            (subgraph.name.clone(), result)
        }
    });
    let redis = async {
        let gate = state.edge.gate.as_ref()?;
        if gate.limiter().backend_name() != "redis" {
            return None;
        }
        let ping = tokio::time::timeout(PROBE_TIMEOUT, gate.limiter().ping()).await;
        Some(match ping {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no answer within 2 s".to_owned()),
        })
    };
    let (subgraphs, redis) = futures::join!(futures::future::join_all(probes), redis);
    let mut ok = true;
    let mut report = Map::new();
    for (name, result) in subgraphs {
        ok &= result.is_ok();
        report.insert(name, verdict(result));
    }
    let mut body = json!({ "supergraph": "UP", "subgraphs": report });
    if let Some(result) = redis {
        ok &= result.is_ok();
        body["redis"] = verdict(result);
    }
    body["status"] = json!(if ok { "UP" } else { "DOWN" });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

fn verdict(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!("UP"),
        Err(error) => json!({ "status": "DOWN", "error": error }),
    }
}
