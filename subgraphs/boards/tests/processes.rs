//! The `boards` binary as two separate processes on one data directory and one Redis, verifying
//! tokens against a JWKS endpoint as in production: a subscriber connected to one process gets
//! the event of a mutation served by the other.

mod common;

use std::time::Duration;

use auth::TokenSigner;
use common::{next_json, send, Actor, AUD, ISS};
use kit::test_client::GqlClient;
use kit::test_process::{serve_jwks, ServiceProcess};
use kit::testing::{require_redis, unique_prefix};
use serde_json::json;

/// A `boards` process on `data_dir` and Redis, verifying tokens against `jwks_url`.
fn spawn(
    data_dir: &std::path::Path,
    redis_url: &str,
    prefix: &str,
    jwks_url: &str,
) -> ServiceProcess {
    let env = [
        ("REDIS_URL", redis_url),
        ("BOARDS_REDIS_PREFIX", prefix),
        ("BOARDS_JWKS_URL", jwks_url),
        ("BOARDS_JWT_ISSUER", ISS),
        ("BOARDS_JWT_AUDIENCE", AUD),
    ];
    ServiceProcess::spawn(env!("CARGO_BIN_EXE_boards"), "BOARDS_", data_dir, &env)
}

fn actor(process: &ServiceProcess, signer: &TokenSigner, id: &str) -> Actor {
    let token = signer
        .sign(id, chrono::Duration::minutes(5))
        .expect("sign")
        .0;
    Actor {
        id: id.to_owned(),
        client: GqlClient::new(process.graphql_url()).with_token(token),
    }
}

#[tokio::test]
async fn two_processes_share_store_redis_and_subscriptions() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = TokenSigner::ephemeral(ISS, AUD);
    let jwks_url = serve_jwks(&signer).await;
    let prefix = unique_prefix("boards_processes");
    let mut one = spawn(dir.path(), &redis.url, &prefix, &jwks_url);
    let mut two = spawn(dir.path(), &redis.url, &prefix, &jwks_url);
    one.wait_ready().await;
    two.wait_ready().await;
    let ada_id = uuid::Uuid::now_v7().to_string();
    let (ada_one, ada_two) = (actor(&one, &signer, &ada_id), actor(&two, &signer, &ada_id));
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
