//! GraphQL over HTTP: `POST`/`GET /graphql`, media type negotiation and status codes,
//! streamed results (SSE and multipart, see [`stream`]), WebSocket upgrades (see [`ws`]),
//! `GET /health`.

mod stream;
mod ws;

use crate::service::{
    executed_body, executed_text, run_request, GraphQLRequest, Outcome, Refusal, RouterState,
    Transport,
};
use arc_swap::ArcSwap;
use auth::{AuthError, TokenVerifier};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use stream::StreamMedia;
use tokio_util::sync::CancellationToken;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// State shared by the HTTP handlers: the current router state (swapped on reload) and
/// the names of request headers forwarded to subgraphs besides `Authorization`.
pub struct AppState {
    pub current: ArcSwap<RouterState>,
    pub forward_headers: Vec<String>,
    /// Verifies `Authorization` (HTTP header or WebSocket `connection_init`) before any
    /// work; without one, tokens are only checked by the subgraphs.
    pub verifier: Option<Arc<TokenVerifier>>,
    /// Cancelled on shutdown: ends WebSocket sessions and streamed responses.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(state: RouterState, forward_headers: Vec<String>) -> AppState {
        AppState {
            current: ArcSwap::from_pointee(state),
            forward_headers,
            verifier: None,
            shutdown: CancellationToken::new(),
        }
    }

    pub fn with_verifier(mut self, verifier: Option<Arc<TokenVerifier>>) -> AppState {
        self.verifier = verifier;
        self
    }

    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> AppState {
        self.shutdown = shutdown;
        self
    }

    /// Checks an `Authorization` value when a verifier is configured; no value is an
    /// anonymous caller, left to the subgraphs' rules.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        match (&self.verifier, authorization) {
            (Some(verifier), Some(value)) => verifier.verify_header(value).await.map(|_| ()),
            _ => Ok(()),
        }
    }
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

/// What the client's `Accept` allows: a single JSON response and/or a stream.
#[derive(Clone, Copy)]
struct Accepted {
    json: Option<MediaType>,
    stream: Option<StreamMedia>,
}

/// No `Accept` means `application/json` (legacy clients); otherwise the acceptable JSON
/// media range with the highest `q` wins, the first listed on ties. Streams are only
/// chosen when named explicitly.
fn negotiate(headers: &HeaderMap) -> Option<Accepted> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Accepted {
            json: Some(MediaType::Json),
            stream: None,
        });
    };
    let mut best: Option<(f32, MediaType)> = None;
    let mut stream = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params: Vec<String> = parts.map(|p| p.trim().to_ascii_lowercase()).collect();
        let q = params
            .iter()
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON | "*/*" | "application/*" => MediaType::GraphQLResponseJson,
            JSON => MediaType::Json,
            "text/event-stream" => {
                stream = stream.or(Some(StreamMedia::EventStream));
                continue;
            }
            "multipart/mixed"
                if params
                    .iter()
                    .any(|p| p.replace('"', "") == "subscriptionspec=1.0") =>
            {
                stream = stream.or(Some(StreamMedia::Multipart));
                continue;
            }
            _ => continue,
        };
        if best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, candidate));
        }
    }
    let json = best.map(|(_, media)| media);
    (json.is_some() || stream.is_some()).then_some(Accepted { json, stream })
}

async fn post_graphql(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(accepted) = negotiate(&headers) else {
        return not_acceptable();
    };
    let media = accepted.json.unwrap_or(MediaType::Json);
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
    respond(state, request, &headers, accepted, true).await
}

/// GET serves queries (never mutations), streams, and WebSocket upgrades.
async fn get_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(state, parts.headers, upgrade),
            Err(rejection) => rejection.into_response(),
        };
    }
    let headers = parts.headers;
    let Some(accepted) = negotiate(&headers) else {
        return not_acceptable();
    };
    let media = accepted.json.unwrap_or(MediaType::Json);
    let params = match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(Query(params)) => params,
        Err(e) => return bad_request(StatusCode::BAD_REQUEST, media, &e.body_text()),
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
    respond(state, request, &headers, accepted, false).await
}

async fn respond(
    state: Arc<AppState>,
    request: GraphQLRequest,
    headers: &HeaderMap,
    accepted: Accepted,
    allow_mutation: bool,
) -> Response {
    let media = accepted.json.unwrap_or(MediaType::Json);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(error) = state.authenticate(authorization).await {
        let body = json!({ "errors": [{ "message": error.to_string(), "extensions": { "code": "UNAUTHENTICATED" } }] });
        let mut response = graphql_response(StatusCode::UNAUTHORIZED, media, body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let current = state.current.load_full();
    let forwarded = forwarded_headers(headers, &state.forward_headers);
    let transport = Transport {
        allow_mutation,
        streaming: accepted.stream.is_some(),
    };
    let outcome = run_request(&current, request, forwarded, transport).await;
    match (outcome, accepted.json, accepted.stream) {
        (Outcome::Executed { data, errors }, Some(media), _) => {
            graphql_bytes(StatusCode::OK, media, executed_body(data, &errors))
        }
        (Outcome::Executed { data, errors }, None, Some(stream)) => {
            stream::single(stream, executed_text(data, &errors).into())
        }
        (Outcome::Subscribed(events), _, Some(stream)) => stream::events(
            stream,
            events,
            &state.current.load().settings.subscriptions,
            state.shutdown.clone(),
        ),
        (Outcome::Refused(Refusal::Invalid(errors)), json, stream) => match (json, stream) {
            // GraphQL over SSE reports request errors inside the accepted stream.
            (None, Some(stream)) => {
                let payload = json!({ "errors": errors }).to_string().into();
                stream::single(stream, payload)
            }
            _ => {
                let status = match media {
                    MediaType::GraphQLResponseJson => StatusCode::BAD_REQUEST,
                    MediaType::Json => StatusCode::OK,
                };
                graphql_response(status, media, json!({ "errors": errors }))
            }
        },
        (Outcome::Refused(refusal @ Refusal::MutationOverGet), ..) => {
            let body = json!({ "errors": refusal.errors() });
            let mut response = graphql_response(StatusCode::METHOD_NOT_ALLOWED, media, body);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        (Outcome::Refused(refusal @ Refusal::StreamingRequired), ..) => graphql_response(
            StatusCode::NOT_ACCEPTABLE,
            media,
            json!({ "errors": refusal.errors() }),
        ),
        // Unreachable by construction (no JSON and no stream is rejected by `negotiate`,
        // subscriptions only start when a stream is accepted); answered, never a panic.
        (Outcome::Executed { .. } | Outcome::Subscribed(_), ..) => not_acceptable(),
    }
}

/// `Authorization` plus the configured headers, lower-cased and sorted so identical
/// requests coalesce regardless of header order.
fn forwarded_headers(headers: &HeaderMap, configured: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| is_forwarded(name.as_str(), configured))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    out.sort();
    out
}

/// Whether a header (any case) is forwarded to subgraphs.
fn is_forwarded(name: &str, configured: &[String]) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || configured.iter().any(|c| c.eq_ignore_ascii_case(name))
}

fn graphql_response(status: StatusCode, media: MediaType, body: Value) -> Response {
    graphql_bytes(status, media, serde_json::to_vec(&body).unwrap_or_default())
}

fn graphql_bytes(status: StatusCode, media: MediaType, bytes: Vec<u8>) -> Response {
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
