//! Two chat replicas (one data directory, one Redis) consuming board events in one consumer
//! group: membership ends up right whichever replica handles which event, and a removal
//! handled by one replica ends the member's subscription on the other.

mod common;

use common::*;
use kit::test_client::GqlClient;
use serde_json::json;

async fn member_ids(client: &GqlClient, room: &str) -> Option<Vec<String>> {
    let body = client.post(ROOM, json!({"id": room})).await;
    let members = body["data"]["chatRoom"]["members"].as_array()?.clone();
    let mut ids: Vec<String> = members
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    Some(ids)
}

#[tokio::test]
async fn replicas_share_board_membership_and_end_subscriptions_across_replicas() {
    let Some(redis) = kit::testing::require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = Tokens::new();
    let config = kit::config::ServiceConfig {
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: kit::testing::unique_prefix("chat_replicas"),
        ..Default::default()
    };
    let a = Server::with_config(config.clone(), &tokens).await;
    let b = Server::with_config(config, &tokens).await;
    let room = "board-r1";
    let (ada_a, ada_b) = (a.as_user(&tokens, "ada"), b.as_user(&tokens, "ada"));

    board_created(&a, "r1", "Shared", "ada").await;
    eventually("room created", || async {
        member_ids(&ada_b, room).await.is_some()
    })
    .await;

    // Adds and removes for ten users, handled by whichever replica reads them first.
    for i in 0..10 {
        let user = format!("u{i}");
        board_member(&a, "r1", &user, true).await;
        if i % 2 == 0 {
            board_member(&b, "r1", &user, false).await;
        }
    }
    let expected = ["ada", "u1", "u3", "u5", "u7", "u9"].map(String::from);
    eventually("membership settled", || async {
        member_ids(&ada_a, room).await.as_deref() == Some(&expected[..])
    })
    .await;
    assert_eq!(
        member_ids(&ada_b, room).await.as_deref(),
        Some(&expected[..])
    );
    let events = a.chat.infra.events.clone();
    eventually("every board event acked", || {
        let events = events.clone();
        async move {
            events
                .pending_count("boards", "chat")
                .await
                .expect("pending")
                == 0
        }
    })
    .await;

    // u1 listens on replica B; the removal may be handled by either replica.
    let mut socket = ws_connect(&b.base, Some(&tokens.token("u1"))).await;
    subscribe(&mut socket, "1", room).await;
    wait_subscribed(&b, room, 1).await;
    send(&ada_a, room, "hello u1").await;
    let next = next_json(&mut socket).await.expect("message");
    assert_eq!(
        next["payload"]["data"]["messageAdded"]["body"], "hello u1",
        "{next}"
    );
    board_member(&a, "r1", "u1", false).await;
    expect_forbidden_end(&mut socket, "1").await;
    a.stop().await;
    b.stop().await;
}
