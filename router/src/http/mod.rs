//! GraphQL over HTTP: `POST`/`GET /graphql`, media type negotiation and status codes,
//! streamed results (SSE and multipart, see [`stream`]), WebSocket upgrades (see [`ws`]),
//! `GET /health`.

pub mod assets;
mod batch;
pub mod edge;
mod invalidation;
mod ready;
mod stream;
mod ws;

use crate::edge::gate::Caller;
use crate::metrics::{ClientInfo, RequestOutcome};
use crate::service::{run_request, GraphQLRequest, Outcome, Refusal, RequestContext, Transport};
use crate::state::RouterState;
use arc_swap::ArcSwap;
use auth::{AuthError, TokenVerifier};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use edge::Edge;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use stream::StreamMedia;
use tokio_util::sync::CancellationToken;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// State shared by the HTTP handlers: the current router state (swapped on reload) and
/// the edge settings, which outlive reloads.
pub struct AppState {
    pub current: ArcSwap<RouterState>,
    pub edge: Edge,
    /// Verifies `Authorization` (HTTP header or WebSocket `connection_init`) before any
    /// work; without one, tokens are only checked by the subgraphs.
    pub verifier: Option<Arc<TokenVerifier>>,
    /// Cancelled on shutdown: ends WebSocket sessions and streamed responses.
    pub shutdown: CancellationToken,
    /// The last `/ready` verdict.
    readiness: ready::Readiness,
}

impl AppState {
    /// Puts `next` in service (a supergraph reload) once the most recently used operations
    /// are prepared against it; returns how many were.
    pub async fn install(&self, next: RouterState) -> usize {
        let current = self.current.load_full();
        let plans = self.edge.plans.as_deref();
        let warmed = crate::plan_store::warm_up(&current, &next, plans, self.edge.warm_up).await;
        self.current.store(Arc::new(next));
        warmed
    }

    /// An embedded router's state: the default edge without rate limiting, forwarding
    /// `forward_headers` besides `Authorization`.
    pub fn new(state: RouterState, forward_headers: Vec<String>) -> AppState {
        AppState::with_edge(state, Edge::embedded(forward_headers))
    }

    pub fn with_edge(state: RouterState, edge: Edge) -> AppState {
        AppState {
            current: ArcSwap::from_pointee(state),
            edge,
            verifier: None,
            shutdown: CancellationToken::new(),
            readiness: ready::Readiness::default(),
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

    /// Checks an `Authorization` value when a verifier is configured and returns the
    /// verified claims; no value is an anonymous caller, left to the subgraphs' rules.
    pub async fn verify(
        &self,
        authorization: Option<&str>,
    ) -> Result<Option<auth::Claims>, AuthError> {
        match (&self.verifier, authorization) {
            (Some(verifier), Some(value)) => verifier.verify_header(value).await.map(Some),
            _ => Ok(None),
        }
    }
}

/// The router's HTTP application.
pub fn app(state: Arc<AppState>) -> axum::Router {
    let mut router = axum::Router::new()
        .route(
            "/graphql",
            get(get_graphql)
                .post(post_graphql)
                .fallback(method_not_allowed),
        )
        .route("/health", get(health))
        .route("/ready", get(ready::ready));
    if state.edge.metrics_here {
        router = router.route("/metrics", get(metrics));
    }
    if state.edge.invalidation_key.is_some() {
        router = router.route("/invalidation", post(invalidation::invalidate));
    }
    if state.edge.playground {
        router = router.merge(assets::PLAYGROUND.routes("/playground", "/playground", &[]));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::middleware,
        ))
        .with_state(state)
}

async fn health() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "UP" }))).into_response()
}

/// The Prometheus text exposition of the router's metrics.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.current.load().client.metrics.render();
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
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
            GRAPHQL_RESPONSE_JSON => MediaType::GraphQLResponseJson,
            // What GraphQL over HTTP recommends for a client that accepts anything (and
            // what its reference audit checks): the media type every client understands.
            JSON | "*/*" | "application/*" => MediaType::Json,
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

/// A browser navigating to the endpoint (it lists `text/html`); GraphQL clients never do.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|range| range.trim().to_ascii_lowercase().starts_with("text/html"))
        })
}

async fn post_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let ip = state.edge.client_ip(&request);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let Some(accepted) = negotiate(&headers) else {
        return not_acceptable();
    };
    let media = accepted.json.unwrap_or(MediaType::Json);
    if !state.edge.csrf.allows(&headers) {
        return csrf_refusal(&state, media);
    }
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
    let limit = state.edge.max_body_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => {
            let message = format!("the request body is larger than {limit} bytes");
            let body = json!({ "errors": [{ "message": message, "extensions": { "code": "REQUEST_BODY_TOO_LARGE" } }] });
            return graphql_response(StatusCode::PAYLOAD_TOO_LARGE, media, body);
        }
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return batch::respond(state, &body, &headers, ip, media).await;
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
    if !names_a_document(&request) {
        return bad_request(StatusCode::BAD_REQUEST, media, "missing `query`");
    }
    respond(state, request, &headers, ip, accepted, true).await
}

/// A `query`, or the id of a persisted document: without either there is nothing to run
/// (HTTP 400 before anything else, as GraphQL over HTTP asks).
fn names_a_document(request: &GraphQLRequest) -> bool {
    request.query.is_some()
        || request.document_id.is_some()
        || request
            .extensions
            .as_ref()
            .is_some_and(|e| e.contains_key("persistedQuery"))
}

/// GET serves queries (never mutations), streams, and WebSocket upgrades.
async fn get_graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let ip = state.edge.client_ip(&request);
    let (mut parts, _) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => ws::upgrade(state, parts.headers, ip, upgrade),
            Err(rejection) => rejection.into_response(),
        };
    }
    let headers = parts.headers;
    if state.edge.playground && wants_html(&headers) {
        return assets::PLAYGROUND.index();
    }
    let Some(accepted) = negotiate(&headers) else {
        return not_acceptable();
    };
    let media = accepted.json.unwrap_or(MediaType::Json);
    if !state.edge.csrf.allows(&headers) {
        return csrf_refusal(&state, media);
    }
    let params = match Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
        Ok(Query(params)) => params,
        Err(e) => return bad_request(StatusCode::BAD_REQUEST, media, &e.body_text()),
    };
    let (variables, extensions) = match (
        object_param(&params, "variables"),
        object_param(&params, "extensions"),
    ) {
        (Ok(variables), Ok(extensions)) => (variables, extensions),
        (Err(message), _) | (_, Err(message)) => {
            return bad_request(StatusCode::BAD_REQUEST, media, &message)
        }
    };
    let request = GraphQLRequest {
        query: params.get("query").cloned(),
        document_id: params.get("documentId").cloned(),
        operation_name: params.get("operationName").cloned(),
        variables,
        extensions,
    };
    if !names_a_document(&request) {
        return bad_request(StatusCode::BAD_REQUEST, media, "missing `query` parameter");
    }
    respond(state, request, &headers, ip, accepted, false).await
}

/// A GET parameter holding a JSON object (or `null`), absent as `None`.
fn object_param(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<Map<String, Value>>, String> {
    params.get(name).map_or(Ok(None), |v| {
        serde_json::from_str(v).map_err(|e| format!("invalid `{name}`: {e}"))
    })
}

async fn respond(
    state: Arc<AppState>,
    request: GraphQLRequest,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    accepted: Accepted,
    allow_mutation: bool,
) -> Response {
    let media = accepted.json.unwrap_or(MediaType::Json);
    let transport = Transport {
        allow_mutation,
        streaming: accepted.stream.is_some(),
        name: match accepted.stream {
            Some(StreamMedia::EventStream) => "sse",
            Some(StreamMedia::Multipart) => "multipart",
            None => "http",
        },
    };
    let outcome = match run(&state, request, headers, ip, transport).await {
        Ok(outcome) => outcome,
        Err(unauthenticated) => return unauthenticated.into_response(media),
    };
    match (outcome, accepted.json, accepted.stream) {
        (Outcome::Executed(body), Some(media), _) => graphql_bytes(StatusCode::OK, media, body),
        (Outcome::Executed(body), None, Some(stream)) => {
            stream::single(stream, String::from_utf8_lossy(&body).into())
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
        (
            Outcome::Refused(Refusal::Edge {
                status,
                errors,
                retry_after,
            }),
            ..,
        ) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = graphql_response(status, media, json!({ "errors": errors }));
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
            }
            response
        }
        // Unreachable by construction (no JSON and no stream is rejected by `negotiate`,
        // subscriptions only start when a stream is accepted); answered, never a panic.
        (Outcome::Executed(_) | Outcome::Subscribed(_), ..) => not_acceptable(),
    }
}

/// An `Authorization` that failed verification: HTTP 401 before any work.
pub(super) struct Unauthenticated(pub(super) AuthError);

impl Unauthenticated {
    fn into_response(self, media: MediaType) -> Response {
        let body = json!({ "errors": [{ "message": self.0.to_string(), "extensions": { "code": "UNAUTHENTICATED" } }] });
        let mut response = graphql_response(StatusCode::UNAUTHORIZED, media, body);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

/// Authenticates, applies the header rules and runs one operation.
pub(super) async fn run(
    state: &AppState,
    request: GraphQLRequest,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    transport: Transport,
) -> Result<Outcome, Unauthenticated> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let current = state.current.load_full();
    let client = ClientInfo::from_headers(headers);
    let claims = match state.verify(authorization).await {
        Ok(claims) => claims,
        Err(error) => {
            let metrics = &current.client.metrics;
            metrics.count_code("UNAUTHENTICATED");
            metrics.record_request(None, RequestOutcome::Refused, &client, Duration::ZERO);
            return Err(Unauthenticated(error));
        }
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Schema authorization needs verified tokens: without a verifier it is the subgraphs'.
    // A supergraph without rules needs no grants (nothing to read per request).
    let enforced = state.verifier.is_some() && !current.supergraph.access.is_empty();
    let grants = enforced.then(|| state.edge.authorization.grants(claims.as_ref()));
    let user = claims.map(|claims| claims.sub);
    let context = RequestContext {
        headers: state.edge.headers.forwarded(headers),
        trace: crate::observe::request_span(headers, request_id),
        request_id: request_id.to_owned(),
        caller: Caller { user, ip },
        transport,
        gate: state.edge.gate.as_ref(),
        client,
        documents: &state.edge.documents,
        plans: state.edge.plans.as_deref(),
        grants,
    };
    Ok(run_request(&current, request, context).await)
}

fn csrf_refusal(state: &AppState, media: MediaType) -> Response {
    let body = json!({ "errors": [{ "message": state.edge.csrf.message(), "extensions": { "code": "CSRF_ERROR" } }] });
    graphql_response(StatusCode::BAD_REQUEST, media, body)
}

/// GraphQL over HTTP is GET and POST: anything else is a 405 naming them, with a coded error.
async fn method_not_allowed(method: axum::http::Method) -> Response {
    let message = format!("{method} is not supported: send GraphQL requests with GET or POST");
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": "METHOD_NOT_ALLOWED" } }] });
    let mut response = graphql_response(StatusCode::METHOD_NOT_ALLOWED, MediaType::Json, body);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

fn graphql_response(status: StatusCode, media: MediaType, body: Value) -> Response {
    graphql_bytes(status, media, serde_json::to_vec(&body).unwrap_or_default())
}

fn graphql_bytes(status: StatusCode, media: MediaType, bytes: impl Into<bytes::Bytes>) -> Response {
    let mut response = (status, bytes.into()).into_response();
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
