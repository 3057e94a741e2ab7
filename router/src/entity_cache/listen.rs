//! Invalidations published on a Redis channel (`entity_cache.invalidation_channel`): how a
//! subgraph evicts what its domain events changed, since no client request passes through
//! the router then. Each message is an item or an array of items in the format of
//! `POST /invalidation`; unreadable ones are logged and skipped. The subscription is
//! re-established after Redis drops it; invalidations published meanwhile are lost, and the
//! entries' `max-age` bounds what they leave stale.

use super::policy;
use super::EntityCache;
use crate::metrics::Metrics;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens on `channel` of the Redis at `url` until `shutdown`.
pub fn spawn(
    cache: Arc<EntityCache>,
    url: String,
    channel: String,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match redis::Client::open(url.as_str()) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "entity cache invalidation channel: invalid Redis URL");
                return;
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let listened = listen(&client, &channel, &cache, &metrics, &shutdown);
            match listened.await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, %channel, "entity cache invalidation channel lost; subscribing again")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

/// Applies the channel's messages until `shutdown` (`Ok`) or the connection fails.
async fn listen(
    client: &redis::Client,
    channel: &str,
    cache: &EntityCache,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    tracing::info!(%channel, "listening for entity cache invalidations");
    let mut messages = pubsub.on_message();
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            let closed = (redis::ErrorKind::IoError, "subscription closed");
            return Err(redis::RedisError::from(closed));
        };
        match policy::parse_items(message.get_payload_bytes()) {
            Ok(items) => {
                if cache.invalidate_all(&items, metrics).await.is_none() {
                    tracing::warn!(%channel, "an invalidation from the channel could not be applied");
                }
            }
            Err(error) => tracing::warn!(%channel, %error, "unreadable invalidation message"),
        }
    }
}
