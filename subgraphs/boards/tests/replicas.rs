//! Two replicas on one data directory and one Redis behave as one subgraph: subscribers on one
//! get the events of mutations served by the other, and cached reads on one see the other's
//! writes at once.

mod common;

use std::time::Duration;

use common::{add_member, create_board, create_task, next_json, subscribe_tasks, Backing, Server};
use kit::testing::{require_redis, unique_prefix};
use serde_json::json;

#[tokio::test]
async fn a_subscriber_on_one_replica_receives_mutations_served_by_the_other() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let backing = Backing::redis(&redis.url, &unique_prefix("boards_replicas"));
    let one = Server::start_with(dir.path(), backing.clone()).await;
    let two = Server::start_with(dir.path(), backing).await;
    one.wait_ready().await;
    two.wait_ready().await;
    let ada_id = uuid::Uuid::now_v7().to_string();
    let (ada_on_one, ada_on_two) = (one.actor(&ada_id), two.actor(&ada_id));
    let board = create_board(&ada_on_one, "Shared").await;

    let mut socket = one.ws(Some(&ada_id)).await;
    subscribe_tasks(&mut socket, "r", &board).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let task = create_task(&ada_on_two, &board, "from replica two", "TODO").await;
    let message = next_json(&mut socket).await.expect("event");
    assert_eq!(message["type"], "next", "{message}");
    let event = &message["payload"]["data"]["taskChanged"];
    assert_eq!(
        (event["kind"].clone(), event["taskId"].clone()),
        (json!("CREATED"), json!(task))
    );
    assert_eq!(event["task"]["title"], "from replica two");

    // Removal served by replica two ends a subscription held by replica one.
    let bob_id = uuid::Uuid::now_v7().to_string();
    add_member(&ada_on_two, &board, &bob_id).await;
    let mut bob_socket = one.ws(Some(&bob_id)).await;
    subscribe_tasks(&mut bob_socket, "b", &board).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let remove = "mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { id } }";
    ada_on_two
        .client
        .ok(remove, json!({"b": board, "u": bob_id}))
        .await;
    let ended = next_json(&mut bob_socket).await.expect("complete");
    assert_eq!(ended["type"], "complete", "{ended}");
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn a_write_on_one_replica_is_visible_on_the_other_at_the_next_read() {
    let Some(redis) = require_redis() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let backing = Backing::redis(&redis.url, &unique_prefix("boards_replica_cache"));
    let one = Server::start_with(dir.path(), backing.clone()).await;
    let two = Server::start_with(dir.path(), backing).await;
    one.wait_ready().await;
    two.wait_ready().await;
    let ada_id = uuid::Uuid::now_v7().to_string();
    let (ada_on_one, ada_on_two) = (one.actor(&ada_id), two.actor(&ada_id));
    let board = create_board(&ada_on_one, "B").await;
    let query = "query($id: ID!) { board(id: $id) { name tasks { totalCount } } }";
    for _ in 0..2 {
        ada_on_one.client.ok(query, json!({"id": board})).await;
    }
    assert!(
        one.cache_count("board", "hit").await >= 1,
        "replica one reads from the cache"
    );
    ada_on_two
        .client
        .ok(
            "mutation($b: ID!) { updateBoard(id: $b, input: {name: \"Two\"}) { id } }",
            json!({"b": board}),
        )
        .await;
    create_task(&ada_on_two, &board, "T", "TODO").await;
    let seen = ada_on_one.client.ok(query, json!({"id": board})).await;
    assert_eq!(
        seen["board"],
        json!({"name": "Two", "tasks": {"totalCount": 1}})
    );
    one.stop().await;
    two.stop().await;
}
