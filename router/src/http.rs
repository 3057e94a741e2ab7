//! GraphQL over HTTP: `POST`/`GET /graphql`, media type negotiation and status codes,
//! `GET /health`.

use crate::service::{run_request, GraphQLRequest, Outcome, RouterState};
use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// State shared by the HTTP handlers: the current router state (swapped on reload) and
/// the names of request headers forwarded to subgraphs besides `Authorization`.
pub struct AppState {
    pub current: ArcSwap<RouterState>,
    pub forward_headers: Vec<String>,
}

/// The router's HTTP application.
pub fn app(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/health", get(health))
        .with_state(state)
}

async fn health() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "UP" }))).into_response()
}

#[derive(Clone, Copy, PartialEq)]
enum MediaType {
    GraphQLResponseJson,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            MediaType::GraphQLResponseJson => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => JSON,
        }
    }
}

/// No `Accept` means `application/json` (legacy clients); otherwise the acceptable media
/// range with the highest `q` wins, the first listed on ties.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON | "*/*" | "application/*" => MediaType::GraphQLResponseJson,
            JSON => MediaType::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, candidate));
        }
    }
    best.map(|(_, media)| media)
}

async fn post_graphql(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with(JSON)
    {
        return bad_request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "Content-Type must be application/json",
        );
    }
    let request: GraphQLRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                media,
                &format!("invalid GraphQL request body: {e}"),
            )
        }
    };
    respond(&state, request, &headers, media, true).await
}

async fn get_graphql(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let Some(query) = params.get("query").cloned() else {
        return bad_request(StatusCode::BAD_REQUEST, media, "missing `query` parameter");
    };
    let variables = match params
        .get("variables")
        .map(|v| serde_json::from_str::<Option<Map<String, Value>>>(v))
    {
        None => None,
        Some(Ok(variables)) => variables,
        Some(Err(e)) => {
            return bad_request(
                StatusCode::BAD_REQUEST,
                media,
                &format!("invalid `variables`: {e}"),
            )
        }
    };
    let request = GraphQLRequest {
        query,
        operation_name: params.get("operationName").cloned(),
        variables,
    };
    respond(&state, request, &headers, media, false).await
}

async fn respond(
    state: &AppState,
    request: GraphQLRequest,
    headers: &HeaderMap,
    media: MediaType,
    allow_mutation: bool,
) -> Response {
    let current = state.current.load_full();
    let forwarded = forwarded_headers(headers, &state.forward_headers);
    match run_request(&current, request, forwarded, allow_mutation).await {
        Outcome::Executed { data, errors } => {
            let mut body = Map::new();
            body.insert("data".into(), data);
            if !errors.is_empty() {
                body.insert("errors".into(), Value::Array(errors));
            }
            graphql_response(StatusCode::OK, media, Value::Object(body))
        }
        Outcome::Rejected(errors) => {
            let status = match media {
                MediaType::GraphQLResponseJson => StatusCode::BAD_REQUEST,
                MediaType::Json => StatusCode::OK,
            };
            graphql_response(status, media, json!({ "errors": errors }))
        }
        Outcome::MutationNotAllowed => {
            let mut response = bad_request(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "mutations are not allowed over GET",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
    }
}

/// `Authorization` plus the configured headers, lower-cased and sorted so identical
/// requests coalesce regardless of header order.
fn forwarded_headers(headers: &HeaderMap, configured: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            *name == header::AUTHORIZATION
                || configured
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(name.as_str()))
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    out.sort();
    out
}

fn graphql_response(status: StatusCode, media: MediaType, body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    let content_type = format!("{}; charset=utf-8", media.as_str());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn bad_request(status: StatusCode, media: MediaType, message: &str) -> Response {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] });
    graphql_response(status, media, body)
}

fn not_acceptable() -> Response {
    let body = json!({ "errors": [{ "message": "Accept must allow application/graphql-response+json or application/json", "extensions": { "code": "NOT_ACCEPTABLE" } }] });
    graphql_response(StatusCode::NOT_ACCEPTABLE, MediaType::Json, body)
}
