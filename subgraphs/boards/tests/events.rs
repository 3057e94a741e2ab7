//! Live task events (`taskChanged` over graphql-transport-ws) and durable domain events.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{
    add_member, create_board, create_task, next_json, subscribe_tasks, Server, CREATE_TASK,
};
use kit::events::DomainEvent;
use serde_json::{json, Value};

/// Every event appended to the "boards" stream so far, read through a fresh consumer group.
async fn domain_events(server: &Server) -> Vec<DomainEvent> {
    let group = format!("test-{}", uuid::Uuid::new_v4().simple());
    server
        .events
        .ensure_group("boards", &group)
        .await
        .expect("group");
    let deliveries = server
        .events
        .read_new("boards", &group, "reader", 1000, Duration::ZERO)
        .await
        .expect("read");
    deliveries.into_iter().map(|d| d.event).collect()
}

/// The payload of the next `next` message of subscription `id`.
async fn next_event(socket: &mut common::Socket, id: &str) -> Value {
    let message = next_json(socket).await.expect("socket open");
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["taskChanged"].clone()
}

const UPDATE: &str = "mutation($id: ID!) { updateTask(id: $id, input: {title: \"T2\"}) { id } }";
const ASSIGN: &str = "mutation($id: ID!, $u: ID) { assignTask(id: $id, userId: $u) { id } }";
const DELETE: &str = "mutation($id: ID!) { deleteTask(id: $id) }";

/// A board of Ada's with Bob as a member, and Ada's socket subscribed to it as "1".
async fn subscribed_board(
    server: &Server,
) -> (common::Actor, common::Actor, String, common::Socket) {
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    add_member(&ada, &board, &bob.id).await;
    let mut socket = server.ws(Some(&ada.id)).await;
    subscribe_tasks(&mut socket, "1", &board).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    (ada, bob, board, socket)
}

#[tokio::test]
async fn a_created_task_is_published_after_it_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob, board, mut socket) = subscribed_board(&server).await;
    let (create, input) = (
        bob.client.clone(),
        json!({"i": {"boardId": board, "title": "T"}}),
    );
    // The event is read while the mutation may still be in flight: the task must already be
    // readable when its event arrives.
    let creating = tokio::spawn(async move { create.ok(CREATE_TASK, input).await });
    let created = next_event(&mut socket, "1").await;
    let task = created["taskId"].as_str().expect("task id").to_owned();
    let stored = ada
        .client
        .ok(
            "query($id: ID!) { task(id: $id) { title } }",
            json!({"id": task}),
        )
        .await;
    assert_eq!(
        stored["task"]["title"], "T",
        "published only after the write is stored"
    );
    creating.await.expect("create");
    assert_eq!(created["kind"], "CREATED");
    assert_eq!(created["boardId"], json!(board));
    assert_eq!(created["actor"], json!({"id": bob.id}), "a User reference");
    assert_eq!(created["task"]["title"], "T");
    assert!(created["at"]
        .as_str()
        .is_some_and(|at| at.starts_with("20")));
    server.stop().await;
}

#[tokio::test]
async fn updates_moves_assignments_and_deletes_reach_subscribed_members() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob, board, mut socket) = subscribed_board(&server).await;
    let task = create_task(&bob, &board, "T", "TODO").await;
    assert_eq!(next_event(&mut socket, "1").await["kind"], "CREATED");

    bob.client.ok(UPDATE, json!({"id": task})).await;
    let updated = next_event(&mut socket, "1").await;
    assert_eq!(
        (updated["kind"].clone(), updated["task"]["title"].clone()),
        (json!("UPDATED"), json!("T2"))
    );
    common::move_task(&bob, &task, "DONE", None).await;
    let moved = next_event(&mut socket, "1").await;
    assert_eq!(
        (moved["kind"].clone(), moved["task"]["status"].clone()),
        (json!("MOVED"), json!("DONE"))
    );
    bob.client
        .ok(ASSIGN, json!({"id": task, "u": ada.id}))
        .await;
    let assigned = next_event(&mut socket, "1").await;
    let assignee = assigned["task"]["assignee"]["id"].clone();
    assert_eq!(
        (assigned["kind"].clone(), assignee),
        (json!("ASSIGNED"), json!(ada.id))
    );
    bob.client.ok(DELETE, json!({"id": task})).await;
    let deleted = next_event(&mut socket, "1").await;
    assert_eq!(
        (deleted["kind"].clone(), deleted["task"].clone()),
        (json!("DELETED"), Value::Null)
    );
    assert_eq!(deleted["taskId"], json!(task));
    server.stop().await;
}

/// A refused subscription: one result with the error (async-graphql reports resolver errors
/// as an execution result, as for queries), then `complete`. Returns the error code.
async fn refusal(socket: &mut common::Socket) -> String {
    let message = next_json(socket).await.expect("reply");
    assert_eq!(
        (message["type"].clone(), message["payload"]["data"].clone()),
        (json!("next"), Value::Null),
        "{message}"
    );
    let code = message["payload"]["errors"][0]["extensions"]["code"].clone();
    let complete = next_json(socket).await.expect("complete");
    assert_eq!(complete["type"], "complete", "{complete}");
    code.as_str().unwrap_or("<none>").to_owned()
}

#[tokio::test]
async fn non_members_and_anonymous_callers_cannot_subscribe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, stranger) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    for (user, expected) in [
        (Some(stranger.id.as_str()), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let mut socket = server.ws(user).await;
        subscribe_tasks(&mut socket, "s", &board).await;
        assert_eq!(refusal(&mut socket).await, expected);
    }
    let mut socket = server.ws(Some(&ada.id)).await;
    subscribe_tasks(&mut socket, "s", "no-such-board").await;
    assert_eq!(refusal(&mut socket).await, "NOT_FOUND");
    server.stop().await;
}

#[tokio::test]
async fn a_removed_member_stops_receiving_and_others_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "B").await;
    add_member(&ada, &board, &bob.id).await;
    let mut ada_socket = server.ws(Some(&ada.id)).await;
    let mut bob_socket = server.ws(Some(&bob.id)).await;
    subscribe_tasks(&mut ada_socket, "a", &board).await;
    subscribe_tasks(&mut bob_socket, "b", &board).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let remove = "mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { id } }";
    ada.client
        .ok(remove, json!({"b": board, "u": bob.id}))
        .await;
    let ended = next_json(&mut bob_socket).await.expect("complete");
    assert_eq!(
        (ended["type"].clone(), ended["id"].clone()),
        (json!("complete"), json!("b"))
    );
    create_task(&ada, &board, "after", "TODO").await;
    assert_eq!(
        next_event(&mut ada_socket, "a").await["task"]["title"],
        "after"
    );
    let nothing =
        tokio::time::timeout(Duration::from_millis(300), next_json(&mut bob_socket)).await;
    assert!(nothing.is_err(), "removed member got {nothing:?}");
    server.stop().await;
}

#[tokio::test]
async fn domain_events_describe_boards_members_and_assignments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let (ada, bob) = (server.user(), server.user());
    let board = create_board(&ada, "Roadmap").await;
    add_member(&ada, &board, &bob.id).await;
    let input = json!({"boardId": board, "title": "Ship", "assigneeId": bob.id});
    let task = ada.client.ok(CREATE_TASK, json!({"i": input})).await["createTask"]["id"].clone();
    for _ in 0..2 {
        bob.client
            .ok(ASSIGN, json!({"id": task, "u": ada.id}))
            .await;
    }
    let rename = "mutation($id: ID!) { updateBoard(id: $id, input: {name: \" Plan \"}) { id } }";
    ada.client.ok(rename, json!({"id": board})).await;
    let remove = "mutation($b: ID!, $u: ID!) { removeBoardMember(boardId: $b, userId: $u) { id } }";
    ada.client
        .ok(remove, json!({"b": board, "u": bob.id}))
        .await;
    let delete_board = "mutation($id: ID!) { deleteBoard(id: $id) }";
    ada.client.ok(delete_board, json!({"id": board})).await;

    let events = domain_events(&server).await;
    let summary: Vec<(&str, &str, &Value)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str(), &e.payload))
        .collect();
    let expected = [
        (
            "BoardCreated",
            ada.id.as_str(),
            json!({"boardId": board, "name": "Roadmap", "ownerId": ada.id}),
        ),
        (
            "BoardMemberAdded",
            ada.id.as_str(),
            json!({"boardId": board, "userId": bob.id, "role": "MEMBER"}),
        ),
        (
            "TaskAssigned",
            ada.id.as_str(),
            json!({"boardId": board, "taskId": task, "taskTitle": "Ship", "assigneeId": bob.id}),
        ),
        (
            "TaskAssigned",
            bob.id.as_str(),
            json!({"boardId": board, "taskId": task, "taskTitle": "Ship", "assigneeId": ada.id}),
        ),
        (
            "BoardUpdated",
            ada.id.as_str(),
            json!({"boardId": board, "name": "Plan"}),
        ),
        (
            "BoardMemberRemoved",
            ada.id.as_str(),
            json!({"boardId": board, "userId": bob.id}),
        ),
        (
            "BoardDeleted",
            ada.id.as_str(),
            json!({"boardId": board, "memberIds": [ada.id]}),
        ),
    ];
    let expected: Vec<(&str, &str, &Value)> =
        expected.iter().map(|(k, a, p)| (*k, *a, p)).collect();
    assert_eq!(
        summary, expected,
        "re-assigning to the same user emits nothing"
    );
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "unique ids");
    let now = chrono::Utc::now();
    assert!(
        events.iter().all(|e| (now - e.at).num_seconds() < 60),
        "stamped now"
    );
    server.stop().await;
}
