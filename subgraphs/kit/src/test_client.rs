//! A small GraphQL-over-HTTP client for this workspace's tests.

use serde_json::{json, Value};

/// Posts GraphQL operations to one endpoint, optionally with a bearer token.
#[derive(Clone)]
pub struct GqlClient {
    http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
}

impl GqlClient {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
            token: None,
        }
    }

    /// The same endpoint, authenticated with `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// Sends an operation and returns the whole response body (`data` and `errors`).
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GraphQL request failed");
        response.json().await.expect("GraphQL response is not JSON")
    }

    /// Sends an operation that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.post(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Sends an operation that must fail and returns the first error's `extensions.code`.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.post(query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
            .to_owned()
    }
}

/// The first error of a response.
pub fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One `graphql-transport-ws` subscription, for tests.
pub struct Subscription {
    socket: Socket,
}

impl Subscription {
    /// Connects to `<base>/graphql`, authenticates in `connection_init` with `token`, waits for
    /// `connection_ack` and subscribes to `query` (operation id `"1"`).
    pub async fn start(base: &str, token: &str, query: &str) -> Self {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::Message;
        let url = format!("{}/graphql", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("WebSocket request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket connect");
        let mut subscription = Self { socket };
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        subscription
            .socket
            .send(Message::text(init.to_string()))
            .await
            .expect("connection_init");
        let ack = subscription.next().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": query}});
        subscription
            .socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribe");
        // The protocol does not acknowledge `subscribe`: give the server a moment to register it
        // before the test causes events.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        subscription
    }

    /// The next protocol message other than ping/pong (10 s at most).
    pub async fn next(&mut self) -> Value {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
                    .await
                    .expect("a message within 10 s")
                    .expect("socket open")
                    .expect("message");
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                if value["type"] != "ping" && value["type"] != "pong" {
                    return value;
                }
            }
        }
    }

    /// The data of the next `next` message, asserting that is what came.
    pub async fn next_data(&mut self) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"].clone()
    }
}
