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

    server
        .board_event(
            "TaskAssigned",
            json!({"boardId": "b1", "taskId": "t", "assigneeId": "bob"}),
        )
        .await;
    server
        .board_event(
            "BoardCreated",
            json!({"boardId": "b1", "name": "Apollo", "ownerId": "ada"}),
        )
        .await;
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

    let added = server
        .board_event(
            "BoardMemberAdded",
            json!({"boardId": "b1", "userId": "bob", "role": "MEMBER"}),
        )
        .await;
    eventually("bob joins", || async { can_read(&bob, room).await }).await;
    assert_eq!(members(&ada, "b1").await.expect("members"), ["ada", "bob"]);
    let mine = bob.ok("{ myChatRooms { id } }", json!({})).await;
    assert_eq!(mine["myChatRooms"], json!([{"id": room}]));

    let mut socket = ws_connect(&server.base, Some(&tokens.token("bob"))).await;
    subscribe(&mut socket, "1", room).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&ada, room, "welcome @bob").await;
    let next = next_json(&mut socket).await.expect("message");
    assert_eq!(
        next["payload"]["data"]["messageAdded"]["body"], "welcome @bob",
        "{next}"
    );
    assert_eq!(
        next["payload"]["data"]["messageAdded"]["mentions"],
        json!([{"id": "bob"}])
    );

    server
        .board_event(
            "BoardMemberRemoved",
            json!({"boardId": "b1", "userId": "bob"}),
        )
        .await;
    let ended = next_json(&mut socket).await.expect("error or completion");
    assert_eq!(ended["id"], "1");
    let error_code = ended["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or(ended["payload"][0]["extensions"]["code"].as_str());
    assert_eq!(error_code, Some("FORBIDDEN"), "{ended}");
    if ended["type"] == "next" {
        let complete = next_json(&mut socket).await.expect("complete");
        assert_eq!(complete["type"], "complete", "{complete}");
    }
    assert!(!can_read(&bob, room).await);
    assert_eq!(
        code(&bob.post(SEND, json!({"r": room, "b": "still here?"})).await),
        "FORBIDDEN"
    );
    send(&ada, room, "after bob left").await;
    assert!(silent_for(&mut socket, Duration::from_millis(500)).await);

    // A redelivered add (older than the removal) changes nothing.
    server.append(&added).await;
    flush(&server, &ada, "b1", "carol").await;
    assert!(
        !can_read(&bob, room).await,
        "redelivered BoardMemberAdded re-added bob"
    );
    assert_eq!(
        members(&ada, "b1").await.expect("members"),
        ["ada", "carol"]
    );

    server
        .board_event(
            "BoardDeleted",
            json!({"boardId": "b1", "memberIds": ["ada", "carol"]}),
        )
        .await;
    eventually("room gone", || async { !can_read(&ada, room).await }).await;
    assert_eq!(code(&board_room(&ada, "b1").await), "NOT_FOUND");
    assert_eq!(
        ada.ok("{ myChatRooms { id } }", json!({})).await["myChatRooms"],
        json!([])
    );
    assert_eq!(
        code(&ada.post(SEND, json!({"r": room, "b": "anyone?"})).await),
        "NOT_FOUND"
    );
    server.stop().await;
}

fn event(kind: &str, payload: Value) -> DomainEvent {
    DomainEvent::new(kind, "boards-test", payload)
}

#[tokio::test]
async fn each_event_applies_once_whatever_the_redelivery_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        ..Default::default()
    };
    // No app, so no consumer: events are applied only by this test, in the order it chooses.
    let chat = chat::Chat::start(&config, tokens.verifier())
        .await
        .expect("start");
    let service = &chat.service;
    let created = event(
        "BoardCreated",
        json!({"boardId": "b2", "name": "Gemini", "ownerId": "ada"}),
    );
    let add_bob = event(
        "BoardMemberAdded",
        json!({"boardId": "b2", "userId": "bob", "role": "MEMBER"}),
    );
    let remove_bob = event(
        "BoardMemberRemoved",
        json!({"boardId": "b2", "userId": "bob"}),
    );
    let remove_ada = event(
        "BoardMemberRemoved",
        json!({"boardId": "b2", "userId": "ada"}),
    );
    let add_carol = event(
        "BoardMemberAdded",
        json!({"boardId": "b2", "userId": "carol", "role": "MEMBER"}),
    );

    assert!(
        service.apply_board_event(&add_bob).await.is_err(),
        "room does not exist yet: retried later"
    );
    assert!(service.apply_board_event(&created).await.expect("created"));
    assert!(!service.apply_board_event(&created).await.expect("again"));
    // A later event applied before an earlier one (two replicas consuming): the later wins.
    assert!(service
        .apply_board_event(&remove_bob)
        .await
        .expect("remove"));
    assert!(!service
        .apply_board_event(&add_bob)
        .await
        .expect("older add"));
    assert!(service.apply_board_event(&add_carol).await.expect("carol"));
    assert!(service
        .apply_board_event(&remove_ada)
        .await
        .expect("remove ada"));
    for redelivered in [&created, &add_bob, &remove_bob, &add_carol, &remove_ada] {
        assert!(
            !service
                .apply_board_event(redelivered)
                .await
                .expect("redelivery"),
            "{}",
            redelivered.kind
        );
    }
    let room = service.room("board-b2").await.expect("get").expect("room");
    assert_eq!(room.member_ids, ["carol"]);
    assert_eq!(room.name, "Gemini");

    let deleted = event(
        "BoardDeleted",
        json!({"boardId": "b2", "memberIds": ["carol"]}),
    );
    assert!(service.apply_board_event(&deleted).await.expect("deleted"));
    let late = event(
        "BoardMemberAdded",
        json!({"boardId": "b2", "userId": "dan", "role": "MEMBER"}),
    );
    assert!(!service
        .apply_board_event(&late)
        .await
        .expect("after delete"));
    assert!(!service
        .apply_board_event(&created)
        .await
        .expect("created after delete"));
    let room = service.room("board-b2").await.expect("get").expect("room");
    assert!(room.deleted && room.member_ids.is_empty());
    let ignored = event("TaskAssigned", json!({"boardId": "b2"}));
    assert!(!service
        .apply_board_event(&ignored)
        .await
        .expect("ignored kind"));
    let malformed = event("BoardMemberAdded", json!({"boardId": "b2"}));
    assert!(service.apply_board_event(&malformed).await.is_err());
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
