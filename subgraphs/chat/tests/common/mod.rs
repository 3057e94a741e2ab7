//! Test harness: chat servers on 127.0.0.1:0 with a temp data dir, tokens from an ephemeral
//! signer, board events appended to the durable stream as the boards subgraph would.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use kit::config::ServiceConfig;
use kit::events::DomainEvent;
use kit::metrics::Metrics;
use kit::test_client::GqlClient;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

pub const ISSUER: &str = "test-accounts";
pub const AUDIENCE: &str = "test-platform";

/// Signs tokens for any user id; every server of a test verifies with its JWKS.
pub struct Tokens(pub auth::TokenSigner);

impl Tokens {
    pub fn new() -> Self {
        Self(auth::TokenSigner::ephemeral(ISSUER, AUDIENCE))
    }

    pub fn verifier(&self) -> auth::TokenVerifier {
        auth::TokenVerifier::from_jwks(&self.0.jwks(), ISSUER, AUDIENCE)
    }

    pub fn token(&self, user_id: &str) -> String {
        self.0
            .sign(user_id, chrono::Duration::minutes(30))
            .expect("sign")
            .0
    }
}

pub struct Server {
    pub base: String,
    pub client: GqlClient,
    pub chat: Arc<chat::Chat>,
    pub metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl Server {
    /// A server on the embedded store and in-process pub/sub.
    pub async fn start(data_dir: &Path, tokens: &Tokens) -> Self {
        let config = ServiceConfig {
            data_dir: data_dir.to_owned(),
            ..ServiceConfig::default()
        };
        Self::with_config(config, tokens).await
    }

    pub async fn with_config(config: ServiceConfig, tokens: &Tokens) -> Self {
        let chat = Arc::new(
            chat::Chat::start(&config, tokens.verifier())
                .await
                .expect("start chat"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let subgraph = chat.clone();
        let handle = tokio::spawn(async move {
            kit::lifecycle::run(subgraph, listener, token)
                .await
                .expect("serve");
        });
        Self {
            client: GqlClient::new(format!("{base}/graphql")),
            metrics: chat.infra.metrics.clone(),
            chat,
            base,
            shutdown,
            handle,
        }
    }

    pub fn as_user(&self, tokens: &Tokens, user_id: &str) -> GqlClient {
        self.client.with_token(tokens.token(user_id))
    }

    /// Appends a boards domain event to the durable stream this server consumes.
    pub async fn board_event(&self, kind: &str, payload: Value) -> DomainEvent {
        let event = DomainEvent::new(kind, "boards-test", payload);
        self.append(&event).await;
        event
    }

    pub async fn append(&self, event: &DomainEvent) {
        self.chat
            .infra
            .events
            .append("boards", event)
            .await
            .expect("append board event");
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("server task");
    }
}

/// Polls `check` until it returns true, for up to 15 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

pub const CREATE: &str = "mutation($n: String!, $m: [ID!]!) { createChatRoom(name: $n, memberIds: $m) { id name members { id } board { id } createdAt } }";
pub const SEND: &str = "mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id body seq author { id } mentions { id } createdAt editedAt room { id } } }";
pub const ROOM: &str = "query($id: ID!) { chatRoom(id: $id) { id name members { id } } }";
pub const HISTORY: &str = "query($id: ID!, $last: Int, $before: String) { chatRoom(id: $id) { messages(last: $last, before: $before) { edges { cursor node { id body seq } } pageInfo { hasPreviousPage startCursor } } } }";

pub async fn create_room(client: &GqlClient, name: &str, members: &[&str]) -> String {
    let data = client.ok(CREATE, json!({"n": name, "m": members})).await;
    data["createChatRoom"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

pub async fn send(client: &GqlClient, room: &str, body: &str) -> Value {
    client.ok(SEND, json!({"r": room, "b": body})).await["sendMessage"].clone()
}

/// The room's whole history, oldest first, by paging backwards `page` at a time.
pub async fn full_history(client: &GqlClient, room: &str, page: i64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = client
            .ok(HISTORY, json!({"id": room, "last": page, "before": before}))
            .await;
        let connection = &data["chatRoom"]["messages"];
        let mut edges = connection["edges"].as_array().expect("edges").clone();
        edges.extend(all);
        all = edges;
        if connection["pageInfo"]["hasPreviousPage"] != true {
            return all.into_iter().map(|e| e["node"].clone()).collect();
        }
        before = connection["pageInfo"]["startCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection, initialised with `token` (acked).
pub async fn ws_connect(base: &str, token: Option<&str>) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/graphql", base.replace("http", "ws"))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let payload = match token {
        Some(t) => json!({"Authorization": format!("Bearer {t}")}),
        None => json!({}),
    };
    let init = json!({"type": "connection_init", "payload": payload});
    socket
        .send(WsMessage::text(init.to_string()))
        .await
        .expect("send init");
    let ack = next_json(&mut socket).await.expect("ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

/// Starts `messageAdded(roomId)` as operation `id`.
pub async fn subscribe(socket: &mut Socket, id: &str, room: &str) {
    let query = "subscription($r: ID!) { messageAdded(roomId: $r) { id body seq author { id } mentions { id } } }";
    let msg = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": {"r": room}}});
    socket
        .send(WsMessage::text(msg.to_string()))
        .await
        .expect("send subscribe");
}

/// The next JSON protocol message (pings answered, pongs skipped); None when closed.
pub async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("websocket message within 20 s")?
            .ok()?;
        match message {
            WsMessage::Text(text) => {
                let value: Value = serde_json::from_str(text.as_str()).expect("json");
                if value["type"] == "ping" {
                    let pong = json!({"type": "pong"}).to_string();
                    socket.send(WsMessage::text(pong)).await.ok()?;
                    continue;
                }
                if value["type"] == "pong" {
                    continue;
                }
                return Some(value);
            }
            WsMessage::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Whether no protocol message arrives within `wait`.
pub async fn silent_for(socket: &mut Socket, wait: Duration) -> bool {
    tokio::time::timeout(wait, next_json(socket)).await.is_err()
}

/// Asserts the subscription `id` ends with a `FORBIDDEN` error (then completes).
pub async fn expect_forbidden_end(socket: &mut Socket, id: &str) {
    let ended = next_json(socket).await.expect("error or completion");
    assert_eq!(ended["id"], id, "{ended}");
    let code = ended["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or(ended["payload"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("FORBIDDEN"), "{ended}");
    if ended["type"] == "next" {
        let complete = next_json(socket).await.expect("complete");
        assert_eq!(complete["type"], "complete", "{complete}");
    }
}

/// Appends `BoardCreated` as the boards subgraph would.
pub async fn board_created(server: &Server, board: &str, name: &str, owner: &str) -> DomainEvent {
    let payload = json!({"boardId": board, "name": name, "ownerId": owner});
    server.board_event("BoardCreated", payload).await
}

/// Appends `BoardMemberAdded` (or `BoardMemberRemoved` when `add` is false).
pub async fn board_member(server: &Server, board: &str, user: &str, add: bool) -> DomainEvent {
    if add {
        let payload = json!({"boardId": board, "userId": user, "role": "MEMBER"});
        server.board_event("BoardMemberAdded", payload).await
    } else {
        let payload = json!({"boardId": board, "userId": user});
        server.board_event("BoardMemberRemoved", payload).await
    }
}

/// `platform_store_call_duration_seconds_count` for one operation, from `/metrics`.
pub fn store_calls(metrics: &kit::metrics::Metrics, op: &str) -> u64 {
    let needle = format!("op=\"{op}\"");
    metrics
        .render()
        .lines()
        .filter(|l| {
            l.starts_with("platform_store_call_duration_seconds_count") && l.contains(&needle)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Waits until `server` serves at least `count` live subscriptions to `room`: messages sent
/// from then on reach them.
pub async fn wait_subscribed(server: &Server, room: &str, count: usize) {
    let service = server.chat.service.clone();
    eventually("subscription active", || {
        let service = service.clone();
        async move { service.live_subscriptions(room) >= count }
    })
    .await;
}
