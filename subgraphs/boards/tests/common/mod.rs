//! Test harness: a real boards server on 127.0.0.1:0 over a temp data dir, tokens signed by an
//! ephemeral key, and helpers for the operations most tests need.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use auth::{TokenSigner, TokenVerifier};
use futures::{SinkExt, StreamExt};
use kit::config::ServiceConfig;
use kit::events::SharedEventStream;
use kit::metrics::Metrics;
use kit::test_client::GqlClient;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

pub const ISS: &str = "test-accounts";
pub const AUD: &str = "test-platform";

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where a server keeps its state; two servers on one `Backing` are two replicas.
/// With `MONGODB_URL` set, servers use that MongoDB (a fresh database per `Backing`) instead
/// of the embedded store in the data dir, so the same suite runs against both backends.
#[derive(Clone)]
pub struct Backing {
    pub signer: Arc<TokenSigner>,
    pub redis: Option<(String, String)>,
    pub mongodb: Option<(String, String)>,
    /// The outbox sweeper's interval; none by default, so store-call counts stay exact.
    pub sweep_every: Option<std::time::Duration>,
}

impl Backing {
    pub fn embedded() -> Self {
        let mongodb = std::env::var("MONGODB_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .map(|url| {
                (
                    url,
                    format!("boards_test_{}", uuid::Uuid::new_v4().simple()),
                )
            });
        Self {
            signer: Arc::new(TokenSigner::ephemeral(ISS, AUD)),
            redis: None,
            mongodb,
            sweep_every: None,
        }
    }

    /// Redis at `url`, keys and channels under `prefix`.
    pub fn redis(url: &str, prefix: &str) -> Self {
        Self {
            redis: Some((url.to_owned(), prefix.to_owned())),
            ..Self::embedded()
        }
    }
}

pub struct Server {
    pub base: String,
    pub client: GqlClient,
    pub metrics: Arc<Metrics>,
    pub events: SharedEventStream,
    pub outbox: Arc<kit::outbox::Outbox>,
    pub backing: Backing,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

/// A signed-in user: their id and a client sending their token.
#[derive(Clone)]
pub struct Actor {
    pub id: String,
    pub client: GqlClient,
}

impl Server {
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, Backing::embedded()).await
    }

    pub async fn start_with(data_dir: &Path, backing: Backing) -> Self {
        let mut config = ServiceConfig {
            data_dir: data_dir.to_owned(),
            jwt_issuer: ISS.into(),
            jwt_audience: AUD.into(),
            ..ServiceConfig::default()
        };
        if let Some((url, database)) = &backing.mongodb {
            config.mongodb_url = Some(url.clone());
            config.mongodb_database = database.clone();
        }
        if let Some((url, prefix)) = &backing.redis {
            config.redis_url = Some(url.clone());
            config.redis_prefix = prefix.clone();
        }
        let verifier = TokenVerifier::from_jwks(&backing.signer.jwks(), ISS, AUD);
        let boards = boards::Boards::start(&config, verifier)
            .await
            .expect("start boards")
            .with_outbox_sweep(backing.sweep_every);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let (metrics, events) = (boards.infra.metrics.clone(), boards.infra.events.clone());
        let outbox = boards.service.outbox().clone();
        let token = shutdown.clone();
        let handle = tokio::spawn(async move {
            kit::lifecycle::run(boards, listener, token)
                .await
                .expect("serve");
        });
        Self {
            client: GqlClient::new(format!("{base}/graphql")),
            base,
            metrics,
            events,
            outbox,
            backing,
            shutdown,
            handle,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("server task");
    }

    /// A new user (fresh uuid) with a valid token.
    pub fn user(&self) -> Actor {
        self.actor(&uuid::Uuid::now_v7().to_string())
    }

    /// `user_id` signed in on this server.
    pub fn actor(&self, user_id: &str) -> Actor {
        Actor {
            id: user_id.to_owned(),
            client: self.client.with_token(self.token(user_id)),
        }
    }

    pub fn token(&self, user_id: &str) -> String {
        self.backing
            .signer
            .sign(user_id, chrono::Duration::minutes(5))
            .expect("sign")
            .0
    }

    /// Waits until `/ready` answers 200 (store and, when configured, Redis reachable).
    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ready = reqwest::get(format!("{}/ready", self.base)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "server not ready");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `platform_cache_requests_total` of one cache and outcome, from `/metrics`.
    pub async fn cache_count(&self, cache: &str, outcome: &str) -> u64 {
        let text = self.metrics_text().await;
        let (cache, outcome) = (
            format!("cache=\"{cache}\""),
            format!("outcome=\"{outcome}\""),
        );
        text.lines()
            .filter(|l| {
                l.starts_with("platform_cache_requests_total")
                    && l.contains(&cache)
                    && l.contains(&outcome)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// `platform_store_call_duration_seconds_count` for one operation.
    pub fn store_calls(&self, op: &str) -> u64 {
        sum_metric(
            &self.metrics.render(),
            "platform_store_call_duration_seconds_count",
            &format!("op=\"{op}\""),
        )
    }

    /// A graphql-transport-ws connection, acknowledged, authenticated as `user_id` (or anonymous).
    pub async fn ws(&self, user_id: Option<&str>) -> Socket {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("{}/graphql", self.base.replace("http", "ws"))
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        let payload = match user_id {
            Some(id) => json!({"Authorization": format!("Bearer {}", self.token(id))}),
            None => json!({}),
        };
        send(
            &mut socket,
            json!({"type": "connection_init", "payload": payload}),
        )
        .await;
        let ack = next_json(&mut socket).await.expect("ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        socket
    }
}

/// Sums the samples of `name` whose labels contain `label`.
pub fn sum_metric(text: &str, name: &str, label: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next JSON text message (pings skipped); `None` when the socket closed.
pub async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("no websocket message within 10s");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str()).expect("json");
                if value["type"] == "ping" {
                    continue;
                }
                return Some(value);
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Starts `taskChanged(boardId)` as subscription `id`.
pub async fn subscribe_tasks(socket: &mut Socket, id: &str, board_id: &str) {
    let query = "subscription($b: ID!) { taskChanged(boardId: $b) { kind boardId taskId actor { id } at task { id title status position assignee { id } } } }";
    send(
        socket,
        json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": {"b": board_id}}}),
    )
    .await;
}

/// The first error's `extensions.code`, or `<none>`.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

pub const CREATE_BOARD: &str =
    "mutation($i: CreateBoardInput!) { createBoard(input: $i) { id name description owner { id } members { user { id } role joinedAt } createdAt updatedAt } }";
pub const CREATE_TASK: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id title description status priority position labels dueAt assignee { id } creator { id } board { id } } }";
pub const MOVE_TASK: &str = "mutation($id: ID!, $s: TaskStatus!, $b: ID) { moveTask(id: $id, status: $s, beforeTaskId: $b) { id status position } }";
pub const ADD_MEMBER: &str =
    "mutation($b: ID!, $u: ID!) { addBoardMember(boardId: $b, userId: $u) { id members { user { id } role } } }";
pub const BOARD_TASKS: &str = "query($id: ID!, $s: TaskStatus, $a: ID, $f: Int, $after: String) { board(id: $id) { tasks(status: $s, assigneeId: $a, first: $f, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id title status position } } } } }";

pub async fn create_board(actor: &Actor, name: &str) -> String {
    let data = actor
        .client
        .ok(CREATE_BOARD, json!({"i": {"name": name}}))
        .await;
    data["createBoard"]["id"]
        .as_str()
        .expect("board id")
        .to_owned()
}

pub async fn create_task(actor: &Actor, board_id: &str, title: &str, status: &str) -> String {
    let input = json!({"boardId": board_id, "title": title, "status": status});
    let data = actor.client.ok(CREATE_TASK, json!({"i": input})).await;
    data["createTask"]["id"]
        .as_str()
        .expect("task id")
        .to_owned()
}

pub async fn add_member(owner: &Actor, board_id: &str, user_id: &str) {
    owner
        .client
        .ok(ADD_MEMBER, json!({"b": board_id, "u": user_id}))
        .await;
}

pub async fn move_task(actor: &Actor, task_id: &str, status: &str, before: Option<&str>) -> Value {
    let data = actor
        .client
        .ok(MOVE_TASK, json!({"id": task_id, "s": status, "b": before}))
        .await;
    data["moveTask"].clone()
}

/// Ids of the tasks of `status` on a board, in board order (one page of up to 100).
pub async fn column(actor: &Actor, board_id: &str, status: &str) -> Vec<String> {
    let data = actor
        .client
        .ok(BOARD_TASKS, json!({"id": board_id, "s": status, "f": 100}))
        .await;
    data["board"]["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}
