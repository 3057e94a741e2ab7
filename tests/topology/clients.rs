//! Clients of the topology's public entry: GraphQL over HTTP, and subscribers on every
//! transport that record what they receive and reconnect whenever their stream ends.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

/// A GraphQL client of the public entry.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

impl Client {
    /// POSTs an operation; the body, or the HTTP failure as text.
    pub async fn post(&self, query: &str, variables: Value) -> Result<Value, String> {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("{status}: {e}"))?;
        match (status.is_success(), body["errors"].is_null()) {
            (true, true) => Ok(body["data"].clone()),
            _ => Err(format!("{status}: {body}")),
        }
    }

    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        self.post(query, variables)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }
}

pub const SUBSCRIPTION: &str =
    "subscription($b: ID!) { taskChanged(boardId: $b) { kind task { title } } }";

/// How a subscriber talks to the router.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    GraphqlTransportWs,
    GraphqlWs,
    Sse,
    Multipart,
}

/// What one subscriber saw: task titles, and every interruption it reported.
#[derive(Default)]
pub struct Seen {
    pub titles: BTreeSet<String>,
    pub interruptions: Vec<String>,
    pub reconnects: usize,
}

/// Subscribes once and records titles until the stream ends; `Err` says how it ended.
async fn subscribe_once(
    public: &str,
    token: &str,
    board: &str,
    transport: Transport,
    seen: &Mutex<Seen>,
) -> String {
    let variables = json!({ "b": board });
    let record = |text: &str| {
        // Every payload carries `"title":"..."`; SSE and multipart frames are scanned as text.
        for part in text.split("\"title\":\"").skip(1) {
            if let Some(title) = part.split('"').next() {
                seen.lock().titles.insert(title.to_owned());
            }
        }
        if text.contains("\"errors\"") {
            seen.lock()
                .interruptions
                .push(text.chars().take(300).collect());
        }
    };
    match transport {
        Transport::GraphqlTransportWs | Transport::GraphqlWs => {
            let legacy = matches!(transport, Transport::GraphqlWs);
            let url = format!("{}/graphql", public.replacen("http", "ws", 1));
            let mut request = url.into_client_request().expect("request");
            let protocol = if legacy {
                "graphql-ws"
            } else {
                "graphql-transport-ws"
            };
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocol.parse().expect("header"));
            let mut socket = match tokio_tungstenite::connect_async(request).await {
                Ok((socket, _)) => socket,
                Err(e) => return format!("connect: {e}"),
            };
            let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
            let start = json!({"id": "1", "type": if legacy { "start" } else { "subscribe" }, "payload": {"query": SUBSCRIPTION, "variables": variables}});
            for message in [init, start] {
                if let Err(e) = socket.send(Message::text(message.to_string())).await {
                    return format!("send: {e}");
                }
            }
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Text(text)) => {
                        let text = text.as_str();
                        if text.contains("\"type\":\"ping\"") {
                            let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                        }
                        if text.contains("\"type\":\"error\"")
                            || text.contains("\"type\":\"complete\"")
                        {
                            return format!("ended: {text}");
                        }
                        record(text);
                    }
                    Ok(Message::Close(frame)) => return format!("closed: {frame:?}"),
                    Ok(_) => {}
                    Err(e) => return format!("socket: {e}"),
                }
            }
            "socket ended".into()
        }
        Transport::Sse | Transport::Multipart => {
            let accept = if matches!(transport, Transport::Sse) {
                "text/event-stream"
            } else {
                "multipart/mixed;subscriptionSpec=\"1.0\""
            };
            let response = reqwest::Client::new()
                .post(format!("{public}/graphql"))
                .header("accept", accept)
                .bearer_auth(token)
                .json(&json!({"query": SUBSCRIPTION, "variables": variables}))
                .send()
                .await;
            let mut response = match response {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return format!("status {}", r.status()),
                Err(e) => return format!("request: {e}"),
            };
            let mut pending = String::new();
            loop {
                match response.chunk().await {
                    Ok(Some(bytes)) => {
                        pending += &String::from_utf8_lossy(&bytes);
                        // Only whole events/parts: keep what may be cut mid-way.
                        if let Some(end) = pending.rfind('\n') {
                            record(&pending[..end]);
                            pending.drain(..end);
                        }
                    }
                    Ok(None) => return "stream ended".into(),
                    Err(e) => return format!("stream: {e}"),
                }
            }
        }
    }
}

/// A subscriber that reconnects (after 200 ms) whenever its stream ends, until `stop`.
pub fn subscriber(
    public: String,
    token: String,
    board: String,
    transport: Transport,
    stop: Instant,
) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    tokio::spawn(async move {
        while Instant::now() < stop {
            let ended = tokio::time::timeout(
                stop.saturating_duration_since(Instant::now()),
                subscribe_once(&public, &token, &board, transport, &record),
            )
            .await;
            if let Ok(reason) = ended {
                {
                    let mut seen = record.lock();
                    seen.interruptions.push(reason);
                    seen.reconnects += 1;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    seen
}

pub async fn wait_for_title(seen: &Mutex<Seen>, title: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if seen.lock().titles.contains(title) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
