//! The `boards` binary as two separate processes on one data directory and one Redis, verifying
//! tokens against a JWKS endpoint as in production: a subscriber connected to one process gets
//! the event of a mutation served by the other.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use auth::TokenSigner;
use axum::routing::get;
use common::{next_json, send, Actor, AUD, ISS};
use kit::test_client::GqlClient;
use kit::testing::{free_port, require_redis, unique_prefix};
use serde_json::json;

/// A `boards` process of this test; killed (by its own pid) on drop.
struct Process {
    child: Child,
    base: String,
}

impl Process {
    fn spawn(data_dir: &std::path::Path, redis_url: &str, prefix: &str, jwks_url: &str) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_boards"))
            .env_clear()
            .env("BOARDS_LISTEN", format!("127.0.0.1:{port}"))
            .env("BOARDS_DATA_DIR", data_dir)
            .env("REDIS_URL", redis_url)
            .env("BOARDS_REDIS_PREFIX", prefix)
            .env("BOARDS_JWKS_URL", jwks_url)
            .env("BOARDS_JWT_ISSUER", ISS)
            .env("BOARDS_JWT_AUDIENCE", AUD)
            .env("BOARDS_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn boards");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/ready", self.base)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("boards exited early: {status}");
            }
            assert!(Instant::now() < deadline, "boards process not ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn actor(&self, signer: &TokenSigner, id: &str) -> Actor {
        let token = signer
            .sign(id, chrono::Duration::minutes(5))
            .expect("sign")
            .0;
        Actor {
            id: id.to_owned(),
            client: GqlClient::new(format!("{}/graphql", self.base)).with_token(token),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `signer`'s JWKS on a loopback port, like the accounts subgraph does.
async fn serve_jwks(signer: &TokenSigner) -> String {
    let jwks = signer.jwks();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn two_processes_share_store_redis_and_subscriptions() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = TokenSigner::ephemeral(ISS, AUD);
    let jwks_url = serve_jwks(&signer).await;
    let prefix = unique_prefix("boards_processes");
    let mut one = Process::spawn(dir.path(), &redis.url, &prefix, &jwks_url);
    let mut two = Process::spawn(dir.path(), &redis.url, &prefix, &jwks_url);
    one.wait_ready().await;
    two.wait_ready().await;
    let ada_id = uuid::Uuid::now_v7().to_string();
    let (ada_one, ada_two) = (one.actor(&signer, &ada_id), two.actor(&signer, &ada_id));
    let board = common::create_board(&ada_one, "Across processes").await;

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/graphql", one.base.replace("http", "ws"))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let token = signer
        .sign(&ada_id, chrono::Duration::minutes(5))
        .expect("sign")
        .0;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    send(&mut socket, init).await;
    assert_eq!(
        next_json(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    common::subscribe_tasks(&mut socket, "p", &board).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let task = common::create_task(&ada_two, &board, "from process two", "TODO").await;
    let message = next_json(&mut socket).await.expect("event");
    let event = &message["payload"]["data"]["taskChanged"];
    assert_eq!(
        (event["kind"].clone(), event["taskId"].clone()),
        (json!("CREATED"), json!(task)),
        "{message}"
    );
    let seen = ada_one
        .client
        .ok(
            "query($id: ID!) { board(id: $id) { tasks { totalCount } } }",
            json!({"id": board}),
        )
        .await;
    assert_eq!(
        seen["board"]["tasks"]["totalCount"], 1,
        "process one reads process two's write"
    );
}
