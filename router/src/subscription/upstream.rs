//! The router's side of a subgraph subscription: one `graphql-transport-ws` connection per
//! upstream subscription, initialised with the caller's forwarded headers.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, Interval};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const PROTOCOL: &str = "graphql-transport-ws";
/// The single operation id used on each upstream connection.
const ID: &str = "1";
/// Initial read buffer of an upstream connection; it grows for larger messages. This
/// tungstenite version zeroes the whole buffer before every read, so its 128 KiB default
/// costs both memory per upstream and time per event.
const READ_BUFFER: usize = 8 * 1024;

/// Why an upstream subscription could not be (re)established or ended abnormally.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// Network-level: worth retrying (the subgraph may be restarting).
    #[error("subscription to '{service}' failed: {message}")]
    Unreachable { service: String, message: String },
    /// The subgraph refused the connection or the subscription: retrying cannot help.
    #[error("subscription to '{service}' was refused: {message}")]
    Refused { service: String, message: String },
}

impl UpstreamError {
    pub fn retryable(&self) -> bool {
        matches!(self, UpstreamError::Unreachable { .. })
    }
}

/// What an open upstream subscription produced.
#[derive(Debug)]
pub enum UpstreamEvent {
    /// One execution result (`{data, errors}`) for one event.
    Next(Map<String, Value>),
    /// The subgraph rejected the operation (`error` message): GraphQL errors, terminal.
    Errors(Vec<Value>),
    /// The subgraph completed the subscription.
    Complete,
    /// The connection ended without `complete`.
    Dropped(UpstreamError),
}

/// Everything needed to open (and reopen) one upstream subscription.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub service: String,
    /// The subgraph's `ws://`/`wss://` URL.
    pub url: String,
    /// The `subscribe` payload: `{query, variables}`.
    pub payload: Value,
    /// Forwarded headers, sent on the upgrade request and in `connection_init`.
    pub headers: Vec<(String, String)>,
    pub connect_timeout: Duration,
    /// Interval of the router's pings; a connection silent for three intervals is dead.
    pub keepalive: Duration,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open upstream subscription.
pub struct Upstream {
    socket: Socket,
    service: String,
    keepalive: Duration,
    ticker: Interval,
    last_seen: Instant,
}

/// `http(s)://` subgraph URLs become `ws(s)://` on the same path.
pub fn websocket_url(http_url: &str) -> String {
    if let Some(rest) = http_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http_url.to_owned()
    }
}

/// Connects, initialises and subscribes; returns once the subgraph acknowledged the
/// connection (the subscription itself may still be rejected by its first message).
pub async fn open(request: &UpstreamRequest) -> Result<Upstream, UpstreamError> {
    let unreachable = |message: String| UpstreamError::Unreachable {
        service: request.service.clone(),
        message,
    };
    let refused = |message: String| UpstreamError::Refused {
        service: request.service.clone(),
        message,
    };
    let mut http = request
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| refused(format!("invalid subgraph URL: {e}")))?;
    http.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    let mut init = Map::new();
    for (name, value) in &request.headers {
        if let (Ok(name), Ok(header)) = (
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            http.headers_mut().insert(name, header);
        }
        init.insert(name.clone(), Value::String(value.clone()));
    }
    let handshake = async {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0);
        // No Nagle delay on the router's few small messages (pings, pongs, complete).
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(http, Some(config), true)
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(response) => {
                        refused(format!("upgrade answered {}", response.status()))
                    }
                    other => unreachable(other.to_string()),
                })?;
        let init = json!({ "type": "connection_init", "payload": init });
        socket
            .send(Message::text(init.to_string()))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str())
                        .map_err(|e| refused(format!("invalid message: {e}")))?;
                    match message["type"].as_str() {
                        Some("connection_ack") => break,
                        Some("ping") => {
                            let pong = json!({ "type": "pong" }).to_string();
                            let _ = socket.send(Message::text(pong)).await;
                        }
                        _ => return Err(refused(format!("expected connection_ack, got {text}"))),
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(closed(&request.service, frame)),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(unreachable(e.to_string())),
                None => return Err(unreachable("connection closed during init".into())),
            }
        }
        let subscribe = json!({ "id": ID, "type": "subscribe", "payload": request.payload });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(socket)
    };
    let socket = tokio::time::timeout(request.connect_timeout, handshake)
        .await
        .map_err(|_| {
            unreachable(format!(
                "no connection_ack within {}ms",
                request.connect_timeout.as_millis()
            ))
        })??;
    let mut ticker = tokio::time::interval(request.keepalive);
    ticker.reset();
    Ok(Upstream {
        socket,
        service: request.service.clone(),
        keepalive: request.keepalive,
        ticker,
        last_seen: Instant::now(),
    })
}

/// A close frame from the subgraph: 4xxx codes are the protocol's refusals (4403
/// Forbidden, 4400 bad message, ...); anything else is a drop worth reconnecting after.
fn closed(service: &str, frame: Option<CloseFrame>) -> UpstreamError {
    match frame {
        Some(frame) if (4000..5000).contains(&u16::from(frame.code)) => UpstreamError::Refused {
            service: service.to_owned(),
            message: format!("closed with {} {}", u16::from(frame.code), frame.reason),
        },
        Some(frame) => UpstreamError::Unreachable {
            service: service.to_owned(),
            message: format!("closed with {} {}", u16::from(frame.code), frame.reason),
        },
        None => UpstreamError::Unreachable {
            service: service.to_owned(),
            message: "connection closed".into(),
        },
    }
}

impl Upstream {
    /// The next event; answers pings and keeps the connection alive meanwhile.
    pub async fn next(&mut self) -> UpstreamEvent {
        loop {
            let message = tokio::select! {
                message = self.socket.next() => message,
                _ = self.ticker.tick() => {
                    if self.last_seen.elapsed() > self.keepalive * 3 {
                        return UpstreamEvent::Dropped(self.unreachable("keep-alive timeout"));
                    }
                    let ping = json!({ "type": "ping" }).to_string();
                    if let Err(e) = self.socket.send(Message::text(ping)).await {
                        return UpstreamEvent::Dropped(self.unreachable(&e.to_string()));
                    }
                    continue;
                }
            };
            self.last_seen = Instant::now();
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    return UpstreamEvent::Dropped(closed(&self.service, frame))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return UpstreamEvent::Dropped(self.unreachable(&e.to_string())),
                None => return UpstreamEvent::Dropped(self.unreachable("connection closed")),
            };
            let Ok(Value::Object(mut message)) = serde_json::from_str::<Value>(text.as_str())
            else {
                return UpstreamEvent::Errors(vec![json!({
                    "message": format!("invalid message from subgraph '{}'", self.service),
                    "extensions": { "code": "SUBREQUEST_MALFORMED_RESPONSE" },
                })]);
            };
            match message.get("type").and_then(Value::as_str) {
                Some("next") => match message.remove("payload") {
                    Some(Value::Object(payload)) => return UpstreamEvent::Next(payload),
                    _ => continue,
                },
                Some("error") => {
                    let errors = match message.remove("payload") {
                        Some(Value::Array(errors)) => errors,
                        Some(other) => vec![other],
                        None => Vec::new(),
                    };
                    return UpstreamEvent::Errors(errors);
                }
                Some("complete") => return UpstreamEvent::Complete,
                Some("ping") => {
                    let pong = json!({ "type": "pong" }).to_string();
                    if let Err(e) = self.socket.send(Message::text(pong)).await {
                        return UpstreamEvent::Dropped(self.unreachable(&e.to_string()));
                    }
                }
                _ => {}
            }
        }
    }

    /// Completes the subscription and closes the connection normally.
    pub async fn close(mut self) {
        let complete = json!({ "id": ID, "type": "complete" }).to_string();
        let _ = self.socket.send(Message::text(complete)).await;
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(Some(frame))).await;
    }

    fn unreachable(&self, message: &str) -> UpstreamError {
        UpstreamError::Unreachable {
            service: self.service.clone(),
            message: message.to_owned(),
        }
    }
}
