//! Subscriptions through the router, end to end on the real platform: `taskChanged`,
//! `messageAdded` and `notificationAdded` over every client transport (graphql-transport-ws,
//! legacy graphql-ws, SSE, multipart), with fields from other subgraphs completed per event,
//! authorization enforced, identical subscriptions sharing one upstream connection (counted
//! by the subgraph's own metrics), and nothing left open once clients leave.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
mod common;

use common::Stack;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A subgraph's counter or gauge from its `/metrics`.
async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn until_metric(base: &str, name: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = metric(base, name).await;
        if now == value {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed {now}, expected {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
// ---- the four client transports ---------------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

enum Live {
    WebSocket {
        socket: Box<Socket>,
        legacy: bool,
    },
    Stream {
        response: reqwest::Response,
        buffer: String,
        multipart: bool,
    },
}

impl Live {
    async fn websocket(
        url: &str,
        token: &str,
        query: &str,
        variables: &Value,
        legacy: bool,
    ) -> Live {
        let url = url.replacen("http", "ws", 1);
        let mut request = url.into_client_request().unwrap();
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut live = Live::WebSocket {
            socket: Box::new(socket),
            legacy,
        };
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        live.send(init).await;
        assert_eq!(live.message().await["type"], "connection_ack");
        let kind = if legacy { "start" } else { "subscribe" };
        live.send(
            json!({"id": "1", "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await;
        live
    }

    async fn stream(
        url: &str,
        token: &str,
        query: &str,
        variables: &Value,
        multipart: bool,
    ) -> Live {
        let accept = if multipart {
            "multipart/mixed;subscriptionSpec=\"1.0\", application/json"
        } else {
            "text/event-stream"
        };
        let response = reqwest::Client::new()
            .post(url)
            .header("accept", accept)
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Live::Stream {
            response,
            buffer: String::new(),
            multipart,
        }
    }

    /// All four transports for one caller and one subscription.
    async fn all(
        url: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> Vec<(&'static str, Live)> {
        vec![
            (
                "graphql-transport-ws",
                Live::websocket(url, token, query, &variables, false).await,
            ),
            (
                "graphql-ws",
                Live::websocket(url, token, query, &variables, true).await,
            ),
            (
                "sse",
                Live::stream(url, token, query, &variables, false).await,
            ),
            (
                "multipart",
                Live::stream(url, token, query, &variables, true).await,
            ),
        ]
    }

    async fn send(&mut self, message: Value) {
        let Live::WebSocket { socket, .. } = self else {
            panic!("not a WebSocket")
        };
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next WebSocket protocol message (keep-alives skipped); `{"closed": code}` on close.
    async fn message(&mut self) -> Value {
        let Live::WebSocket { socket, .. } = self else {
            panic!("not a WebSocket")
        };
        loop {
            let message = tokio::time::timeout(WAIT, socket.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("a frame");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
                        return value;
                    }
                }
                Message::Close(frame) => return json!({"closed": frame.map(|f| u16::from(f.code))}),
                _ => {}
            }
        }
    }

    /// The next execution result, whatever the transport; `None` when the subscription
    /// completed.
    async fn next(&mut self) -> Option<Value> {
        match self {
            Live::WebSocket { legacy, .. } => {
                let legacy = *legacy;
                let message = self.message().await;
                match message["type"].as_str() {
                    Some("next") if !legacy => Some(message["payload"].clone()),
                    Some("data") if legacy => Some(message["payload"].clone()),
                    Some("complete") => None,
                    _ => panic!("unexpected message {message}"),
                }
            }
            Live::Stream {
                response,
                buffer,
                multipart,
            } => loop {
                if let Some(result) = take_result(buffer, *multipart) {
                    return result;
                }
                let chunk = tokio::time::timeout(WAIT, response.chunk())
                    .await
                    .expect("a chunk in time")
                    .unwrap()
                    .expect("the stream is open");
                buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            },
        }
    }
}

/// Takes the first complete result out of a streamed body: `Some(Some(result))`,
/// `Some(None)` at the end of the stream, `None` when more bytes are needed.
fn take_result(buffer: &mut String, multipart: bool) -> Option<Option<Value>> {
    loop {
        if multipart {
            // As Apollo Client reads it: the text before each boundary is one part.
            if buffer.starts_with("--") {
                return Some(None);
            }
            let end = buffer.find("\r\n--graphql")?;
            let part = buffer[..end].to_owned();
            buffer.replace_range(..end + "\r\n--graphql".len(), "");
            if let Some(rest) = buffer.strip_prefix("\r\n") {
                *buffer = rest.to_owned();
            }
            let Some(json) = part.split("\r\n\r\n").nth(1) else {
                continue;
            };
            let value: Value = serde_json::from_str(json).unwrap();
            if let Some(payload) = value.get("payload") {
                return Some(Some(payload.clone()));
            }
        } else {
            let end = buffer.find("\n\n")?;
            let event = buffer[..end].to_owned();
            buffer.replace_range(..end + 2, "");
            if event.starts_with("event: complete") {
                return Some(None);
            }
            if let Some(data) = event.strip_prefix("event: next\ndata: ") {
                return Some(Some(serde_json::from_str(data).unwrap()));
            }
        }
    }
}

/// Every transport receives `expected` as its next result.
async fn all_receive(lives: &mut [(&'static str, Live)], expected: &Value) {
    for (name, live) in lives.iter_mut() {
        let result = live
            .next()
            .await
            .unwrap_or_else(|| panic!("{name} completed"));
        assert_eq!(&result, expected, "{name}");
    }
}

// ---- the three subscriptions ------------------------------------------------------------

#[tokio::test]
async fn task_changed_reaches_every_transport_with_names_from_accounts() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let board = stack.board(&ada, "Launch", &bob).await;
    let boards = stack.platform.urls.boards.clone();
    let opened = metric(&boards, "platform_websocket_connections_opened_total").await;
    let query = "subscription($b: ID!) { taskChanged(boardId: $b) { kind task { title assignee { name } board { name } } actor { name } } }";
    let mut lives = Live::all(&stack.graphql_url(), &bob.token, query, json!({"b": board})).await;
    // Four clients, one caller, one operation: one upstream connection to boards.
    until_metric(&boards, "platform_websocket_connections", 1.0).await;
    assert_eq!(
        metric(&boards, "platform_websocket_connections_opened_total").await,
        opened + 1.0
    );
    ada.client.ok(
        "mutation($b: ID!, $u: ID) { createTask(input: {boardId: $b, title: \"Fix login\", assigneeId: $u}) { id } }",
        json!({"b": board, "u": bob.id}),
    )
    .await;
    let expected = json!({"data": {"taskChanged": {
        "kind": "CREATED",
        "task": {"title": "Fix login", "assignee": {"name": "Bob"}, "board": {"name": "Launch"}},
        "actor": {"name": "Ada"},
    }}});
    all_receive(&mut lives, &expected).await;
    // Every client leaves: the upstream connection closes.
    drop(lives);
    until_metric(&boards, "platform_websocket_connections", 0.0).await;
}

#[tokio::test]
async fn message_added_carries_the_authors_name_and_non_members_are_refused() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let carol = stack.sign_up("Carol").await;
    let board = stack.board(&ada, "Launch", &bob).await;
    let room_query = "query($b: ID!) { board(id: $b) { chatRoom { id members { name } } } }";
    let deadline = tokio::time::Instant::now() + WAIT;
    let room = loop {
        // The room appears once chat consumed boards' events: errors until then.
        let data = ada.client.post(room_query, json!({"b": board})).await["data"].clone();
        if data["board"]["chatRoom"]["members"]
            .as_array()
            .map_or(0, Vec::len)
            == 2
        {
            break data["board"]["chatRoom"]["id"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "room not in sync: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let query = "subscription($r: ID!) { messageAdded(roomId: $r) { body author { name } } }";
    let mut lives = Live::all(&stack.graphql_url(), &bob.token, query, json!({"r": room})).await;
    let chat = stack.platform.urls.chat.clone();
    until_metric(&chat, "platform_websocket_connections", 1.0).await;

    // Carol is not a member: the subgraph refuses, the router passes the error on and
    // completes her subscription on every transport.
    let mut carol = Live::all(
        &stack.graphql_url(),
        &carol.token,
        query,
        json!({"r": room}),
    )
    .await;
    for (name, live) in carol.iter_mut() {
        let refused = live
            .next()
            .await
            .unwrap_or_else(|| panic!("{name}: an error first"));
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{name}: {refused}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["serviceName"], "chat",
            "{name}"
        );
        assert_eq!(live.next().await, None, "{name} completes");
    }

    ada.client
        .ok(
            "mutation($r: ID!) { sendMessage(roomId: $r, body: \"Ship it\") { id } }",
            json!({"r": room}),
        )
        .await;
    let expected =
        json!({"data": {"messageAdded": {"body": "Ship it", "author": {"name": "Ada"}}}});
    all_receive(&mut lives, &expected).await;
    drop(lives);
    drop(carol);
    until_metric(&chat, "platform_websocket_connections", 0.0).await;
}

#[tokio::test]
async fn notification_added_carries_task_and_board_from_boards() {
    let stack = Stack::start().await;
    let ada = stack.sign_up("Ada").await;
    let bob = stack.sign_up("Bob").await;
    let query =
        "subscription { notificationAdded { kind actor { name } task { title } board { name } } }";
    let mut lives = Live::all(&stack.graphql_url(), &bob.token, query, json!({})).await;
    let notifications = stack.platform.urls.notifications.clone();
    until_metric(&notifications, "platform_websocket_connections", 1.0).await;
    let board = stack.board(&ada, "Launch", &bob).await;
    let added = json!({"data": {"notificationAdded": {
        "kind": "BOARD_MEMBER_ADDED", "actor": {"name": "Ada"}, "task": null, "board": {"name": "Launch"},
    }}});
    all_receive(&mut lives, &added).await;
    ada.client.ok(
        "mutation($b: ID!, $u: ID) { createTask(input: {boardId: $b, title: \"Write docs\", assigneeId: $u}) { id } }",
        json!({"b": board, "u": bob.id}),
    )
    .await;
    let assigned = json!({"data": {"notificationAdded": {
        "kind": "TASK_ASSIGNED", "actor": {"name": "Ada"}, "task": {"title": "Write docs"}, "board": {"name": "Launch"},
    }}});
    all_receive(&mut lives, &assigned).await;
    drop(lives);
    until_metric(&notifications, "platform_websocket_connections", 0.0).await;
}

#[tokio::test]
async fn a_forged_token_is_refused_by_the_router_before_connection_ack() {
    let stack = Stack::start().await;
    let url = stack.graphql_url().replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut live = Live::WebSocket {
        socket: Box::new(socket),
        legacy: false,
    };
    live.send(
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer not.a.token"}}),
    )
    .await;
    // Sent without waiting for an ack: were the init accepted, this would subscribe upstream.
    live.send(json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { notificationAdded { kind } }"}}))
        .await;
    assert_eq!(live.message().await, json!({"closed": 4403}));
    let notifications = stack.platform.urls.notifications.clone();
    assert_eq!(
        metric(
            &notifications,
            "platform_websocket_connections_opened_total"
        )
        .await,
        0.0,
        "nothing reached the subgraph"
    );
}
