//! Federation entities: N representations are one batched store query per collection, and
//! entity resolution applies the same membership rules as queries.

mod common;

use common::{add_member, code, create_board, create_task, Server};
use serde_json::{json, Value};

const ENTITIES: &str = "query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Board { id name owner { __typename id } } ... on Task { id title board { id } } ... on User { id } } }";

fn reps(typename: &str, ids: &[&str]) -> Value {
    json!({"r": ids.iter().map(|id| json!({"__typename": typename, "id": id})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn board_representations_are_loaded_in_one_store_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(create_board(&ada, &format!("B{i}")).await);
    }
    let mut wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
    wanted.push("0190f0a0-0000-7000-8000-000000000000");
    let before = server.store_calls("find");
    let data = ada.client.ok(ENTITIES, reps("Board", &wanted)).await;
    assert_eq!(
        server.store_calls("find") - before,
        1,
        "one query for four representations"
    );
    let entities = data["_entities"].as_array().expect("list");
    assert_eq!(entities.len(), 4);
    assert_eq!(
        entities[1],
        json!({"__typename": "Board", "id": ids[1], "name": "B1", "owner": {"__typename": "User", "id": ada.id}})
    );
    assert_eq!(entities[3], Value::Null, "unknown board");
    server.stop().await;
}

#[tokio::test]
async fn task_representations_need_one_query_for_tasks_and_one_for_their_boards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let (b1, b2) = (
        create_board(&ada, "B1").await,
        create_board(&ada, "B2").await,
    );
    let mut tasks = Vec::new();
    for (i, board) in [&b1, &b1, &b2, &b2, &b2].iter().enumerate() {
        tasks.push(create_task(&ada, board, &format!("t{i}"), "TODO").await);
    }
    let wanted: Vec<&str> = tasks.iter().map(String::as_str).collect();
    let before = server.store_calls("find");
    let data = ada.client.ok(ENTITIES, reps("Task", &wanted)).await;
    assert_eq!(
        server.store_calls("find") - before,
        2,
        "tasks + boards, batched"
    );
    assert_eq!(data["_entities"][4]["title"], "t4");
    assert_eq!(data["_entities"][4]["board"]["id"], b2);
    server.stop().await;
}

#[tokio::test]
async fn user_representations_need_no_store_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let before = server.store_calls("find");
    let data = ada.client.ok(ENTITIES, reps("User", &["u1", "u2"])).await;
    assert_eq!(server.store_calls("find"), before);
    assert_eq!(
        data["_entities"],
        json!([{"__typename": "User", "id": "u1"}, {"__typename": "User", "id": "u2"}])
    );
    server.stop().await;
}

#[tokio::test]
async fn entities_of_boards_the_caller_is_not_on_are_null_with_forbidden() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let mine = create_board(&ada, "Ada's").await;
    let shared = create_board(&ada, "Shared").await;
    add_member(&ada, &shared, &bob.id).await;
    let task = create_task(&ada, &mine, "secret", "TODO").await;

    let body = bob
        .client
        .post(ENTITIES, reps("Board", &[&shared, &mine]))
        .await;
    assert_eq!(body["data"]["_entities"][0]["name"], "Shared");
    assert_eq!(body["data"]["_entities"][1], Value::Null);
    assert_eq!(code(&body), "FORBIDDEN");
    let body = bob.client.post(ENTITIES, reps("Task", &[&task])).await;
    assert_eq!(
        (body["data"]["_entities"][0].clone(), code(&body)),
        (Value::Null, "FORBIDDEN")
    );
    let body = server
        .client
        .post(ENTITIES, reps("Board", &[&shared]))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    server.stop().await;
}
