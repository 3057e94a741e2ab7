//! Account events go through the kit's outbox: a sign-up written while the event stream is
//! down reaches the stream once it is back (re-sent by the sweeper), exactly once; a healthy
//! append leaves nothing to re-send.

use std::time::{Duration, Instant};

use kit::config::ServiceConfig;
use kit::store::now_millis;
use kit::testing::{require_redis, unique_prefix};

const PASSWORD: &str = "correct horse battery";

/// Far enough ahead that every recorded event is due.
fn later() -> i64 {
    now_millis() + 3_600_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_while_the_stream_is_down_is_announced_once_it_is_back() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServiceConfig {
        data_dir: dir.path().to_owned(),
        redis_url: Some(redis.url.clone()),
        redis_prefix: unique_prefix("accounts-outbox"),
        ..ServiceConfig::default()
    };
    let accounts = accounts::Accounts::start(&config).await.expect("start");
    let service = accounts.service.clone();

    service
        .sign_up("ada@example.com", PASSWORD, "Ada")
        .await
        .expect("sign up");
    let outbox = service.outbox();
    assert_eq!(
        outbox.sweep(later()).await.expect("sweep"),
        0,
        "appended at once"
    );

    redis.stop();
    let bob = service
        .sign_up("bob@example.com", PASSWORD, "Bob")
        .await
        .expect("the sign-up itself does not need the stream");
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while outbox.sweep(later()).await.unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "the outbox never re-sent the event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(outbox.sweep(later()).await.expect("sweep"), 0, "sent once");

    let events = &accounts.infra.events;
    events
        .ensure_group("accounts", "test")
        .await
        .expect("group");
    let delivered = events
        .read_new("accounts", "test", "reader", 100, Duration::ZERO)
        .await
        .expect("read");
    let bobs: Vec<_> = delivered
        .iter()
        .filter(|d| d.event.payload["userId"] == bob.user.id.as_str())
        .collect();
    assert_eq!(bobs.len(), 1, "{delivered:?}");
    assert_eq!(bobs[0].event.kind, "UserRegistered");
    assert_eq!(bobs[0].event.payload["name"], "Bob");
}
