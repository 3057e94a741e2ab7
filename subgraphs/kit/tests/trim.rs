//! Bounded streams on both durable backends: a bounded soak (rounds of appends consumed by a
//! group, the trimmer running) keeps the stream flat, while entries a group still needs, or
//! younger than the retention window, stay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kit::events::{
    spawn_consumer, spawn_trimmer, ConsumerConfig, DomainEvent, EmbeddedEventStream, EventHandler,
    HandlerError, RedisEventStream, SharedEventStream,
};
use kit::metrics::{EventLabels, Metrics};
use kit::testing::{require_redis, unique_prefix};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const STREAM: &str = "boards";
const ROUND: usize = 50;

#[derive(Default)]
struct Counter(AtomicUsize);

#[async_trait]
impl EventHandler for Counter {
    async fn handle(&self, _event: &DomainEvent) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn length(events: &SharedEventStream) -> usize {
    events.range(STREAM, 100_000).await.expect("range").len()
}

async fn append_round(events: &SharedEventStream, n: usize) {
    for i in 0..n {
        let event = DomainEvent::new("TaskMoved", "u1", json!({ "n": i }));
        events.append(STREAM, &event).await.expect("append");
    }
}

async fn soak_stays_flat(events: SharedEventStream) {
    // A group that stopped reading holds everything after what it was given.
    events.ensure_group(STREAM, "late").await.expect("group");
    append_round(&events, 3).await;
    assert_eq!(events.trim(STREAM, Duration::ZERO).await.expect("trim"), 0);

    // Young entries stay whatever the groups did.
    let handler = Arc::new(Counter::default());
    let metrics = Metrics::new("trim");
    let shutdown = CancellationToken::new();
    let consume = |group: &str| {
        let mut config = ConsumerConfig::new(STREAM, group, format!("{group}-1"));
        config.block = Duration::from_millis(20);
        spawn_consumer(
            events.clone(),
            config,
            handler.clone(),
            metrics.clone(),
            shutdown.clone(),
        )
    };
    let consumers = [consume("late"), consume("live")];
    wait_for(&handler, 6).await;
    assert_eq!(
        events
            .trim(STREAM, Duration::from_secs(3600))
            .await
            .expect("trim"),
        0
    );

    // The soak: with the trimmer running, the stream never holds much more than a round.
    let every = Duration::from_millis(50);
    let trimmer = spawn_trimmer(
        events.clone(),
        STREAM,
        Duration::ZERO,
        every,
        metrics.clone(),
        shutdown.clone(),
    );
    let mut longest = 0;
    for round in 1..=6 {
        append_round(&events, ROUND).await;
        wait_for(&handler, 6 + 2 * ROUND * round).await;
        longest = longest.max(length(&events).await);
        tokio::time::sleep(3 * every).await;
    }
    assert_eq!(length(&events).await, 0, "everything acked is trimmed");
    assert!(
        longest <= 2 * ROUND + 3,
        "the stream stayed bounded: {longest}"
    );
    let trimmed = metrics
        .events
        .get_or_create(&EventLabels {
            stream: STREAM.into(),
            outcome: "trimmed".into(),
        })
        .get();
    assert_eq!(trimmed as usize, 3 + 6 * ROUND);
    shutdown.cancel();
    for task in consumers.into_iter().chain([trimmer]) {
        task.await.expect("stops");
    }
}

async fn wait_for(handler: &Counter, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handler.0.load(Ordering::SeqCst) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "handled {} of {n}",
            handler.0.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_streams_stay_flat() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = EmbeddedEventStream::open(&dir.path().join("events.db"), Metrics::new("test"))
        .expect("open");
    soak_stays_flat(Arc::new(events)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_streams_stay_flat() {
    let Some(server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("trim");
    let events = RedisEventStream::connect(&server.url, &prefix, Metrics::new("test"))
        .await
        .expect("connect");
    soak_stays_flat(Arc::new(events)).await;
}
