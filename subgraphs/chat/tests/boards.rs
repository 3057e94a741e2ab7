//! Board rooms follow the boards subgraph's domain events: created, joined, left, deleted;
//! idempotent under redelivery, out-of-order delivery and restarts.

mod common;

use std::time::Duration;

use common::*;
use kit::events::DomainEvent;
use kit::test_client::GqlClient;
use serde_json::{json, Value};

const BOARD_ROOM: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Board { id chatRoom { id name members { id } board { id } } } } }";

async fn board_room(client: &GqlClient, board: &str) -> Value {
    client
        .post(
            BOARD_ROOM,
            json!({"r": [{"__typename": "Board", "id": board}]}),
        )
        .await
}

async fn members(client: &GqlClient, board: &str) -> Option<Vec<String>> {
    let body = board_room(client, board).await;
    let list = body["data"]["_entities"][0]["chatRoom"]["members"]
        .as_array()?
        .clone();
    Some(
        list.iter()
            .map(|m| m["id"].as_str().expect("id").to_owned())
            .collect(),
    )
}

async fn can_read(client: &GqlClient, room: &str) -> bool {
    client.post(ROOM, json!({"id": room})).await["data"]["chatRoom"].is_object()
}

/// Appends a marker event and waits until it is applied: everything before it was handled.
async fn flush(server: &Server, owner: &GqlClient, board: &str, marker_user: &str) {
    server
        .board_event(
            "BoardMemberAdded",
            json!({"boardId": board, "userId": marker_user, "role": "MEMBER"}),
        )
        .await;
    let marker = marker_user.to_owned();
    eventually("marker event applied", || {
        let owner = owner.clone();
        let marker = marker.clone();
        async move {
            members(&owner, board)
                .await
                .is_some_and(|m| m.contains(&marker))
        }
    })
    .await;
}

#[tokio::test]
async fn board_rooms_follow_membership_events_and_removal_ends_subscriptions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let (ada, bob) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "bob"),
    );
    let room = "board-b1";
    let task = json!({"boardId": "b1", "taskId": "t", "assigneeId": "bob"});
    server.board_event("TaskAssigned", task).await;
    board_created(&server, "b1", "Apollo", "ada").await;
    eventually("board room created", || async {
        members(&ada, "b1").await.is_some()
    })
    .await;
    let body = board_room(&ada, "b1").await;
    assert_eq!(
        body["data"]["_entities"][0]["chatRoom"],
        json!({"id": room, "name": "Apollo", "members": [{"id": "ada"}], "board": {"id": "b1"}})
    );
    assert_eq!(code(&board_room(&bob, "b1").await), "FORBIDDEN");
    assert_eq!(
        code(&board_room(&server.client, "b1").await),
        "UNAUTHENTICATED"
    );

    board_member(&server, "b1", "bob", true).await;
    eventually("bob joins", || async { can_read(&bob, room).await }).await;
    assert_eq!(members(&ada, "b1").await.expect("members"), ["ada", "bob"]);
    let mine = bob.ok("{ myChatRooms { id } }", json!({})).await;
    assert_eq!(mine["myChatRooms"], json!([{"id": room}]));

    let mut socket = ws_connect(&server.base, Some(&tokens.token("bob"))).await;
    subscribe(&mut socket, "1", room).await;
    wait_subscribed(&server, room, 1).await;
    send(&ada, room, "welcome @bob").await;
    let next = next_json(&mut socket).await.expect("message");
    let added = &next["payload"]["data"]["messageAdded"];
    assert_eq!(added["body"], "welcome @bob", "{next}");
    assert_eq!(added["mentions"], json!([{"id": "bob"}]));

    board_member(&server, "b1", "bob", false).await;
    expect_forbidden_end(&mut socket, "1").await;
    assert!(!can_read(&bob, room).await);
    let refused = bob.post(SEND, json!({"r": room, "b": "still here?"})).await;
    assert_eq!(code(&refused), "FORBIDDEN");
    send(&ada, room, "after bob left").await;
    assert!(silent_for(&mut socket, Duration::from_millis(500)).await);
    assert_eq!(server.chat.service.live_subscriptions(room), 0);
    server.stop().await;
}

#[tokio::test]
async fn redelivered_events_change_nothing_and_deletion_closes_the_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let (ada, bob) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "bob"),
    );
    let room = "board-b4";
    let created = board_created(&server, "b4", "Apollo", "ada").await;
    let added = board_member(&server, "b4", "bob", true).await;
    board_member(&server, "b4", "bob", false).await;
    flush(&server, &ada, "b4", "carol").await;
    send(&ada, room, "kept").await;

    // A redelivered add (older than the removal) and creation change nothing.
    server.append(&added).await;
    server.append(&created).await;
    flush(&server, &ada, "b4", "dan").await;
    assert!(
        !can_read(&bob, room).await,
        "redelivered BoardMemberAdded re-added bob"
    );
    assert_eq!(
        members(&ada, "b4").await.expect("members"),
        ["ada", "carol", "dan"]
    );
    assert_eq!(full_history(&ada, room, 10).await.len(), 1);

    let deleted = json!({"boardId": "b4", "memberIds": ["ada", "carol", "dan"]});
    server.board_event("BoardDeleted", deleted).await;
    eventually("room gone", || async { !can_read(&ada, room).await }).await;
    assert_eq!(code(&board_room(&ada, "b4").await), "NOT_FOUND");
    let mine = ada.ok("{ myChatRooms { id } }", json!({})).await;
    assert_eq!(mine["myChatRooms"], json!([]));
    let refused = ada.post(SEND, json!({"r": room, "b": "anyone?"})).await;
    assert_eq!(code(&refused), "NOT_FOUND");
    server.stop().await;
}

fn event(kind: &str, payload: Value) -> DomainEvent {
    DomainEvent::new(kind, "boards-test", payload)
}

fn member_event(board: &str, user: &str, add: bool) -> DomainEvent {
    match add {
        true => event(
            "BoardMemberAdded",
            json!({"boardId": board, "userId": user, "role": "MEMBER"}),
        ),
        false => event(
            "BoardMemberRemoved",
            json!({"boardId": board, "userId": user}),
        ),
    }
}

/// A chat without its app, so without consumers: events are applied only by the test, in the
/// order it chooses.
async fn consumerless(dir: &std::path::Path, tokens: &Tokens) -> chat::Chat {
    let config = kit::config::ServiceConfig {
        data_dir: dir.to_owned(),
        ..Default::default()
    };
    chat::Chat::start(&config, tokens.verifier())
        .await
        .expect("start")
}

/// Applies `event` directly; true when the room changed.
async fn apply(chat: &chat::Chat, event: &DomainEvent) -> bool {
    chat.service
        .apply_board_event(event)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e}", event.kind))
}

#[tokio::test]
async fn each_event_applies_once_whatever_the_redelivery_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let chat = consumerless(dir.path(), &tokens).await;
    let payload = json!({"boardId": "b2", "name": "Gemini", "ownerId": "ada"});
    let created = event("BoardCreated", payload);
    let add_bob = member_event("b2", "bob", true);
    let remove_bob = member_event("b2", "bob", false);
    let remove_ada = member_event("b2", "ada", false);
    let add_carol = member_event("b2", "carol", true);

    let early = chat.service.apply_board_event(&add_bob).await;
    assert!(early.is_err(), "room does not exist yet: retried later");
    assert!(apply(&chat, &created).await);
    assert!(!apply(&chat, &created).await);
    // A later event applied before an earlier one (two replicas consuming): the later wins.
    assert!(apply(&chat, &remove_bob).await);
    assert!(!apply(&chat, &add_bob).await, "older add");
    assert!(apply(&chat, &add_carol).await);
    assert!(apply(&chat, &remove_ada).await);
    for redelivered in [&created, &add_bob, &remove_bob, &add_carol, &remove_ada] {
        assert!(!apply(&chat, redelivered).await, "{}", redelivered.kind);
    }
    let room = chat
        .service
        .room("board-b2")
        .await
        .expect("get")
        .expect("room");
    assert_eq!(room.member_ids, ["carol"]);
    assert_eq!(room.name, "Gemini");
}

#[tokio::test]
async fn a_renamed_board_renames_its_room_and_an_older_name_never_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let chat = consumerless(dir.path(), &tokens).await;
    let payload = json!({"boardId": "b6", "name": "Apollo", "ownerId": "ada"});
    let created = event("BoardCreated", payload);
    let older = event("BoardUpdated", json!({"boardId": "b6", "name": "Apollo 1"}));
    let newer = event(
        "BoardUpdated",
        json!({"boardId": "b6", "name": "Apollo 11"}),
    );
    assert!(apply(&chat, &created).await);
    assert!(apply(&chat, &newer).await);
    assert!(!apply(&chat, &older).await, "an older rename arriving late");
    assert!(!apply(&chat, &newer).await, "redelivered");
    assert!(
        !apply(&chat, &created).await,
        "creation again keeps the new name"
    );
    let room = chat
        .service
        .room("board-b6")
        .await
        .expect("get")
        .expect("room");
    assert_eq!(room.name, "Apollo 11");
    assert_eq!(room.member_ids, ["ada"]);
}

#[tokio::test]
async fn deletion_is_final_and_other_kinds_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let chat = consumerless(dir.path(), &tokens).await;
    let payload = json!({"boardId": "b5", "name": "Vostok", "ownerId": "ada"});
    let created = event("BoardCreated", payload);
    assert!(apply(&chat, &created).await);
    let deleted = event(
        "BoardDeleted",
        json!({"boardId": "b5", "memberIds": ["ada"]}),
    );
    assert!(apply(&chat, &deleted).await);
    assert!(!apply(&chat, &deleted).await);
    assert!(
        !apply(&chat, &member_event("b5", "dan", true)).await,
        "after delete"
    );
    assert!(!apply(&chat, &created).await, "created after delete");
    let room = chat
        .service
        .room("board-b5")
        .await
        .expect("get")
        .expect("room");
    assert!(room.deleted && room.member_ids.is_empty());

    let ignored = event("TaskAssigned", json!({"boardId": "b5"}));
    assert!(!apply(&chat, &ignored).await);
    let malformed = event("BoardMemberAdded", json!({"boardId": "b5"}));
    assert!(chat.service.apply_board_event(&malformed).await.is_err());
}

#[tokio::test]
async fn a_restart_resumes_the_stream_without_applying_anything_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    server
        .board_event(
            "BoardCreated",
            json!({"boardId": "b3", "name": "Mercury", "ownerId": "ada"}),
        )
        .await;
    server
        .board_event(
            "BoardMemberAdded",
            json!({"boardId": "b3", "userId": "bob", "role": "MEMBER"}),
        )
        .await;
    server
        .board_event(
            "BoardMemberRemoved",
            json!({"boardId": "b3", "userId": "bob"}),
        )
        .await;
    flush(&server, &ada, "b3", "carol").await;
    send(&ada, "board-b3", "before restart").await;
    let before = server
        .chat
        .service
        .room("board-b3")
        .await
        .expect("get")
        .expect("room");
    server.stop().await;

    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    flush(&server, &ada, "b3", "dan").await;
    let after = server
        .chat
        .service
        .room("board-b3")
        .await
        .expect("get")
        .expect("room");
    assert_eq!(after.member_ids, ["ada", "carol", "dan"]);
    assert_eq!(
        after.rev,
        before.rev + 1,
        "only the new event changed the room"
    );
    assert_eq!(after.last_seq, before.last_seq);
    let history = full_history(&ada, "board-b3", 10).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["body"], "before restart");
    server.stop().await;
}

#[tokio::test]
async fn board_chat_rooms_of_many_boards_load_in_one_store_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    for i in 0..3 {
        board_created(&server, &format!("m{i}"), &format!("Board {i}"), "ada").await;
    }
    eventually("rooms created", || async {
        members(&ada, "m2").await.is_some()
    })
    .await;
    let reps: Vec<Value> = ["m0", "m1", "m2", "unknown"]
        .iter()
        .map(|id| json!({"__typename": "Board", "id": id}))
        .collect();
    let before = store_calls(&server.metrics, "find");
    let body = ada.post(BOARD_ROOM, json!({"r": reps})).await;
    assert_eq!(
        store_calls(&server.metrics, "find") - before,
        1,
        "one query for all rooms"
    );
    let entities = &body["data"]["_entities"];
    assert_eq!(entities[1]["chatRoom"]["name"], "Board 1", "{body}");
    assert_eq!(entities[2]["chatRoom"]["id"], "board-m2");
    assert!(entities[3]["chatRoom"].is_null(), "{body}");
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    server.stop().await;
}
