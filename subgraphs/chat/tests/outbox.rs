//! `MessagePosted` reaches the durable stream for every stored message: messages whose event
//! was not appended (append failed, or the sender died) are re-posted by the outbox sweep.

mod common;

use std::time::Duration;

use chat::model::MessageDoc;
use common::*;
use kit::events::Delivery;
use kit::store::{new_id, now_millis, Collection};

fn unposted(room: &str, seq: i64, deleted: bool) -> MessageDoc {
    MessageDoc {
        id: new_id(),
        room_id: room.to_owned(),
        seq,
        author_id: "ada".into(),
        body: if deleted {
            String::new()
        } else {
            "hi @bob".into()
        },
        mention_ids: if deleted { vec![] } else { vec!["bob".into()] },
        deleted,
        created_at: now_millis() - 60_000,
        edited_at: None,
        posted: false,
    }
}

async fn read_chat_events(chat: &chat::Chat) -> Vec<Delivery> {
    let events = &chat.infra.events;
    events.ensure_group("chat", "test").await.expect("group");
    events
        .read_new("chat", "test", "t", 100, Duration::from_millis(200))
        .await
        .expect("read")
}

async fn is_posted(messages: &Collection<MessageDoc>, id: &str) -> bool {
    messages.get(id).await.expect("get").expect("stored").posted
}

#[tokio::test]
async fn unposted_messages_are_posted_once_by_the_sweep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        ..Default::default()
    };
    // No app, so no background sweep: this test alone decides when to sweep.
    let chat = chat::Chat::start(&config, tokens.verifier())
        .await
        .expect("start");
    let service = &chat.service;
    let room = service
        .create_room("ada", "Room", &["bob".to_owned()])
        .await
        .expect("room")
        .id;
    let sent = service.send("ada", &room, "normal").await.expect("send");
    let messages = chat.infra.store.collection::<MessageDoc>("messages");
    assert!(is_posted(&messages, &sent.id).await);

    let lost = unposted(&room, 100, false);
    let deleted = unposted(&room, 101, true);
    messages.insert(&lost).await.expect("insert");
    messages.insert(&deleted).await.expect("insert");
    assert_eq!(
        service.repost_pending(now_millis()).await.expect("sweep"),
        2
    );
    assert_eq!(
        service.repost_pending(now_millis()).await.expect("sweep"),
        0
    );
    assert!(is_posted(&messages, &lost.id).await);
    assert!(is_posted(&messages, &deleted.id).await);

    let delivered = read_chat_events(&chat).await;
    let ids: Vec<&str> = delivered.iter().map(|d| d.event.id.as_str()).collect();
    assert_eq!(ids, [sent.id.as_str(), lost.id.as_str()]);
    let event = &delivered[1].event;
    assert_eq!(event.kind, "MessagePosted");
    assert_eq!(
        event.payload["mentionedUserIds"],
        serde_json::json!(["bob"])
    );
    assert_eq!(event.payload["roomId"], room.as_str());

    // Messages younger than the cutoff are left to their sender.
    let fresh = MessageDoc {
        created_at: now_millis(),
        ..unposted(&room, 102, false)
    };
    messages.insert(&fresh).await.expect("insert");
    let cutoff = now_millis() - chat::outbox::GRACE.as_millis() as i64;
    assert_eq!(service.repost_pending(cutoff).await.expect("sweep"), 0);
}

#[tokio::test]
async fn the_running_service_sweeps_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let server = Server::start(dir.path(), &tokens).await;
    let ada = server.as_user(&tokens, "ada");
    let room = create_room(&ada, "Room", &[]).await;
    let messages = server.chat.infra.store.collection::<MessageDoc>("messages");
    let lost = unposted(&room, 7, false);
    messages.insert(&lost).await.expect("insert");
    eventually("the sweep posts the lost message", || async {
        is_posted(&messages, &lost.id).await
    })
    .await;
    let delivered = read_chat_events(&server.chat).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].event.id, lost.id);
    server.stop().await;
}
