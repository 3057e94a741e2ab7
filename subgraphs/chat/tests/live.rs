//! `messageAdded` over graphql-transport-ws: members only, storage order, no gaps, across
//! replicas.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chat::model::{MessageDoc, RoomDoc};
use common::*;
use futures::{SinkExt, StreamExt};
use kit::store::{Filter, Update};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn error_code(message: &Value) -> Option<&str> {
    message["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or(message["payload"][0]["extensions"]["code"].as_str())
}

async fn next_message(socket: &mut Socket) -> Value {
    let next = next_json(socket).await.expect("a message");
    assert_eq!(next["type"], "next", "{next}");
    assert!(next["payload"]["errors"].is_null(), "{next}");
    next["payload"]["data"]["messageAdded"].clone()
}

#[tokio::test]
async fn only_members_subscribe_and_they_get_new_messages_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &["bob"]).await;
    send(&ada, &room, "before anyone listened").await;

    for (token, room_id, expected) in [
        (None, room.as_str(), "UNAUTHENTICATED"),
        (Some(tokens.token("eve")), room.as_str(), "FORBIDDEN"),
        (Some(tokens.token("ada")), "no-such-room", "NOT_FOUND"),
    ] {
        let mut socket = ws_connect(&server.base, token.as_deref()).await;
        subscribe(&mut socket, "x", room_id).await;
        let refused = next_json(&mut socket).await.expect("refusal");
        assert_eq!(error_code(&refused), Some(expected), "{refused}");
    }

    let mut socket = ws_connect(&server.base, Some(&tokens.token("bob"))).await;
    subscribe(&mut socket, "1", &room).await;
    wait_subscribed(&server, &room, 1).await;
    for i in 0..20 {
        send(&ada, &room, &format!("live {i}")).await;
    }
    for i in 0..20 {
        let message = next_message(&mut socket).await;
        assert_eq!(message["body"], format!("live {i}"));
        assert_eq!(
            message["seq"],
            i + 2,
            "the first message was stored before subscribing"
        );
    }
    // Completing the operation stops the follower on the server.
    let complete = serde_json::json!({"id": "1", "type": "complete"}).to_string();
    socket.send(WsMessage::text(complete)).await.expect("send");
    eventually("follower stopped", || async {
        server.chat.service.live_subscriptions(&room) == 0
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_subscriber_waits_for_a_missing_sequence_number_and_skips_it_only_after_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &[]).await;
    let mut socket = ws_connect(&server.base, Some(&tokens.token("ada"))).await;
    subscribe(&mut socket, "1", &room).await;
    wait_subscribed(&server, &room, 1).await;

    // A sender on another replica allocated seq 1 and is still storing it.
    let rooms = server.chat.infra.store.collection::<RoomDoc>("rooms");
    let messages = server.chat.infra.store.collection::<MessageDoc>("messages");
    let allocate = || async {
        rooms
            .update_one(
                &Filter::eq("id", room.as_str()),
                &Update::new().inc("lastSeq", 1),
            )
            .await
            .expect("allocate")
            .expect("room")
            .last_seq
    };
    let slow_seq = allocate().await;
    assert_eq!(send(&ada, &room, "second").await["seq"], slow_seq + 1);
    assert!(
        silent_for(&mut socket, Duration::from_millis(700)).await,
        "delivered a message before the one stored ahead of it"
    );
    let slow = MessageDoc {
        id: kit::store::new_id(),
        room_id: room.clone(),
        seq: slow_seq,
        author_id: "ada".into(),
        body: "first".into(),
        mention_ids: vec![],
        deleted: false,
        created_at: kit::store::now_millis(),
        edited_at: None,
    };
    messages.insert(&slow).await.expect("insert");
    assert_eq!(next_message(&mut socket).await["body"], "first");
    assert_eq!(next_message(&mut socket).await["body"], "second");

    // A sender that died (or stalled) after allocating: its number is skipped, after the
    // timeout only, and claimed by a tombstone so a late insert under it fails.
    let lost_seq = allocate().await;
    let started = Instant::now();
    send(&ada, &room, "after a lost one").await;
    assert_eq!(next_message(&mut socket).await["body"], "after a lost one");
    let waited = started.elapsed();
    assert!(waited >= chat::live::GAP_TIMEOUT, "{waited:?}");
    let late = MessageDoc {
        id: kit::store::new_id(),
        seq: lost_seq,
        ..slow
    };
    let refused = messages
        .insert(&late)
        .await
        .expect_err("the number was given up");
    assert!(refused.is_duplicate(), "{refused}");
    let history: Vec<Value> = full_history(&ada, &room, 10).await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().expect("body"))
        .collect();
    assert_eq!(bodies, ["first", "second", "after a lost one"]);
    server.stop().await;
}

#[tokio::test]
async fn a_send_whose_number_was_given_up_takes_the_next_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &[]).await;
    let mut socket = ws_connect(&server.base, Some(&tokens.token("ada"))).await;
    subscribe(&mut socket, "1", &room).await;
    wait_subscribed(&server, &room, 1).await;

    // A subscriber gave up on seq 1 (tombstone) before its slow sender stored it.
    let messages = server.chat.infra.store.collection::<MessageDoc>("messages");
    let tombstone = MessageDoc {
        id: kit::store::new_id(),
        room_id: room.clone(),
        seq: 1,
        author_id: String::new(),
        body: String::new(),
        mention_ids: vec![],
        deleted: true,
        created_at: kit::store::now_millis(),
        edited_at: None,
    };
    messages.insert(&tombstone).await.expect("insert");
    let started = Instant::now();
    let sent = send(&ada, &room, "re-sequenced").await;
    assert_eq!(sent["seq"], 2);
    let delivered = next_message(&mut socket).await;
    assert_eq!(delivered["id"], sent["id"]);
    assert!(
        started.elapsed() < chat::live::GAP_TIMEOUT,
        "waited for a tombstoned number"
    );
    let history = full_history(&ada, &room, 10).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["id"], sent["id"]);
    server.stop().await;
}

/// Two chat servers on one data directory and one Redis, as two replicas behind a balancer.
#[tokio::test]
async fn a_thousand_concurrent_messages_from_two_replicas_arrive_in_history_order() {
    let Some(redis) = kit::testing::require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: kit::testing::unique_prefix("chat_order"),
        ..Default::default()
    };
    let a = Server::with_config(config.clone(), &tokens).await;
    let b = Server::with_config(config, &tokens).await;
    let (ada, bob) = (a.as_user(&tokens, "ada"), b.as_user(&tokens, "bob"));
    let room = create_room(&ada, "Busy", &["bob"]).await;

    let mut sockets = Vec::new();
    for base in [&a.base, &b.base] {
        let mut socket = ws_connect(base, Some(&tokens.token("ada"))).await;
        subscribe(&mut socket, "1", &room).await;
        sockets.push(socket);
    }
    wait_subscribed(&a, &room, 1).await;
    wait_subscribed(&b, &room, 1).await;
    send(&ada, &room, "warm-up").await;
    for socket in &mut sockets {
        assert_eq!(next_message(socket).await["body"], "warm-up");
    }

    let sends = (0..1000).map(|i| {
        let (client, who) = if i % 2 == 0 {
            (ada.clone(), "a")
        } else {
            (bob.clone(), "b")
        };
        let room = room.clone();
        async move { send(&client, &room, &format!("{who}{i}")).await["id"].clone() }
    });
    let sent: HashSet<Value> = futures::stream::iter(sends)
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(sent.len(), 1000);

    let history = full_history(&ada, &room, 200).await;
    let history_ids: Vec<Value> = history.iter().skip(1).map(|m| m["id"].clone()).collect();
    assert_eq!(history_ids.len(), 1000);
    assert_eq!(history_ids.iter().cloned().collect::<HashSet<_>>(), sent);
    let seqs: Vec<i64> = history
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=1001).collect::<Vec<_>>(),
        "history is gap-free and ordered"
    );

    for (replica, socket) in sockets.iter_mut().enumerate() {
        let mut seen = Vec::with_capacity(1000);
        while seen.len() < 1000 {
            seen.push(next_message(socket).await["id"].clone());
        }
        assert_eq!(
            seen, history_ids,
            "subscriber on replica {replica} saw another order"
        );
    }
    a.stop().await;
    b.stop().await;
}
