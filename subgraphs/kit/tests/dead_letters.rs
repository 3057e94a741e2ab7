//! Dead letters on both durable backends: an event whose handler fails on every delivery
//! moves to the group's dead-letter stream after `max_deliveries` (counted, not blocking the
//! events behind it), and the operator command lists and replays it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kit::cli::{run_command, Command, DeadLetterCommand};
use kit::events::{
    dead_letters, spawn_consumer, ConsumerConfig, DomainEvent, EmbeddedEventStream, EventHandler,
    HandlerError, RedisEventStream, SharedEventStream,
};
use kit::metrics::{EventLabels, Metrics};
use kit::testing::{require_redis, unique_prefix};
use parking_lot::Mutex;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const STREAM: &str = "boards";
const GROUP: &str = "notifications";

/// Fails every event marked `poison` until `healed`; records what it handled.
#[derive(Default)]
struct Handler {
    healed: AtomicBool,
    handled: Mutex<Vec<String>>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        if event.payload["poison"] == json!(true) && !self.healed.load(Ordering::SeqCst) {
            return Err(format!("cannot process task {}", event.payload["n"]).into());
        }
        self.handled.lock().push(event.id.clone());
        Ok(())
    }
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn dead_lettered(metrics: &Metrics) -> u64 {
    metrics
        .events
        .get_or_create(&EventLabels {
            stream: STREAM.into(),
            outcome: "dead_lettered".into(),
        })
        .get()
}

async fn poison_is_buried_listed_and_replayed(events: SharedEventStream) {
    let poison = DomainEvent::new("TaskAssigned", "u1", json!({ "n": 1, "poison": true }));
    let fine: Vec<_> = (2..5)
        .map(|n| DomainEvent::new("TaskAssigned", "u1", json!({ "n": n })))
        .collect();
    events.append(STREAM, &poison).await.expect("append");
    for event in &fine {
        events.append(STREAM, event).await.expect("append");
    }
    let handler = Arc::new(Handler::default());
    let metrics = Metrics::new("dead-letters");
    let shutdown = CancellationToken::new();
    let mut config = ConsumerConfig::new(STREAM, GROUP, "c1");
    config.block = Duration::from_millis(50);
    config.reclaim_idle = Duration::from_millis(100);
    config.max_deliveries = 3;
    let consumer = spawn_consumer(
        events.clone(),
        config,
        handler.clone(),
        metrics.clone(),
        shutdown.clone(),
    );

    // The events behind the poisoned one are not held up by its retries.
    eventually("the healthy events handled", async || {
        handler.handled.lock().len() == 3
    })
    .await;
    eventually("the poisoned event buried", async || {
        dead_lettered(&metrics) == 1
    })
    .await;
    assert_eq!(
        events.pending_count(STREAM, GROUP).await.expect("pending"),
        0
    );

    let letters = dead_letters::list(&*events, STREAM, GROUP, 10)
        .await
        .expect("list");
    assert_eq!(letters.len(), 1);
    let (id, letter) = &letters[0];
    assert_eq!(letter.event, poison);
    assert_eq!((letter.attempts, letter.group.as_str()), (3, GROUP));
    assert_eq!(letter.error, "cannot process task 1");
    let listed = run_command(
        &*events,
        Command::DeadLetters(DeadLetterCommand::List {
            stream: STREAM.into(),
            group: GROUP.into(),
            limit: 10,
        }),
    )
    .await
    .expect("list command");
    assert!(
        listed.starts_with("1 dead letter(s)") && listed.contains(id),
        "{listed}"
    );

    // Fixed, the operator replays it: handled once, and the dead-letter stream is empty.
    handler.healed.store(true, Ordering::SeqCst);
    let replayed = run_command(
        &*events,
        Command::DeadLetters(DeadLetterCommand::Replay {
            stream: STREAM.into(),
            group: GROUP.into(),
            ids: vec![id.clone()],
        }),
    )
    .await
    .expect("replay command");
    assert_eq!(
        replayed,
        format!("replayed 1 dead letter(s) of {GROUP} on {STREAM}")
    );
    eventually("the replayed event handled", async || {
        handler.handled.lock().contains(&poison.id)
    })
    .await;
    let handled: HashSet<String> = handler.handled.lock().iter().cloned().collect();
    assert_eq!(handled.len(), 4);
    assert!(dead_letters::list(&*events, STREAM, GROUP, 10)
        .await
        .expect("list")
        .is_empty());
    shutdown.cancel();
    consumer.await.expect("consumer stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_poison_is_buried_listed_and_replayed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.sqlite");
    let events = EmbeddedEventStream::open(&path, Metrics::new("test")).expect("open");
    poison_is_buried_listed_and_replayed(Arc::new(events)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_poison_is_buried_listed_and_replayed() {
    let Some(server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("dead-letters");
    let events = RedisEventStream::connect(&server.url, &prefix, Metrics::new("test"))
        .await
        .expect("connect");
    poison_is_buried_listed_and_replayed(Arc::new(events)).await;
}
