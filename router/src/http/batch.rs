//! Apollo's query batching: a POST whose body is a JSON array of requests is answered by a
//! JSON array of results, in order. Each operation runs on its own (limits, cost and rate
//! limits apply to each); a batch over `max_size`, or any malformed entry, is refused whole.

use super::{bad_request, graphql_bytes, run, AppState, MediaType};
use crate::service::{GraphQLRequest, Outcome, Transport};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

pub(super) async fn respond(
    state: Arc<AppState>,
    body: &[u8],
    headers: &HeaderMap,
    ip: IpAddr,
    media: MediaType,
) -> Response {
    let batching = &state.edge.batching;
    if !batching.enabled {
        return refuse(
            media,
            "query batching is disabled on this router",
            "BATCHING_NOT_ENABLED",
        );
    }
    let requests: Vec<GraphQLRequest> = match serde_json::from_slice(body) {
        Ok(requests) => requests,
        Err(e) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                media,
                &format!("invalid GraphQL batch: every entry must be a request object ({e})"),
            )
        }
    };
    if requests.is_empty() {
        return refuse(media, "the batch is empty", "BATCH_EMPTY");
    }
    if requests.len() > batching.max_size {
        let message = format!(
            "the batch has {} operations; at most {} are allowed",
            requests.len(),
            batching.max_size
        );
        return refuse(media, &message, "BATCH_TOO_LARGE");
    }
    // A batch is one HTTP exchange: no streaming, and mutations as over POST.
    let transport = Transport {
        allow_mutation: true,
        streaming: false,
        name: "http",
    };
    let runs = requests
        .into_iter()
        .map(|request| run(&state, request, headers, ip, transport));
    let outcomes = futures::future::join_all(runs).await;
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for (i, outcome) in outcomes.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match outcome {
            Ok(Outcome::Executed(body)) => out.extend_from_slice(&body),
            Ok(Outcome::Refused(refusal)) => {
                let _ = serde_json::to_writer(&mut out, &json!({ "errors": refusal.errors() }));
            }
            // Not reached: without a stream, subscriptions are refused before they start.
            Ok(Outcome::Subscribed(_)) => {
                let error = json!({ "errors": [{ "message": "subscriptions cannot be batched", "extensions": { "code": "STREAMING_TRANSPORT_REQUIRED" } }] });
                let _ = serde_json::to_writer(&mut out, &error);
            }
            Err(unauthenticated) => {
                let error = json!({ "errors": [{ "message": unauthenticated.0.to_string(), "extensions": { "code": "UNAUTHENTICATED" } }] });
                let _ = serde_json::to_writer(&mut out, &error);
            }
        }
    }
    out.push(b']');
    graphql_bytes(StatusCode::OK, media, out)
}

fn refuse(media: MediaType, message: &str, code: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    super::graphql_response(StatusCode::BAD_REQUEST, media, body)
}
