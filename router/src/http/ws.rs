//! GraphQL over WebSocket on `/graphql`: `graphql-transport-ws` and the legacy `graphql-ws`
//! (subscriptions-transport-ws), with `Authorization` taken from `connection_init` and
//! verified before `connection_ack`.

use super::{forwarded_headers, is_forwarded, AppState};
use crate::service::{executed_body, run_request, GraphQLRequest, Outcome, Transport};
use crate::subscription::SubscriptionSettings;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

/// Read and write buffer of one client connection.
const WS_BUFFER: usize = 8 * 1024;

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
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .max_message_size(transport_limit)
        .max_frame_size(transport_limit)
        .on_upgrade(move |socket| async move {
            let shutdown = state.shutdown.clone();
            let session = Session::new(state, protocol, headers, settings);
            tokio::select! {
                _ = session.run(socket) => {}
                _ = shutdown.cancelled() => {}
            }
        })
}

/// One operation of a connection: the client's id, and which use of that id (a client may
/// reuse an id once the operation is over, while the old one's last output is still queued).
#[derive(Clone, PartialEq, Eq)]
struct OpRef {
    id: String,
    generation: u64,
}

/// What the operation tasks of a connection send to its socket.
enum Out {
    Next(OpRef, Arc<str>),
    /// Request errors: the operation never started.
    Error(OpRef, Vec<Value>),
    Done(OpRef),
}

struct Running {
    generation: u64,
    /// Dropping it aborts the task, which releases the upstream.
    _task: AbortOnDropHandle<()>,
}

struct Session {
    app: Arc<AppState>,
    protocol: Protocol,
    upgrade_headers: HeaderMap,
    settings: SubscriptionSettings,
    /// Forwarded to subgraphs once the connection is initialised.
    headers: Option<Vec<(String, String)>>,
    operations: HashMap<String, Running>,
    generations: u64,
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
        settings: SubscriptionSettings,
    ) -> Session {
        Session {
            app,
            protocol,
            upgrade_headers,
            settings,
            headers: None,
            operations: HashMap::new(),
            generations: 0,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let settings = self.settings.clone();
        let (mut sink, mut stream) = socket.split();
        let (out_tx, mut out_rx) = mpsc::channel::<Out>(256);
        let init_deadline = tokio::time::sleep(settings.init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(settings.keepalive);
        keepalive.reset();
        loop {
            let flow = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > settings.max_message_bytes {
                            Flow::Close(1009, format!("message exceeds {} bytes", settings.max_message_bytes))
                        } else {
                            // Boxed: its (rarely live) state would otherwise size every
                            // idle connection's future.
                            Box::pin(self.on_message(text.as_str(), &out_tx, &mut sink)).await
                        }
                    }
                    Some(Ok(Message::Binary(_))) => Flow::Close(4400, "binary messages are not supported".into()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Flow::Continue,
                },
                Some(out) = out_rx.recv() => {
                    if let Some(text) = self.frame(out) {
                        if sink.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                    Flow::Continue
                }
                _ = &mut init_deadline, if self.headers.is_none() => {
                    Flow::Close(4408, "Connection initialisation timeout".into())
                }
                _ = keepalive.tick(), if self.headers.is_some() => {
                    let ping = match self.protocol {
                        Protocol::TransportWs => r#"{"type":"ping"}"#,
                        Protocol::Legacy => r#"{"type":"ka"}"#,
                    };
                    if sink.send(Message::text(ping)).await.is_err() {
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
                let _ = sink.send(Message::Close(Some(frame))).await;
                return;
            }
        }
    }

    /// Turns an operation's output into a frame, dropping output of operations the client
    /// already completed (including an earlier use of a reused id).
    fn frame(&mut self, out: Out) -> Option<String> {
        let (op, text, ends) = match out {
            Out::Next(op, payload) => {
                let kind = match self.protocol {
                    Protocol::TransportWs => "next",
                    Protocol::Legacy => "data",
                };
                let text = format!(
                    r#"{{"id":{},"type":"{kind}","payload":{payload}}}"#,
                    Value::String(op.id.clone())
                );
                (op, text, false)
            }
            Out::Error(op, errors) => {
                let text = json!({ "id": op.id, "type": "error", "payload": errors });
                (op, text.to_string(), true)
            }
            Out::Done(op) => {
                let text = json!({ "id": op.id, "type": "complete" });
                (op, text.to_string(), true)
            }
        };
        if self.operations.get(&op.id)?.generation != op.generation {
            return None;
        }
        if ends {
            // The operation's task is ending on its own; dropping its handle is a no-op.
            self.operations.remove(&op.id);
        }
        Some(text)
    }

    async fn on_message<S>(&mut self, text: &str, out: &mpsc::Sender<Out>, sink: &mut S) -> Flow
    where
        S: futures::Sink<Message> + Unpin,
    {
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
                match self.init(&payload).await {
                    Ok(headers) => {
                        self.headers = Some(headers);
                        let _ = sink
                            .send(Message::text(r#"{"type":"connection_ack"}"#))
                            .await;
                        if self.protocol == Protocol::Legacy {
                            let _ = sink.send(Message::text(r#"{"type":"ka"}"#)).await;
                        }
                        Flow::Continue
                    }
                    Err(reason) => {
                        if self.protocol == Protocol::Legacy {
                            let error = json!({ "type": "connection_error", "payload": { "message": reason } });
                            let _ = sink.send(Message::text(error.to_string())).await;
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
                let _ = sink.send(Message::text(pong.to_string())).await;
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
                if self.operations.contains_key(&id) {
                    return Flow::Close(4409, format!("Subscriber for {id} already exists"));
                }
                let max_operations = self.settings.max_per_connection;
                if self.operations.len() >= max_operations {
                    let error = json!({
                        "message": format!("this connection already has {max_operations} operations open, the most allowed"),
                        "extensions": { "code": "SUBSCRIPTION_LIMIT_EXCEEDED" },
                    });
                    let text = json!({ "id": id, "type": "error", "payload": [error] });
                    let _ = sink.send(Message::text(text.to_string())).await;
                    return Flow::Continue;
                }
                self.generations += 1;
                let op = OpRef {
                    id: id.clone(),
                    generation: self.generations,
                };
                let task = tokio::spawn(operation(
                    self.app.clone(),
                    op,
                    request,
                    headers,
                    out.clone(),
                ));
                let running = Running {
                    generation: self.generations,
                    _task: AbortOnDropHandle::new(task),
                };
                self.operations.insert(id, running);
                Flow::Continue
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    // Dropping the handle aborts the task, which releases the upstream.
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

    /// Builds the headers forwarded for this connection: configured ones from the upgrade
    /// request, overridden by the `connection_init` payload (browsers cannot set headers on
    /// a WebSocket); verifies `Authorization` when the router has a verifier.
    async fn init(&self, payload: &Value) -> Result<Vec<(String, String)>, String> {
        let mut headers = forwarded_headers(&self.upgrade_headers, &self.app.forward_headers);
        let from_payload = |map: &Map<String, Value>| -> Vec<(String, String)> {
            map.iter()
                .filter(|(name, _)| is_forwarded(name, &self.app.forward_headers))
                .filter_map(|(name, value)| {
                    Some((name.to_ascii_lowercase(), value.as_str()?.to_owned()))
                })
                .collect()
        };
        let mut given = Vec::new();
        if let Some(map) = payload.as_object() {
            given.extend(from_payload(map));
            if let Some(nested) = map.get("headers").and_then(Value::as_object) {
                given.extend(from_payload(nested));
            }
        }
        for (name, value) in given {
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }
        headers.sort();
        let authorization = headers
            .iter()
            .find(|(name, _)| name == "authorization")
            .map(|(_, value)| value.as_str());
        self.app
            .authenticate(authorization)
            .await
            .map_err(|e| e.to_string())?;
        Ok(headers)
    }
}

/// Runs one operation of a connection and forwards its results.
async fn operation(
    app: Arc<AppState>,
    op: OpRef,
    request: GraphQLRequest,
    headers: Vec<(String, String)>,
    out: mpsc::Sender<Out>,
) {
    let state = app.current.load_full();
    let transport = Transport {
        allow_mutation: true,
        streaming: true,
    };
    // Boxed so that a long-lived subscription does not keep the pipeline's state allocated.
    let outcome = Box::pin(run_request(&state, request, headers, transport)).await;
    drop(state);
    match outcome {
        Outcome::Subscribed(mut events) => {
            while let Some(payload) = events.next().await {
                if out.send(Out::Next(op.clone(), payload)).await.is_err() {
                    return;
                }
            }
        }
        Outcome::Executed { data, errors } => {
            let body = executed_body(data, &errors);
            let payload: Arc<str> = String::from_utf8(body).unwrap_or_default().into();
            if out.send(Out::Next(op.clone(), payload)).await.is_err() {
                return;
            }
        }
        Outcome::Refused(refusal) => {
            let _ = out.send(Out::Error(op, refusal.errors())).await;
            return;
        }
    }
    let _ = out.send(Out::Done(op)).await;
}
