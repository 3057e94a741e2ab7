//! GraphQL over WebSocket on `/graphql`: `graphql-transport-ws` and the legacy `graphql-ws`
//! (subscriptions-transport-ws), with `Authorization` taken from `connection_init` and
//! verified before `connection_ack`.

use super::AppState;
use crate::edge::authorization::Grants;
use crate::edge::gate::Caller;
use crate::edge::headers::{request_id, Forwarded};
use crate::metrics::ClientInfo;
use crate::service::{run_request, GraphQLRequest, Outcome, RequestContext, Transport};
use crate::subscription::{EventStream, SubscriptionSettings};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// Initial read buffer of one client connection. tungstenite allocates it up front and
/// grows it for a larger message; clients mostly send a few small messages (init,
/// subscribe, pong), so a small one keeps idle subscribers cheap.
const READ_BUFFER: usize = 1024;
/// Frames are written as soon as they are sent (every send flushes anyway).
const WRITE_BUFFER: usize = 0;

/// The two subprotocols, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library; Apollo Client, urql).
    TransportWs,
    /// `graphql-ws` (the legacy subscriptions-transport-ws).
    Legacy,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }
}

/// The first offered subprotocol the router speaks; `graphql-transport-ws` when the client
/// names none. `None` when it offers only unknown ones.
fn negotiate(headers: &HeaderMap) -> Option<Protocol> {
    let mut offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .peekable();
    if offered.peek().is_none() {
        return Some(Protocol::TransportWs);
    }
    offered.find_map(|p| match p {
        "graphql-transport-ws" => Some(Protocol::TransportWs),
        "graphql-ws" => Some(Protocol::Legacy),
        _ => None,
    })
}

/// Upgrades a `GET /graphql` carrying `Upgrade: websocket`.
pub(super) fn upgrade(
    state: Arc<AppState>,
    headers: HeaderMap,
    ip: IpAddr,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = negotiate(&headers) else {
        let body = json!({ "errors": [{
            "message": "unsupported WebSocket subprotocol: use graphql-transport-ws or graphql-ws",
            "extensions": { "code": "BAD_REQUEST" },
        }]});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    let settings = state.current.load().settings.subscriptions.clone();
    // The limit is enforced by the session with a clear close reason; the transport's own
    // limit only stops absurd frames.
    let transport_limit = settings.max_message_bytes.saturating_mul(4).max(64 * 1024);
    // Small buffers: tungstenite's 128 KiB default read buffer per connection would
    // dominate the memory of many idle subscribers.
    upgrade
        .protocols([protocol.name()])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        .on_upgrade(move |socket| async move {
            let shutdown = state.shutdown.clone();
            let session = Session::new(state, protocol, headers, ip, settings);
            tokio::select! {
                _ = session.run(socket) => {}
                _ = shutdown.cancelled() => {}
            }
        })
}

/// What an operation produces for its client, in order; `Error` and `Done` end it.
enum Out {
    Next(Arc<str>),
    /// Request errors: the operation never started.
    Error(Vec<Value>),
    Done,
}

type Output = Pin<Box<dyn Stream<Item = Out> + Send>>;

/// One open operation: the client's id (also JSON-encoded, for its frames) and its output.
struct Operation {
    id: String,
    id_json: Box<str>,
    output: Output,
}

/// The open operations of one connection, polled by the connection's own task: there is
/// no task or channel per operation, so an event goes from the upstream's broadcast
/// straight to the socket, and nothing of an operation outlives its removal (an id reused
/// after `complete` never sees the old operation's output).
#[derive(Default)]
struct Operations {
    open: Vec<Operation>,
    /// Where the next poll starts, so that one busy operation cannot starve the others.
    start: usize,
}

impl Operations {
    fn contains(&self, id: &str) -> bool {
        self.open.iter().any(|op| op.id == id)
    }

    fn len(&self) -> usize {
        self.open.len()
    }

    fn insert(&mut self, id: String, output: Output) {
        let id_json = Value::String(id.clone()).to_string().into_boxed_str();
        self.open.push(Operation {
            id,
            id_json,
            output,
        });
    }

    /// Drops the operation, which releases its upstream.
    fn remove(&mut self, id: &str) {
        if let Some(index) = self.open.iter().position(|op| op.id == id) {
            self.open.swap_remove(index);
        }
    }

    /// The next frame of any operation; an operation is removed with its last frame.
    /// Pending while no operation has output (forever when there is none).
    fn next_frame(&mut self, protocol: Protocol) -> impl Future<Output = String> + '_ {
        std::future::poll_fn(move |cx| {
            let count = self.open.len();
            for offset in 0..count {
                let index = (self.start + offset) % count;
                let op = &mut self.open[index];
                let Poll::Ready(out) = op.output.as_mut().poll_next(cx) else {
                    continue;
                };
                let out = out.unwrap_or(Out::Done);
                let text = frame(protocol, &op.id_json, &out);
                if !matches!(out, Out::Next(_)) {
                    self.open.swap_remove(index);
                }
                self.start = index + 1;
                return Poll::Ready(text);
            }
            Poll::Pending
        })
    }
}

/// The message for one output of the operation whose JSON-encoded id is `id`.
fn frame(protocol: Protocol, id: &str, out: &Out) -> String {
    let kind = match (out, protocol) {
        (Out::Next(_), Protocol::TransportWs) => "next",
        (Out::Next(_), Protocol::Legacy) => "data",
        (Out::Error(_), _) => "error",
        (Out::Done, _) => "complete",
    };
    let errors;
    let payload = match out {
        Out::Next(payload) => Some(&**payload),
        Out::Error(list) => {
            errors = serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
            Some(errors.as_str())
        }
        Out::Done => None,
    };
    // Sized once: this runs for every event and every subscriber.
    let mut text = String::with_capacity(40 + id.len() + payload.map_or(0, str::len));
    text.push_str(r#"{"id":"#);
    text.push_str(id);
    text.push_str(r#","type":""#);
    text.push_str(kind);
    text.push('"');
    if let Some(payload) = payload {
        text.push_str(r#","payload":"#);
        text.push_str(payload);
    }
    text.push('}');
    text
}

struct Session {
    app: Arc<AppState>,
    protocol: Protocol,
    /// The upgrade request's headers, until `connection_init` reads them.
    upgrade_headers: HeaderMap,
    ip: IpAddr,
    settings: SubscriptionSettings,
    /// Who the caller is and what is forwarded to subgraphs, once the connection is
    /// initialised.
    headers: Option<Arc<Connection>>,
    operations: Operations,
}

/// What `connection_init` established for every operation of a connection.
struct Connection {
    forwarded: Forwarded,
    caller: Caller,
    client: ClientInfo,
    /// The caller's grants, when a verifier is configured (see `crate::edge::authorization`).
    grants: Option<Grants>,
    /// `traceparent`/`tracestate` of the upgrade or `connection_init`: every operation of
    /// the connection continues that trace.
    trace: HeaderMap,
    /// When the verified token expires: the connection ends then (close 4403), and the
    /// client reconnects with a fresh one. `None` without a verifier or a token.
    expires: Option<tokio::time::Instant>,
}

enum Flow {
    Continue,
    Close(u16, String),
}

impl Session {
    fn new(
        app: Arc<AppState>,
        protocol: Protocol,
        upgrade_headers: HeaderMap,
        ip: IpAddr,
        settings: SubscriptionSettings,
    ) -> Session {
        Session {
            app,
            protocol,
            upgrade_headers,
            ip,
            settings,
            headers: None,
            operations: Operations::default(),
        }
    }

    /// Reads the client's messages and writes every operation's output, in one task.
    async fn run(mut self, mut socket: WebSocket) {
        let max_message_bytes = self.settings.max_message_bytes;
        let init_deadline = tokio::time::sleep(self.settings.init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(self.settings.keepalive);
        keepalive.reset();
        // Armed at `connection_init` when the token has an expiry.
        let expiry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(expiry);
        let mut armed = false;
        loop {
            if !armed {
                if let Some(at) = self.headers.as_ref().and_then(|c| c.expires) {
                    expiry.as_mut().reset(at);
                    armed = true;
                }
            }
            let flow = tokio::select! {
                message = socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > max_message_bytes {
                            Flow::Close(1009, format!("message exceeds {max_message_bytes} bytes"))
                        } else {
                            // Boxed: its (rarely live) state would otherwise size every
                            // idle connection's future.
                            Box::pin(self.on_message(text.as_str(), &mut socket)).await
                        }
                    }
                    Some(Ok(Message::Binary(_))) => Flow::Close(4400, "binary messages are not supported".into()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Flow::Continue,
                },
                text = self.operations.next_frame(self.protocol) => {
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                    Flow::Continue
                }
                _ = &mut expiry, if armed => {
                    Flow::Close(4403, "Forbidden: the access token expired".into())
                }
                _ = &mut init_deadline, if self.headers.is_none() => {
                    Flow::Close(4408, "Connection initialisation timeout".into())
                }
                _ = keepalive.tick(), if self.headers.is_some() => {
                    let ping = match self.protocol {
                        Protocol::TransportWs => r#"{"type":"ping"}"#,
                        Protocol::Legacy => r#"{"type":"ka"}"#,
                    };
                    if socket.send(Message::text(ping)).await.is_err() {
                        return;
                    }
                    Flow::Continue
                }
            };
            if let Flow::Close(code, reason) = flow {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                return;
            }
        }
    }

    async fn on_message(&mut self, text: &str, socket: &mut WebSocket) -> Flow {
        let Ok(Value::Object(mut message)) = serde_json::from_str::<Value>(text) else {
            return Flow::Close(4400, "Invalid message received".into());
        };
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match (self.protocol, kind.as_str()) {
            (_, "connection_init") => {
                if self.headers.is_some() {
                    return Flow::Close(4429, "Too many initialisation requests".into());
                }
                let payload = message.remove("payload").unwrap_or(Value::Null);
                // Only needed here: a second `connection_init` closes the connection.
                let upgrade_headers = std::mem::take(&mut self.upgrade_headers);
                match Self::init(&self.app, &upgrade_headers, &payload, self.ip).await {
                    Ok(connection) => {
                        self.headers = Some(Arc::new(connection));
                        let _ = socket
                            .send(Message::text(r#"{"type":"connection_ack"}"#))
                            .await;
                        if self.protocol == Protocol::Legacy {
                            let _ = socket.send(Message::text(r#"{"type":"ka"}"#)).await;
                        }
                        Flow::Continue
                    }
                    Err(reason) => {
                        if self.protocol == Protocol::Legacy {
                            let error = json!({ "type": "connection_error", "payload": { "message": reason } });
                            let _ = socket.send(Message::text(error.to_string())).await;
                        }
                        Flow::Close(4403, "Forbidden".into())
                    }
                }
            }
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = message.remove("payload") {
                    pong["payload"] = payload;
                }
                let _ = socket.send(Message::text(pong.to_string())).await;
                Flow::Continue
            }
            (Protocol::TransportWs, "pong") => Flow::Continue,
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                let Some(headers) = self.headers.clone() else {
                    return Flow::Close(4401, "Unauthorized".into());
                };
                let Some(id) = message.get("id").and_then(Value::as_str).map(str::to_owned) else {
                    return Flow::Close(4400, "Invalid message received: missing id".into());
                };
                let Some(request) = message
                    .remove("payload")
                    .and_then(|p| serde_json::from_value::<GraphQLRequest>(p).ok())
                else {
                    return Flow::Close(4400, "Invalid message received: bad payload".into());
                };
                if self.operations.contains(&id) {
                    return Flow::Close(4409, format!("Subscriber for {id} already exists"));
                }
                let max_operations = self.settings.max_per_connection;
                if self.operations.len() >= max_operations {
                    let error = json!({
                        "message": format!("this connection already has {max_operations} operations open, the most allowed"),
                        "extensions": { "code": "SUBSCRIPTION_LIMIT_EXCEEDED" },
                    });
                    let id_json = Value::String(id).to_string();
                    let text = frame(self.protocol, &id_json, &Out::Error(vec![error]));
                    let _ = socket.send(Message::text(text)).await;
                    return Flow::Continue;
                }
                let output = operation(self.app.clone(), request, headers);
                self.operations.insert(id, output);
                Flow::Continue
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    // Dropping the operation releases the upstream.
                    self.operations.remove(id);
                }
                Flow::Continue
            }
            (Protocol::Legacy, "connection_terminate") => Flow::Close(1000, String::new()),
            _ => Flow::Close(
                4400,
                format!("Invalid message received: unknown type `{kind}`"),
            ),
        }
    }

    /// Builds the headers forwarded for this connection: the upgrade request's, overridden
    /// by the `connection_init` payload (browsers cannot set headers on a WebSocket), through
    /// the header rules; verifies `Authorization` when the router has a verifier.
    ///
    /// Takes the app rather than `&self`: the session is not `Sync`, so no reference to
    /// it may be held across an await.
    async fn init(
        app: &AppState,
        upgrade_headers: &HeaderMap,
        payload: &Value,
        ip: IpAddr,
    ) -> Result<Connection, String> {
        let mut headers = upgrade_headers.clone();
        let mut given = |map: &Map<String, Value>| {
            for (name, value) in map {
                let (Ok(name), Some(Ok(value))) = (
                    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
                    value.as_str().map(HeaderValue::from_str),
                ) else {
                    continue;
                };
                headers.insert(name, value);
            }
        };
        if let Some(map) = payload.as_object() {
            given(map);
            if let Some(nested) = map.get("headers").and_then(Value::as_object) {
                given(nested);
            }
        }
        let authorization = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let claims = app.verify(authorization).await.map_err(|e| e.to_string())?;
        let expires = claims
            .as_ref()
            .map(|claims| tokio::time::Instant::now() + claims.expires_in());
        let grants = app
            .verifier
            .as_ref()
            .map(|_| app.edge.authorization.grants(claims.as_ref()));
        Ok(Connection {
            grants,
            forwarded: app.edge.headers.forwarded(&headers),
            client: ClientInfo::from_headers(&headers),
            trace: crate::observe::trace_context(&headers),
            caller: Caller {
                user: claims.map(|claims| claims.sub),
                ip,
            },
            expires,
        })
    }
}

/// One operation's output: runs the request, then streams a subscription's events.
fn operation(app: Arc<AppState>, request: GraphQLRequest, headers: Arc<Connection>) -> Output {
    enum Step {
        Start(Arc<AppState>, GraphQLRequest, Arc<Connection>),
        Events(EventStream),
        Finish,
    }
    let output = stream::unfold(
        Some(Step::Start(app, request, headers)),
        |step| async move {
            let events = match step? {
                Step::Start(app, request, headers) => match start(app, request, headers).await {
                    Outcome::Subscribed(events) => events,
                    Outcome::Executed(body) => {
                        let payload = String::from_utf8_lossy(&body).into();
                        return Some((Out::Next(payload), Some(Step::Finish)));
                    }
                    Outcome::Refused(refusal) => return Some((Out::Error(refusal.errors()), None)),
                },
                Step::Events(events) => events,
                Step::Finish => return Some((Out::Done, None)),
            };
            let mut events = events;
            Some(match events.next().await {
                Some(payload) => (Out::Next(payload), Some(Step::Events(events))),
                None => (Out::Done, None),
            })
        },
    );
    Box::pin(output)
}

async fn start(
    app: Arc<AppState>,
    request: GraphQLRequest,
    connection: Arc<Connection>,
) -> Outcome {
    let state = app.current.load_full();
    let id = request_id(&HeaderMap::new());
    let context = RequestContext {
        headers: connection.forwarded.clone(),
        trace: crate::observe::request_span(&connection.trace, &id),
        request_id: id,
        caller: connection.caller.clone(),
        transport: Transport {
            allow_mutation: true,
            streaming: true,
            name: "websocket",
        },
        gate: app.edge.gate.as_ref(),
        client: connection.client.clone(),
        documents: &app.edge.documents,
        plans: app.edge.plans.as_deref(),
        grants: connection.grants.clone(),
    };
    // Boxed so that a long-lived subscription does not keep the pipeline's state allocated.
    Box::pin(run_request(&state, request, context)).await
}
