//! A Redis restart costs the event stream seconds, not minutes: a command that times out or
//! loses its connection replaces the shared connection.

use std::time::{Duration, Instant};

use kit::events::{DomainEvent, EventStream, RedisEventStream};
use kit::metrics::Metrics;
use kit::testing::{require_redis, unique_prefix};

#[tokio::test]
async fn appends_work_again_soon_after_redis_restarts() {
    let Some(mut redis) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("reconnect");
    let events = RedisEventStream::connect(&redis.url, &prefix, Metrics::new("test"))
        .await
        .expect("connect");
    let event = || DomainEvent::new("Probe", "test", serde_json::json!({}));
    events.append("probe", &event()).await.expect("append");

    redis.stop();
    for _ in 0..2 {
        assert!(events.append("probe", &event()).await.is_err());
    }
    redis.restart();
    let restarted = Instant::now();
    while events.append("probe", &event()).await.is_err() {
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "appends still fail 15 s after Redis came back"
        );
    }
}
