//! Domain events go through an outbox: an append that fails (event stream down) is re-sent by
//! the server's sweeper once the stream is back, and a healthy append leaves nothing to re-send.

mod common;

use std::time::{Duration, Instant};

use common::{create_board, Backing, Server};
use kit::events::DomainEvent;
use kit::store::now_millis;
use kit::testing::{require_redis, unique_prefix};

/// Far enough ahead that every recorded event is due.
fn later() -> i64 {
    now_millis() + 3_600_000
}

async fn stream_events(server: &Server) -> Vec<DomainEvent> {
    let group = format!("test-{}", uuid::Uuid::new_v4().simple());
    server
        .events
        .ensure_group("boards", &group)
        .await
        .expect("group");
    server
        .events
        .read_new("boards", &group, "reader", 1000, Duration::ZERO)
        .await
        .expect("read")
        .into_iter()
        .map(|d| d.event)
        .collect()
}

#[tokio::test]
async fn a_healthy_append_leaves_nothing_to_resend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    create_board(&ada, "B").await;
    assert_eq!(server.outbox.sweep(later()).await.expect("sweep"), 0);
    assert_eq!(stream_events(&server).await.len(), 1, "sent exactly once");
    server.stop().await;
}

#[tokio::test]
async fn events_whose_append_failed_are_resent_when_the_stream_is_back() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut backing = Backing::redis(&redis.url, &unique_prefix("boards_outbox"));
    backing.sweep_every = Some(Duration::from_millis(200));
    let server = Server::start_with(dir.path(), backing).await;
    server.wait_ready().await;
    let ada = server.user();

    redis.stop();
    let board = create_board(&ada, "Written while Redis was down").await;
    redis.restart();

    // The record becomes due `RETRY_AFTER` after it was written; the sweeper then re-sends it.
    let deadline = Instant::now() + kit::outbox::RETRY_AFTER + Duration::from_secs(15);
    while stream_events(&server).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sweeper never re-sent the event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = stream_events(&server).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, "BoardCreated");
    assert_eq!(events[0].payload["boardId"], board);
    assert_eq!(
        server.outbox.sweep(later()).await.expect("sweep"),
        0,
        "sent once"
    );
    server.stop().await;
}
