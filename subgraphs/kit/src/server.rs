//! HTTP and WebSocket wiring shared by every subgraph: `/graphql` (POST, GET and WebSocket with
//! `graphql-transport-ws` and legacy `graphql-ws`), `/health`, `/ready`, `/metrics`, request ids,
//! request tracing and graceful shutdown.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ObjectType, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use auth::TokenVerifier;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::identity::{authorization_from_init, Caller};
use crate::metrics::{CodeLabels, Metrics, OperationLabels};

/// A readiness probe: the store and Redis (when configured) must answer.
pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the shared handlers need besides the schema.
#[derive(Clone)]
pub struct ServerContext {
    /// The subgraph's name in the supergraph (what the router's cache calls it).
    pub service: &'static str,
    pub verifier: TokenVerifier,
    pub metrics: Arc<Metrics>,
    pub ready: ReadyCheck,
    pub shutdown: CancellationToken,
}

struct AppState<Q, M, S> {
    schema: Schema<Q, M, S>,
    ctx: ServerContext,
    /// Operation names seen so far; capped so clients cannot blow up metric cardinality.
    operation_names: Mutex<HashSet<String>>,
}

const MAX_OPERATION_LABELS: usize = 200;
/// Largest accepted request body.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The subgraph's HTTP app. `extra` routes (e.g. JWKS) are merged in.
pub fn app<Q, M, S>(schema: Schema<Q, M, S>, ctx: ServerContext, extra: Router) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let state = Arc::new(AppState {
        schema,
        ctx,
        operation_names: Mutex::new(HashSet::new()),
    });
    let graphql = Router::new()
        .route(
            "/graphql",
            get(graphql_get::<Q, M, S>).post(graphql_post::<Q, M, S>),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready::<Q, M, S>))
        .route("/metrics", get(metrics::<Q, M, S>))
        .with_state(state);
    graphql
        .merge(extra)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let span = tracing::info_span!(
                        "request",
                        otel.name = %format_args!("{} {}", req.method(), req.uri().path()),
                        otel.kind = "server",
                        http.request.method = %req.method(),
                        url.path = %req.uri().path(),
                        http.response.status_code = tracing::field::Empty,
                        request_id = %id,
                        graphql.operation.name = tracing::field::Empty,
                        trace_id = tracing::field::Empty,
                        span_id = tracing::field::Empty,
                    );
                    // Continues the router's (or any client's) trace: W3C `traceparent`.
                    telemetry::propagation::continue_from_headers(&span, req.headers());
                    span
                })
                .on_response(|response: &Response, _: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", response.status().as_u16());
                }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn caller_of(ctx: &ServerContext, headers: &HeaderMap) -> Caller {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    Caller::from_authorization(&ctx.verifier, value).await
}

async fn graphql_post<Q, M, S>(
    State(state): State<Arc<AppState<Q, M, S>>>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let caller = caller_of(&state.ctx, &headers).await;
    execute(&state, request.into_inner().data(caller))
        .await
        .into()
}

/// GET serves queries and WebSocket upgrades; it never runs a mutation.
async fn graphql_get<Q, M, S>(
    State(state): State<Arc<AppState<Q, M, S>>>,
    request: Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (mut parts, body) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        let legacy = is_legacy_protocol(&parts.headers);
        let protocol = GraphQLProtocol::from_request_parts(&mut parts, &()).await;
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
        return match (protocol, upgrade) {
            (Ok(protocol), Ok(upgrade)) => websocket(state, protocol, legacy, upgrade),
            (Err(e), _) => e.into_response(),
            (_, Err(e)) => e.into_response(),
        };
    }
    let caller = caller_of(&state.ctx, &parts.headers).await;
    let request = Request::from_parts(parts, body);
    let request =
        match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            request,
            &(),
        )
        .await
        {
            Ok(request) => request.into_inner(),
            Err(rejection) => return rejection.into_response(),
        };
    if is_mutation(&request) {
        let body = serde_json::json!({"errors": [{
            "message": "mutations are not allowed over GET; use POST",
            "extensions": {"code": "METHOD_NOT_ALLOWED"}
        }]});
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            Json(body),
        )
            .into_response();
    }
    GraphQLResponse::from(execute(&state, request.data(caller)).await).into_response()
}

use axum::extract::FromRequest;

fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false; // reported as a parse error by execution
    };
    let operation = match (&request.operation_name, &doc.operations) {
        (_, async_graphql::parser::types::DocumentOperations::Single(op)) => Some(&op.node),
        (Some(name), async_graphql::parser::types::DocumentOperations::Multiple(ops)) => {
            ops.get(name.as_str()).map(|op| &op.node)
        }
        (None, async_graphql::parser::types::DocumentOperations::Multiple(ops)) => {
            ops.values().next().map(|op| &op.node)
        }
    };
    operation.is_some_and(|op| op.ty == async_graphql::parser::types::OperationType::Mutation)
}

async fn execute<Q, M, S>(
    state: &AppState<Q, M, S>,
    request: async_graphql::Request,
) -> async_graphql::Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let started = Instant::now();
    let name = request.operation_name.clone();
    if let Some(name) = &name {
        tracing::Span::current().record("graphql.operation.name", name.as_str());
    }
    // A cheap look first: only a document that says "mutation" is parsed again.
    let mutation = request.query.contains("mutation") && is_mutation(&request);
    let mut response = state.schema.execute(request).await;
    if mutation {
        invalidate_everything(&mut response, state.ctx.service);
    }
    record(state, name, &response, started.elapsed());
    response
}

/// Tells the router's entity cache (`extensions.invalidation`, Apollo Router's format) that
/// nothing this subgraph answered before a mutation may be served after it. Coarse and
/// always right: every mutation of a subgraph evicts that subgraph's cached answers, so a
/// client that saw a mutation acknowledged never reads older data through the cache.
fn invalidate_everything(response: &mut async_graphql::Response, service: &str) {
    let item = serde_json::json!([{ "kind": "subgraph", "subgraph": service }]);
    if let Ok(value) = async_graphql::Value::from_json(item) {
        response.extensions.insert("invalidation".to_owned(), value);
    }
}

fn record<Q, M, S>(
    state: &AppState<Q, M, S>,
    name: Option<String>,
    response: &async_graphql::Response,
    elapsed: Duration,
) {
    let outcome = match (
        response.errors.is_empty(),
        response.data == async_graphql::Value::Null,
    ) {
        (true, _) => "ok",
        (false, true) => "error",
        (false, false) => "partial",
    };
    let operation = if response.data == async_graphql::Value::Null && !response.errors.is_empty() {
        "(rejected)".to_owned()
    } else {
        let name = name.unwrap_or_else(|| "(anonymous)".to_owned());
        let mut seen = state.operation_names.lock();
        if seen.contains(&name) || seen.len() < MAX_OPERATION_LABELS {
            seen.insert(name.clone());
            name
        } else {
            "(other)".to_owned()
        }
    };
    let labels = OperationLabels {
        operation,
        outcome: outcome.to_owned(),
    };
    let metrics = &state.ctx.metrics;
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .request_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    for error in &response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "UNKNOWN".to_owned());
        metrics
            .graphql_errors
            .get_or_create(&CodeLabels { code })
            .inc();
    }
}

/// Time a client has to send `connection_init` (graphql-transport-ws closes with 4408 after it).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

fn websocket<Q, M, S>(
    state: Arc<AppState<Q, M, S>>,
    protocol: GraphQLProtocol,
    legacy: bool,
    upgrade: WebSocketUpgrade,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    // Small buffers instead of tungstenite's 128 KiB read buffer per connection.
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| async move {
            let metrics = state.ctx.metrics.clone();
            metrics.websocket_connections_opened.inc();
            metrics.websocket_connections.inc();
            let _open = OpenConnection(metrics);
            let shutdown = state.ctx.shutdown.clone();
            // Shutdown ends open subscriptions instead of waiting for clients to leave.
            tokio::select! {
                _ = websocket_session(state, protocol, legacy, socket) => {}
                _ = shutdown.cancelled() => {}
            }
        })
}

/// Counts a WebSocket connection as open until the session ends, however it ends.
struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.websocket_connections.dec();
    }
}

/// Reads `connection_init` itself so that an unauthorised init gets the protocol's close code
/// (4403 for graphql-transport-ws, `connection_error` for legacy graphql-ws) and a silent client
/// gets 4408, then hands the socket to async-graphql with the caller attached.
async fn websocket_session<Q, M, S>(
    state: Arc<AppState<Q, M, S>>,
    protocol: GraphQLProtocol,
    legacy: bool,
    socket: WebSocket,
) where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(INIT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(message))) => message,
        Ok(_) => return,
        Err(_) => {
            let _ = sink
                .send(close(4408, "Connection initialisation timeout"))
                .await;
            return;
        }
    };
    let init: Option<serde_json::Value> = match &first {
        WsMessage::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    };
    let mut data = Data::default();
    if let Some(init) = init.filter(|m| m["type"] == "connection_init") {
        let value = authorization_from_init(&init["payload"]);
        let caller = Caller::from_authorization(&state.ctx.verifier, value.as_deref()).await;
        if let Caller::Rejected(e) = &caller {
            if legacy {
                let error = serde_json::json!({"type": "connection_error", "payload": {"message": e.to_string()}});
                let _ = sink.send(WsMessage::text(error.to_string())).await;
            }
            let _ = sink.send(close(4403, "Forbidden")).await;
            return;
        }
        data.insert(caller);
    }
    let stream = futures::stream::once(async move { Ok(first) }).chain(stream);
    GraphQLWebSocket::new_with_pair(sink, stream, state.schema.clone(), protocol)
        .keepalive_timeout(Duration::from_secs(30))
        .on_connection_init(move |_| async move { Ok(data) })
        .serve()
        .await;
}

/// Whether the negotiated subprotocol is the legacy `graphql-ws` (subscriptions-transport-ws):
/// the first of the client's offers that async-graphql supports, as it picks.
fn is_legacy_protocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| *p == "graphql-ws" || *p == "graphql-transport-ws")
        == Some("graphql-ws")
}

fn close(code: u16, reason: &'static str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn ready<Q, M, S>(State(state): State<Arc<AppState<Q, M, S>>>) -> Response {
    match (state.ctx.ready)().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

async fn metrics<Q, M, S>(State(state): State<Arc<AppState<Q, M, S>>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.ctx.metrics.render(),
    )
        .into_response()
}

/// Adds `extensions.code` to parse and validation errors, as Apollo-compatible clients expect.
pub struct ErrorCodes;

impl async_graphql::extensions::ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: async_graphql::extensions::NextParseQuery<'_>,
    ) -> async_graphql::ServerResult<async_graphql::parser::types::ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))
    }

    async fn validation(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<async_graphql::ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, "GRAPHQL_VALIDATION_FAILED"))
                .collect()
        })
    }
}

fn with_code(mut error: async_graphql::ServerError, code: &str) -> async_graphql::ServerError {
    let ext = error.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    error
}

/// A token cancelled on ctrl-c or SIGTERM: the one shutdown path of every binary.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}
