//! `POST /invalidation`: operators (and anything else holding the shared key) evict entity
//! cache entries, with the items a subgraph would list in `extensions.invalidation`:
//! `[{"kind": "entity", "subgraph": "boards", "type": "Board", "key": {"id": "..."}}]`,
//! `{"kind": "type", ...}` or `{"kind": "subgraph", ...}`. Answers `{"count": <entries>}`.

use super::AppState;
use crate::entity_cache::policy::{self, Invalidation};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub async fn invalidate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(key) = &state.edge.invalidation_key else {
        return refusal(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no invalidation endpoint",
        );
    };
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared as hashes, so the time taken says nothing about the key.
    let same = offered.is_some_and(|o| Sha256::digest(o) == Sha256::digest(key.as_bytes()));
    if !same {
        let message = "the invalidation key is missing or wrong";
        return refusal(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
    }
    let current = state.current.load_full();
    let Some(cache) = current.client.cache.as_deref() else {
        let message = "the entity cache is off (no entity_cache.redis_url)";
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "CACHE_DISABLED", message);
    };
    let items: Vec<Invalidation> = match policy::parse_items(&body) {
        Ok(items) => items,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message),
    };
    match cache.invalidate_all(&items, &current.client.metrics).await {
        Some(count) => (StatusCode::OK, axum::Json(json!({ "count": count }))).into_response(),
        None => {
            let message = "Redis did not answer; nothing is known to be evicted";
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "CACHE_UNAVAILABLE",
                message,
            )
        }
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}
