//! Redis pub/sub: one shared subscriber connection per handle, multiplexed into local
//! broadcast channels, so a thousand GraphQL subscriptions cost one Redis connection.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::pubsub::{remove_if_unused, Subscription, DEFAULT_CAPACITY};
use super::{EventError, PubSub};
use crate::metrics::Metrics;

/// How long one Redis command may take before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the idle subscriber connection is pinged, to notice half-open connections.
const KEEPALIVE: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Pub/sub over Redis: any replica's subscribers see any replica's publishes.
///
/// Channel `c` is the Redis channel `<key_prefix>c`. The first local subscriber of a channel
/// SUBSCRIBEs the shared connection, the last one to leave UNSUBSCRIBEs. When Redis drops the
/// connection, a background task reconnects with backoff and resubscribes every channel that
/// still has local subscribers; their streams stay open (messages published while the
/// connection was down are lost, as with any Redis pub/sub). Dropping the handle stops the
/// task and ends every stream.
pub struct RedisPubSub {
    shared: Arc<Shared>,
    publisher: ConnectionManager,
    _reader: DropGuard,
}

struct Shared {
    client: redis::Client,
    prefix: String,
    metrics: Arc<Metrics>,
    /// Full Redis channel name -> local fan-out.
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
    /// The subscriber connection's command half; `None` while reconnecting. Holding this lock
    /// serializes SUBSCRIBE/UNSUBSCRIBE with the map updates and with resubscription.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
}

impl RedisPubSub {
    /// Connects the publisher and the subscriber connection; fails if Redis is unreachable.
    pub async fn connect(
        url: &str,
        key_prefix: &str,
        metrics: Arc<Metrics>,
    ) -> Result<Self, EventError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(2);
        let publisher = timed(
            "connect",
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await?;
        let (sink, stream) = timed("connect", client.get_async_pubsub()).await?.split();
        let shared = Arc::new(Shared {
            client,
            prefix: key_prefix.to_owned(),
            metrics,
            channels: Mutex::default(),
            sink: tokio::sync::Mutex::new(Some(sink)),
        });
        let cancel = CancellationToken::new();
        tokio::spawn(run_reader(shared.clone(), stream, cancel.clone()));
        Ok(Self {
            shared,
            publisher,
            _reader: cancel.drop_guard(),
        })
    }

    /// Channels with at least one local subscriber.
    pub fn active_channels(&self) -> usize {
        self.shared.channels.lock().len()
    }
}

#[async_trait]
impl PubSub for RedisPubSub {
    async fn publish(&self, channel: &str, payload: &str) -> Result<(), EventError> {
        let full = format!("{}{channel}", self.shared.prefix);
        let mut conn = self.publisher.clone();
        let started = Instant::now();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&full).arg(payload);
        let publish = timed("PUBLISH", cmd.query_async::<i64>(&mut conn));
        let span = crate::telemetry::backend_span("redis", "PUBLISH");
        let result = tracing::Instrument::instrument(publish, span).await;
        self.shared
            .metrics
            .observe_redis("pubsub", "publish", started.elapsed());
        result.map(|_receivers| ())
    }

    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, String>, EventError> {
        let full = format!("{}{channel}", self.shared.prefix);
        let mut sink = self.shared.sink.lock().await;
        let (receiver, first) = {
            let mut channels = self.shared.channels.lock();
            match channels.get(&full) {
                Some(sender) => (sender.subscribe(), false),
                None => {
                    let (sender, receiver) = broadcast::channel(DEFAULT_CAPACITY);
                    channels.insert(full.clone(), sender);
                    (receiver, true)
                }
            }
        };
        if first {
            let result = match sink.as_mut() {
                Some(sink) => timed("SUBSCRIBE", sink.subscribe(&full)).await,
                None => Err(EventError::Disconnected),
            };
            if let Err(error) = result {
                self.shared.channels.lock().remove(&full);
                return Err(error);
            }
        }
        drop(sink);
        let shared = Arc::downgrade(&self.shared);
        let name = full;
        let on_drop = move || {
            // Unsubscribing needs Redis, so it happens on a task; after a runtime shutdown
            // the spawn is a no-op and the connection goes away with the process anyway.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(release(shared, name));
            }
        };
        Ok(Box::pin(Subscription::new(
            channel,
            receiver,
            Box::new(on_drop),
        )))
    }
}

/// UNSUBSCRIBEs `channel` if its last local subscriber is gone.
async fn release(shared: Weak<Shared>, channel: String) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let mut sink = shared.sink.lock().await;
    if !remove_if_unused(&mut shared.channels.lock(), &channel) {
        return;
    }
    // When disconnected there is nothing to do: resubscription only covers mapped channels.
    if let Some(sink) = sink.as_mut() {
        if let Err(error) = timed("UNSUBSCRIBE", sink.unsubscribe(&channel)).await {
            tracing::warn!(%channel, %error, "redis UNSUBSCRIBE failed");
        }
    }
}

/// Dispatches messages to local subscribers; reconnects whenever the connection is lost.
async fn run_reader(shared: Arc<Shared>, mut stream: PubSubStream, cancel: CancellationToken) {
    loop {
        dispatch(&shared, &mut stream, &cancel).await;
        if cancel.is_cancelled() {
            return;
        }
        *shared.sink.lock().await = None;
        tracing::warn!("redis pub/sub connection lost; reconnecting");
        match reconnect(&shared, &cancel).await {
            Some(next) => stream = next,
            None => return,
        }
    }
}

/// Returns when the connection is lost (or fails a keepalive ping) or on cancellation.
async fn dispatch(shared: &Shared, stream: &mut PubSubStream, cancel: &CancellationToken) {
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            message = stream.next() => {
                let Some(message) = message else { return };
                let payload: String = match message.get_payload() {
                    Ok(payload) => payload,
                    Err(error) => {
                        tracing::warn!(%error, "undecodable redis pub/sub message dropped");
                        continue;
                    }
                };
                if let Some(sender) = shared.channels.lock().get(message.get_channel_name()) {
                    let _ = sender.send(payload);
                }
            }
            _ = keepalive.tick() => {
                let mut sink = shared.sink.lock().await;
                let Some(sink) = sink.as_mut() else { return };
                if let Err(error) = timed("PING", sink.ping::<()>()).await {
                    tracing::warn!(%error, "redis pub/sub keepalive failed");
                    return;
                }
            }
        }
    }
}

async fn reconnect(shared: &Shared, cancel: &CancellationToken) -> Option<PubSubStream> {
    let mut delay = Duration::from_millis(100);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return None,
            result = resubscribe(shared) => match result {
                Ok(stream) => {
                    tracing::info!("redis pub/sub reconnected and resubscribed");
                    return Some(stream);
                }
                Err(error) => tracing::warn!(%error, ?delay, "redis pub/sub reconnect failed"),
            },
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

/// Opens a new subscriber connection and subscribes every channel that has local subscribers.
async fn resubscribe(shared: &Shared) -> Result<PubSubStream, EventError> {
    let (mut new_sink, stream) = timed("connect", shared.client.get_async_pubsub())
        .await?
        .split();
    let mut sink = shared.sink.lock().await;
    let channels: Vec<String> = shared.channels.lock().keys().cloned().collect();
    // One channel per SUBSCRIBE: redis-rs pairs one reply with one request.
    for channel in &channels {
        timed("SUBSCRIBE", new_sink.subscribe(channel)).await?;
    }
    *sink = Some(new_sink);
    Ok(stream)
}

/// Runs a Redis call with [`COMMAND_TIMEOUT`].
async fn timed<T>(
    op: &'static str,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, EventError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(EventError::Timeout {
            op,
            timeout: COMMAND_TIMEOUT,
        }),
    }
}
