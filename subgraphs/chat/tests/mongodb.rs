//! The chat flows on the MongoDB backend. They need `MONGODB_URL` (MongoDB 6/7): without it
//! they are reported as ignored, by name, never as passed; the test command runs them with
//! `--ignored` when the variable is set. The embedded backend runs the same flows in the other
//! test files.

mod common;

use std::collections::HashSet;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

async fn mongo_server(dir: &std::path::Path, tokens: &Tokens, test: &str) -> Server {
    let url = std::env::var("MONGODB_URL").expect("MONGODB_URL names a MongoDB 6/7 server");
    let config = kit::config::ServiceConfig {
        data_dir: dir.to_owned(),
        mongodb_url: Some(url),
        mongodb_database: format!("chat_{test}_{}", uuid::Uuid::new_v4().simple()),
        ..Default::default()
    };
    let server = Server::with_config(config, tokens).await;
    assert_eq!(server.chat.infra.store.backend_name(), "mongodb");
    server
}

#[tokio::test]
#[ignore = "needs MONGODB_URL (MongoDB 6/7); the test command runs these with --ignored when it is set"]
async fn rooms_messages_and_history_on_mongodb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = mongo_server(dir.path(), &tokens, "history").await;
    let (ada, eve) = (
        server.as_user(&tokens, "ada"),
        server.as_user(&tokens, "eve"),
    );
    let room = create_room(&ada, "Room", &["bob"]).await;
    assert_eq!(
        code(&eve.post(ROOM, json!({"id": room})).await),
        "FORBIDDEN"
    );
    let sends = (0..100).map(|i| {
        let (ada, room) = (ada.clone(), room.clone());
        async move { send(&ada, &room, &format!("m{i} @bob")).await["id"].clone() }
    });
    let sent: HashSet<Value> = futures::stream::iter(sends)
        .buffer_unordered(16)
        .collect()
        .await;
    let history = full_history(&ada, &room, 30).await;
    let seqs: Vec<i64> = history
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    assert_eq!(
        history
            .iter()
            .map(|m| m["id"].clone())
            .collect::<HashSet<_>>(),
        sent
    );
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs MONGODB_URL (MongoDB 6/7); the test command runs these with --ignored when it is set"]
async fn board_events_apply_once_on_mongodb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = mongo_server(dir.path(), &tokens, "boards").await;
    let service = &server.chat.service;
    let event = |kind: &str, payload: Value| kit::events::DomainEvent::new(kind, "t", payload);
    let created = event(
        "BoardCreated",
        json!({"boardId": "b", "name": "B", "ownerId": "ada"}),
    );
    let add = event(
        "BoardMemberAdded",
        json!({"boardId": "b", "userId": "bob", "role": "MEMBER"}),
    );
    let remove = event(
        "BoardMemberRemoved",
        json!({"boardId": "b", "userId": "bob"}),
    );
    assert!(service.apply_board_event(&created).await.expect("created"));
    assert!(service
        .apply_board_event(&remove)
        .await
        .expect("remove first"));
    assert!(!service.apply_board_event(&add).await.expect("older add"));
    assert!(!service
        .apply_board_event(&created)
        .await
        .expect("redelivered"));
    let room = service.room("board-b").await.expect("get").expect("room");
    assert_eq!(room.member_ids, ["ada"]);
    server.stop().await;
}
