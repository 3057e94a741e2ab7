//! Behaviour of both pub/sub and both event-stream backends. Every test body is written once,
//! generic over the backend, and instantiated per backend by the macros at the bottom.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use kit::events::{
    spawn_consumer, ConsumerConfig, Delivery, DomainEvent, EmbeddedEventStream, EventError,
    EventHandler, EventStream, HandlerError, InProcessPubSub, PubSub, RedisEventStream,
    RedisPubSub, SharedEventStream,
};
use kit::metrics::{EventLabels, Metrics};
use kit::testing::{require_redis, unique_prefix, RedisServer};
use parking_lot::Mutex;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);
const STREAM: &str = "boards";

// ---------------------------------------------------------------- fixtures

/// Two handles on one backend: two replicas / processes sharing it.
struct Pair<T> {
    a: Arc<T>,
    b: Arc<T>,
    _server: Option<RedisServer>,
    _dir: Option<tempfile::TempDir>,
}

impl<T> Pair<T> {
    fn new(a: T, b: T, server: Option<RedisServer>, dir: Option<tempfile::TempDir>) -> Self {
        let (a, b) = (Arc::new(a), Arc::new(b));
        Self {
            a,
            b,
            _server: server,
            _dir: dir,
        }
    }
}

fn in_process_pair() -> Pair<InProcessPubSub> {
    // In-process pub/sub only spans one process: both "replicas" share its channels.
    let pubsub = Arc::new(InProcessPubSub::new());
    Pair {
        a: pubsub.clone(),
        b: pubsub,
        _server: None,
        _dir: None,
    }
}

async fn redis_pubsub_pair() -> Option<Pair<RedisPubSub>> {
    let server = require_redis()?;
    let prefix = unique_prefix("pubsub");
    let connect = || RedisPubSub::connect(&server.url, &prefix, Metrics::new("test"));
    let a = connect().await.expect("connect a");
    let b = connect().await.expect("connect b");
    Some(Pair::new(a, b, Some(server), None))
}

fn embedded_pair() -> Pair<EmbeddedEventStream> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.sqlite");
    let open = || EmbeddedEventStream::open(&path, Metrics::new("test")).expect("open events file");
    Pair::new(open(), open(), None, Some(dir))
}

async fn redis_stream_pair() -> Option<Pair<RedisEventStream>> {
    let server = require_redis()?;
    let prefix = unique_prefix("events");
    let connect = || RedisEventStream::connect(&server.url, &prefix, Metrics::new("test"));
    let a = connect().await.expect("connect a");
    let b = connect().await.expect("connect b");
    Some(Pair::new(a, b, Some(server), None))
}

/// Local channel count, to observe unsubscription.
trait ActiveChannels {
    fn active(&self) -> usize;
}
impl ActiveChannels for InProcessPubSub {
    fn active(&self) -> usize {
        self.active_channels()
    }
}
impl ActiveChannels for RedisPubSub {
    fn active(&self) -> usize {
        self.active_channels()
    }
}

async fn next(stream: &mut futures::stream::BoxStream<'static, String>) -> String {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a message within 5 s")
        .expect("stream still open")
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event(n: usize) -> DomainEvent {
    DomainEvent::new("TaskCreated", "user-1", json!({ "n": n }))
}

/// Up to 10 new entries, without waiting.
async fn read<S: EventStream>(s: &S, group: &str, consumer: &str) -> Vec<Delivery> {
    let got = s
        .read_new(STREAM, group, consumer, 10, Duration::ZERO)
        .await;
    got.expect("read_new")
}

async fn claim<S: EventStream>(s: &S, consumer: &str, idle: Duration) -> Vec<Delivery> {
    let got = s.claim_stale(STREAM, "g", consumer, idle, 10).await;
    got.expect("claim_stale")
}

async fn pending<S: EventStream>(s: &S, group: &str) -> u64 {
    s.pending_count(STREAM, group).await.expect("pending_count")
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.entry_id.clone()).collect()
}

fn event_count(metrics: &Metrics, outcome: &str) -> u64 {
    let labels = EventLabels {
        stream: STREAM.to_owned(),
        outcome: outcome.to_owned(),
    };
    metrics.events.get_or_create(&labels).get()
}

// ---------------------------------------------------------------- pub/sub bodies

async fn fan_out<P: PubSub>(a: Arc<P>, b: Arc<P>) {
    let mut first = a.subscribe("task:1").await.expect("subscribe");
    let mut second = a.subscribe("task:1").await.expect("subscribe");
    let mut remote = b.subscribe("task:1").await.expect("subscribe");
    let mut other = b.subscribe("task:2").await.expect("subscribe");
    a.publish("task:1", r#"{"from":"a"}"#)
        .await
        .expect("publish");
    b.publish("task:1", r#"{"from":"b"}"#)
        .await
        .expect("publish");
    for stream in [&mut first, &mut second, &mut remote] {
        assert_eq!(next(stream).await, r#"{"from":"a"}"#);
        assert_eq!(next(stream).await, r#"{"from":"b"}"#);
    }
    let leaked = tokio::time::timeout(Duration::from_millis(200), other.next()).await;
    assert!(
        leaked.is_err(),
        "another channel's subscriber got {leaked:?}"
    );
}

async fn unsubscribe_on_drop<P: PubSub + ActiveChannels>(a: Arc<P>, _b: Arc<P>) {
    let first = a.subscribe("task:9").await.expect("subscribe");
    let mut second = a.subscribe("task:9").await.expect("subscribe");
    assert_eq!(a.active(), 1);
    drop(first);
    a.publish("task:9", "still here").await.expect("publish");
    assert_eq!(next(&mut second).await, "still here");
    assert_eq!(a.active(), 1, "the channel has a subscriber left");
    drop(second);
    eventually("channel removed after the last subscriber", || {
        a.active() == 0
    })
    .await;
    a.publish("task:9", "nobody listens")
        .await
        .expect("publish without subscribers");
    // Subscribing again after the unsubscribe works.
    let mut again = a.subscribe("task:9").await.expect("resubscribe");
    a.publish("task:9", "back").await.expect("publish");
    assert_eq!(next(&mut again).await, "back");
}

async fn lagging_subscriber_continues<P: PubSub>(a: Arc<P>, _b: Arc<P>) {
    let mut slow = a.subscribe("busy").await.expect("subscribe");
    let total = 2_000;
    for n in 0..total {
        a.publish("busy", &n.to_string()).await.expect("publish");
    }
    let first: usize = next(&mut slow).await.parse().expect("a number");
    assert!(
        first > 0,
        "the slow subscriber should have skipped old messages"
    );
    let mut last = first;
    while last < total - 1 {
        let n: usize = next(&mut slow).await.parse().expect("a number");
        assert!(n > last, "out of order: {n} after {last}");
        last = n;
    }
    a.publish("busy", "after").await.expect("publish");
    assert_eq!(
        next(&mut slow).await,
        "after",
        "the stream survived the lag"
    );
}

// ---------------------------------------------------------------- event stream bodies

async fn backlog_order_and_ack<S: EventStream>(a: Arc<S>, _b: Arc<S>) {
    let events: Vec<_> = (0..5).map(event).collect();
    for e in &events {
        a.append(STREAM, e).await.expect("append");
    }
    // The group is created after the appends: the backlog must still be delivered.
    a.ensure_group(STREAM, "g").await.expect("ensure group");
    a.ensure_group(STREAM, "g")
        .await
        .expect("ensure group is idempotent");
    let got = read(&*a, "g", "c1").await;
    let got_events: Vec<_> = got.iter().map(|d| d.event.clone()).collect();
    assert_eq!(got_events, events, "all events, in append order, unchanged");
    assert!(got.iter().all(|d| d.delivery_count == 1));
    let again = read(&*a, "g", "c1").await;
    assert!(again.is_empty(), "delivered entries are not new any more");
    assert_eq!(pending(&*a, "g").await, 5);
    a.ack(STREAM, "g", &ids(&got[..2])).await.expect("ack");
    assert_eq!(pending(&*a, "g").await, 3);
    a.ack(STREAM, "g", &ids(&got))
        .await
        .expect("ack (some twice)");
    assert_eq!(pending(&*a, "g").await, 0);
    // Another group gets its own copy of everything.
    a.ensure_group(STREAM, "other").await.expect("ensure group");
    let copy = read(&*a, "other", "c1").await;
    assert_eq!(copy.len(), 5);
}

async fn missing_group_is_an_error<S: EventStream>(a: Arc<S>, _b: Arc<S>) {
    a.append(STREAM, &event(1)).await.expect("append");
    let result = a.read_new(STREAM, "nope", "c1", 10, Duration::ZERO).await;
    assert!(
        matches!(result, Err(EventError::NoGroup { .. })),
        "got {result:?}"
    );
}

async fn two_consumers_no_duplicates<S: EventStream>(a: Arc<S>, b: Arc<S>) {
    a.ensure_group(STREAM, "g").await.expect("ensure group");
    let total = 30;
    let mut appended = Vec::new();
    for n in 0..total {
        let handle = if n % 2 == 0 { &a } else { &b };
        let e = event(n);
        handle.append(STREAM, &e).await.expect("append");
        appended.push(e.id);
    }
    let consume = |handle: Arc<S>, name: &'static str| async move {
        let mut seen = Vec::new();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let got = handle
                .read_new(STREAM, "g", name, 4, Duration::from_millis(100))
                .await
                .expect("read");
            if got.is_empty() {
                break;
            }
            handle.ack(STREAM, "g", &ids(&got)).await.expect("ack");
            seen.extend(got.into_iter().map(|d| d.event.id));
        }
        seen
    };
    let (one, two) = tokio::join!(consume(a.clone(), "c1"), consume(b.clone(), "c2"));
    let position: HashMap<_, _> = appended.iter().enumerate().map(|(i, id)| (id, i)).collect();
    for seen in [&one, &two] {
        let order: Vec<_> = seen.iter().map(|id| position[id]).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "each consumer reads in order: {order:?}"
        );
    }
    let all: Vec<_> = one.iter().chain(&two).cloned().collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(
        all.len(),
        total,
        "every event delivered once: {} + {}",
        one.len(),
        two.len()
    );
    assert_eq!(unique.len(), total, "no event delivered twice");
    assert_eq!(pending(&*a, "g").await, 0);
}

async fn dead_consumer_redelivered_once<S: EventStream>(a: Arc<S>, b: Arc<S>) {
    let idle = Duration::from_millis(300);
    a.ensure_group(STREAM, "g").await.expect("ensure group");
    let e = event(7);
    a.append(STREAM, &e).await.expect("append");
    // "dying" reads the event and dies before acking.
    let taken = read(&*a, "g", "dying").await;
    assert_eq!(taken.len(), 1);
    // Not idle long enough yet, and not "new" for anyone else.
    assert!(claim(&*b, "alive", idle).await.is_empty());
    assert!(read(&*b, "g", "alive").await.is_empty());
    tokio::time::sleep(idle + Duration::from_millis(100)).await;
    let claimed = claim(&*b, "alive", idle).await;
    assert_eq!(claimed.len(), 1, "the dead consumer's entry is reclaimed");
    assert_eq!(claimed[0].event, e);
    assert_eq!(claimed[0].entry_id, taken[0].entry_id);
    assert_eq!(claimed[0].delivery_count, 2);
    // A competing reclaimer right away gets nothing: the entry is freshly owned by "alive".
    assert!(claim(&*a, "other", idle).await.is_empty());
    b.ack(STREAM, "g", &ids(&claimed)).await.expect("ack");
    assert_eq!(pending(&*b, "g").await, 0);
    tokio::time::sleep(idle + Duration::from_millis(100)).await;
    assert!(claim(&*a, "other", idle).await.is_empty());
    assert!(read(&*a, "g", "other").await.is_empty());
}

async fn blocking_read_wakes_on_append<S: EventStream>(a: Arc<S>, b: Arc<S>) {
    a.ensure_group(STREAM, "g").await.expect("ensure group");
    let started = Instant::now();
    let empty = b
        .read_new(STREAM, "g", "c", 10, Duration::from_millis(200))
        .await
        .expect("read");
    assert!(empty.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    for (reader, writer) in [(&a, &a), (&b, &a)] {
        let reader = reader.clone();
        let read = tokio::spawn(async move {
            reader
                .read_new(STREAM, "g", "c", 10, Duration::from_secs(10))
                .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let e = event(1);
        writer.append(STREAM, &e).await.expect("append");
        let got = read.await.expect("join").expect("read");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event, e);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "woke after {:?}",
            started.elapsed()
        );
    }
}

/// Fails the first attempt at every event whose payload has `"fail": true`; records successes.
#[derive(Default)]
struct FlakyHandler {
    attempts: Mutex<HashMap<String, usize>>,
    handled: Mutex<Vec<String>>,
}

#[async_trait]
impl EventHandler for FlakyHandler {
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError> {
        let attempt = {
            let mut attempts = self.attempts.lock();
            let n = attempts.entry(event.id.clone()).or_default();
            *n += 1;
            *n
        };
        if event.payload["fail"] == json!(true) && attempt == 1 {
            return Err("simulated handler failure".into());
        }
        self.handled.lock().push(event.id.clone());
        Ok(())
    }
}

fn fast_config(consumer: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(STREAM, "runner", consumer);
    config.batch = 4;
    config.block = Duration::from_millis(100);
    config.reclaim_idle = Duration::from_millis(300);
    config
}

async fn runner_end_to_end<S: EventStream>(a: Arc<S>, b: Arc<S>) {
    let events: Vec<_> = (0..6)
        .map(|n| DomainEvent::new("TaskMoved", "user-1", json!({ "n": n, "fail": n == 2 })))
        .collect();
    // Half appended before the consumers exist, half while they run.
    for e in &events[..3] {
        a.append(STREAM, e).await.expect("append");
    }
    let handler = Arc::new(FlakyHandler::default());
    let metrics = Metrics::new("runner");
    let shutdown = CancellationToken::new();
    let tasks: Vec<_> = [
        (a.clone() as SharedEventStream, "r1"),
        (b.clone() as SharedEventStream, "r2"),
    ]
    .into_iter()
    .map(|(events, name)| {
        spawn_consumer(
            events,
            fast_config(name),
            handler.clone(),
            metrics.clone(),
            shutdown.clone(),
        )
    })
    .collect();
    for e in &events[3..] {
        b.append(STREAM, e).await.expect("append");
    }
    eventually("all events handled", || {
        handler.handled.lock().len() >= events.len()
    })
    .await;
    let handled = handler.handled.lock().clone();
    let expected: HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        handled.len(),
        events.len(),
        "each event handled successfully exactly once"
    );
    assert_eq!(handled.iter().cloned().collect::<HashSet<_>>(), expected);
    assert_eq!(
        handler.attempts.lock()[&events[2].id],
        2,
        "the failed event was retried once"
    );
    let pending_gone = async {
        while pending(&*a, "runner").await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, pending_gone)
        .await
        .expect("everything acked");
    assert_eq!(event_count(&metrics, "handled"), 6);
    assert_eq!(event_count(&metrics, "failed"), 1);
    assert_eq!(event_count(&metrics, "redelivered"), 1);
    shutdown.cancel();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("consumer stops promptly on shutdown")
            .expect("consumer task did not panic");
    }
}

// ---------------------------------------------------------------- instantiation per backend

macro_rules! backend_tests {
    ($module:ident, $pair:expr; $($test:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(pair) = $pair else { return };
                    super::$test(pair.a.clone(), pair.b.clone()).await;
                }
            )*
        }
    };
}

backend_tests!(in_process, Some(in_process_pair());
    fan_out, unsubscribe_on_drop, lagging_subscriber_continues);
backend_tests!(redis_pubsub, redis_pubsub_pair().await;
    fan_out, unsubscribe_on_drop, lagging_subscriber_continues);
backend_tests!(embedded, Some(embedded_pair());
    backlog_order_and_ack, missing_group_is_an_error, two_consumers_no_duplicates,
    dead_consumer_redelivered_once, blocking_read_wakes_on_append, runner_end_to_end);
backend_tests!(redis_stream, redis_stream_pair().await;
    backlog_order_and_ack, missing_group_is_an_error, two_consumers_no_duplicates,
    dead_consumer_redelivered_once, blocking_read_wakes_on_append, runner_end_to_end);

// ---------------------------------------------------------------- backend-specific

#[tokio::test]
async fn embedded_events_survive_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.sqlite");
    let events: Vec<_> = (0..3).map(event).collect();
    let taken = {
        let store = EmbeddedEventStream::open(&path, Metrics::new("test")).expect("open");
        for e in &events {
            store.append(STREAM, e).await.expect("append");
        }
        store.ensure_group(STREAM, "g").await.expect("ensure group");
        store
            .read_new(STREAM, "g", "c1", 1, Duration::ZERO)
            .await
            .expect("read")
    };
    assert_eq!(taken.len(), 1);
    let store = EmbeddedEventStream::open(&path, Metrics::new("test")).expect("reopen");
    let rest = read(&store, "g", "c2").await;
    let rest_events: Vec<_> = rest.iter().map(|d| d.event.clone()).collect();
    assert_eq!(rest_events, events[1..], "undelivered events persisted");
    assert_eq!(pending(&store, "g").await, 3);
    let reclaimed = store
        .claim_stale(STREAM, "g", "c2", Duration::ZERO, 10)
        .await
        .expect("claim");
    let first = reclaimed
        .iter()
        .find(|d| d.entry_id == taken[0].entry_id)
        .expect("pending persisted");
    assert_eq!(first.event, events[0]);
    assert_eq!(first.delivery_count, 2);
}

/// Subscribers of `channel` according to the Redis server.
async fn numsub(client: &redis::Client, channel: &str) -> u64 {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut cmd = redis::cmd("PUBSUB");
    cmd.arg("NUMSUB").arg(channel);
    let reply: (String, u64) = cmd.query_async(&mut conn).await.expect("PUBSUB NUMSUB");
    reply.1
}

#[tokio::test]
async fn redis_pubsub_unsubscribes_on_the_server_and_survives_a_restart() {
    let Some(mut server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("pubsub_restart");
    let pubsub = RedisPubSub::connect(&server.url, &prefix, Metrics::new("test")).await;
    let pubsub = pubsub.expect("connect");
    let client = redis::Client::open(server.url.as_str()).expect("url");
    let gone = pubsub.subscribe("gone").await.expect("subscribe");
    assert_eq!(numsub(&client, &format!("{prefix}gone")).await, 1);
    drop(gone);
    let deadline = Instant::now() + WAIT;
    while numsub(&client, &format!("{prefix}gone")).await != 0 {
        assert!(
            Instant::now() < deadline,
            "UNSUBSCRIBE never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut live = pubsub.subscribe("live").await.expect("subscribe");
    server.restart();
    // Publishes are lost while the subscriber reconnects; keep publishing until one arrives.
    let deadline = Instant::now() + Duration::from_secs(15);
    let received = loop {
        assert!(Instant::now() < deadline, "no message after the restart");
        let _ = pubsub.publish("live", "after restart").await;
        let wait = tokio::time::timeout(Duration::from_millis(200), live.next());
        if let Ok(Some(message)) = wait.await {
            break message;
        }
    };
    assert_eq!(received, "after restart");
    let subscribers = numsub(&client, &format!("{prefix}live")).await;
    assert_eq!(subscribers, 1, "resubscribed exactly once");
}

/// Set in the child processes of `embedded_processes_share_one_file`: `<events file>|<report file>|<consumer>`.
const CHILD_ENV: &str = "KIT_EVENTS_CHILD";

/// Only does something as a child process of `embedded_processes_share_one_file`: appends 50
/// events, then consumes until the stream stays empty, and reports what it did.
#[tokio::test]
async fn embedded_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [events_file, report_file, consumer] = parts[..] else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let store =
        EmbeddedEventStream::open(events_file.as_ref(), Metrics::new("child")).expect("open");
    let mut report = String::new();
    for n in 0..50 {
        let e = event(n);
        store.append(STREAM, &e).await.expect("append");
        report.push_str(&format!("appended {}\n", e.id));
    }
    loop {
        let got = store
            .read_new(STREAM, "g", consumer, 5, Duration::from_millis(300))
            .await
            .expect("read");
        if got.is_empty() {
            break;
        }
        store.ack(STREAM, "g", &ids(&got)).await.expect("ack");
        for delivery in got {
            report.push_str(&format!("consumed {}\n", delivery.event.id));
        }
    }
    std::fs::write(report_file, report).expect("write report");
}

#[tokio::test]
async fn embedded_processes_share_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.sqlite");
    let store = EmbeddedEventStream::open(&path, Metrics::new("test")).expect("open");
    store.ensure_group(STREAM, "g").await.expect("ensure group");
    let mut expected = HashSet::new();
    for n in 0..100 {
        let e = event(n);
        store.append(STREAM, &e).await.expect("append");
        expected.insert(e.id);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let children: Vec<_> = ["p1", "p2"]
        .iter()
        .map(|name| {
            let report = dir.path().join(format!("{name}.txt"));
            let spec = format!("{}|{}|{name}", path.display(), report.display());
            let child = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "embedded_child_process",
                    "--test-threads=1",
                    "--quiet",
                ])
                .env(CHILD_ENV, spec)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn child test process");
            (child, report)
        })
        .collect();
    let mut consumed = Vec::new();
    for (mut child, report) in children {
        assert!(
            child.wait().expect("wait").success(),
            "child process failed"
        );
        for line in std::fs::read_to_string(report).expect("report").lines() {
            match line.split_once(' ') {
                Some(("appended", id)) => assert!(expected.insert(id.to_owned())),
                Some(("consumed", id)) => consumed.push(id.to_owned()),
                _ => panic!("bad report line {line:?}"),
            }
        }
    }
    let unique: HashSet<_> = consumed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        consumed.len(),
        "an event went to both processes"
    );
    assert_eq!(
        unique, expected,
        "every event (200) consumed by one of the processes"
    );
    assert_eq!(pending(&store, "g").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_consumer_recovers_after_a_redis_restart() {
    let Some(mut server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("consumer_restart");
    let events = RedisEventStream::connect(&server.url, &prefix, Metrics::new("test")).await;
    let events: SharedEventStream = Arc::new(events.expect("connect"));
    let handler = Arc::new(FlakyHandler::default());
    let shutdown = CancellationToken::new();
    let config = fast_config("r1");
    let task = spawn_consumer(
        events.clone(),
        config,
        handler.clone(),
        Metrics::new("runner"),
        shutdown.clone(),
    );
    let before = event(1);
    events.append(STREAM, &before).await.expect("append");
    eventually("handled before the restart", || {
        handler.handled.lock().len() == 1
    })
    .await;

    // The restarted server is empty: no stream, no group. The consumer must recreate both.
    server.restart();
    let after = event(2);
    let deadline = Instant::now() + Duration::from_secs(15);
    while events.append(STREAM, &after).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "append never succeeded after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handled_after = || handler.handled.lock().contains(&after.id);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !handled_after() {
        assert!(
            Instant::now() < deadline,
            "consumer did not recover after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("consumer stops promptly")
        .expect("no panic");
}
