//! `MessagePosted` rides in the message document (`kit::outbox`): a healthy send appends it
//! once and clears it; a send while the stream is down stores the message with its event, and
//! the sweeper appends it once the stream is back. A message deleted before its event was sent
//! is never announced.

mod common;

use std::time::Duration;

use common::*;
use kit::events::Delivery;
use kit::store::now_millis;
use kit::testing::{require_redis, unique_prefix};
use serde_json::Value;

/// Far enough ahead that every stored event is due.
fn later() -> i64 {
    now_millis() + 3_600_000
}

async fn read_chat_events(chat: &chat::Chat) -> Vec<Delivery> {
    let events = &chat.infra.events;
    let group = format!("test-{}", uuid::Uuid::new_v4().simple());
    events.ensure_group("chat", &group).await.expect("group");
    events
        .read_new("chat", &group, "t", 100, Duration::from_millis(200))
        .await
        .expect("read")
}

/// The stored message with every field, the outbox's included.
async fn stored(chat: &chat::Chat, id: &str) -> Value {
    let messages = chat.infra.store.collection::<Value>("messages");
    messages.get(id).await.expect("get").expect("stored")
}

async fn start(config: kit::config::ServiceConfig, tokens: &Tokens) -> chat::Chat {
    // Not run: this test alone decides when to sweep.
    chat::Chat::start(&config, tokens.verifier())
        .await
        .expect("start")
}

/// A room of Ada's with Bob in it.
async fn ada_and_bobs_room(service: &chat::ChatService) -> String {
    let members = ["bob".to_owned()];
    let room = service.create_room("ada", "Room", &members).await;
    room.expect("room").id
}

#[tokio::test]
async fn a_healthy_send_posts_once_and_leaves_nothing_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        ..Default::default()
    };
    let chat = start(config, &tokens).await;
    let service = &chat.service;
    let room = ada_and_bobs_room(service).await;
    let sent = service.send("ada", &room, "hi @bob").await.expect("send");

    let message = stored(&chat, &sent.id).await;
    assert_eq!(message["outbox"], serde_json::json!([]), "{message}");
    assert!(message.get("outboxDueAt").is_none(), "{message}");
    assert_eq!(service.outbox().sweep(later()).await.expect("sweep"), 0);
    let delivered = read_chat_events(&chat).await;
    assert_eq!(delivered.len(), 1);
    let event = &delivered[0].event;
    assert_eq!(
        (event.kind.as_str(), event.id.as_str()),
        ("MessagePosted", sent.id.as_str())
    );
    assert_eq!(event.payload["roomId"], room.as_str());
}

#[tokio::test]
async fn messages_sent_while_the_stream_is_down_are_posted_when_it_is_back() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: unique_prefix("chat_outbox"),
        ..Default::default()
    };
    let chat = start(config, &tokens).await;
    let service = &chat.service;
    let room = ada_and_bobs_room(service).await;

    redis.stop();
    let kept = service.send("ada", &room, "hi @bob").await.expect("send");
    let dropped = service.send("ada", &room, "oops").await.expect("send");
    assert!(service.delete("ada", &dropped.id).await.expect("delete"));
    let pending = stored(&chat, &kept.id).await;
    assert_eq!(pending["outbox"][0]["id"], kept.id.as_str(), "{pending}");
    redis.restart();

    let outbox = service.outbox();
    let mut sent = 0;
    for _ in 0..50 {
        // Redis may take a moment to accept connections again.
        sent += outbox.sweep(later()).await.unwrap_or(0);
        if sent > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 1, "only the message that still exists is announced");
    assert_eq!(outbox.sweep(later()).await.expect("sweep"), 0, "sent once");
    let delivered = read_chat_events(&chat).await;
    let ids: Vec<&str> = delivered.iter().map(|d| d.event.id.as_str()).collect();
    assert_eq!(ids, [kept.id.as_str()]);
    assert_eq!(
        delivered[0].event.payload["mentionedUserIds"],
        serde_json::json!(["bob"])
    );
    let cleared = stored(&chat, &kept.id).await;
    assert_eq!(cleared["outbox"], serde_json::json!([]), "{cleared}");
    assert!(cleared.get("outboxDueAt").is_none(), "{cleared}");
}
