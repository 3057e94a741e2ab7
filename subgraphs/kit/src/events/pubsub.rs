//! In-process pub/sub, and the subscription stream both pub/sub backends hand out.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::stream::{BoxStream, Stream};
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::{EventError, PubSub};

/// Messages buffered per channel before a slow subscriber starts skipping.
pub(crate) const DEFAULT_CAPACITY: usize = 256;

type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

/// Pub/sub inside one process: one `tokio::sync::broadcast` per channel. Clones share the
/// channels. Use it when a service runs as a single replica (no Redis configured).
#[derive(Clone)]
pub struct InProcessPubSub {
    channels: Channels,
    capacity: usize,
}

impl Default for InProcessPubSub {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessPubSub {
    /// Channels buffer [`DEFAULT_CAPACITY`] messages per slow subscriber.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// Channels buffer `capacity` messages per slow subscriber before it skips some.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            channels: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Channels with at least one live subscriber.
    pub fn active_channels(&self) -> usize {
        self.channels.lock().len()
    }
}

#[async_trait]
impl PubSub for InProcessPubSub {
    async fn publish(&self, channel: &str, payload: &str) -> Result<(), EventError> {
        if let Some(sender) = self.channels.lock().get(channel) {
            // An error only means nobody listens right now, which is fine for live fan-out.
            let _ = sender.send(payload.to_owned());
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, String>, EventError> {
        let receiver = self
            .channels
            .lock()
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe();
        let channels = Arc::downgrade(&self.channels);
        let name = channel.to_owned();
        let on_drop = move || {
            if let Some(channels) = channels.upgrade() {
                remove_if_unused(&mut channels.lock(), &name);
            }
        };
        Ok(Box::pin(Subscription::new(
            channel,
            receiver,
            Box::new(on_drop),
        )))
    }
}

/// Removes `channel` from the map when its last receiver is gone; true if it did.
pub(crate) fn remove_if_unused(
    channels: &mut HashMap<String, broadcast::Sender<String>>,
    channel: &str,
) -> bool {
    let unused = channels
        .get(channel)
        .is_some_and(|sender| sender.receiver_count() == 0);
    if unused {
        channels.remove(channel);
    }
    unused
}

/// A subscriber's stream: skips (and logs) lagged messages, runs `on_drop` after its receiver
/// is dropped so the backend can unsubscribe when it was the last one.
pub(crate) struct Subscription {
    channel: String,
    inner: Option<BroadcastStream<String>>,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl Subscription {
    pub(crate) fn new(
        channel: &str,
        receiver: broadcast::Receiver<String>,
        on_drop: Box<dyn FnOnce() + Send>,
    ) -> Self {
        Self {
            channel: channel.to_owned(),
            inner: Some(BroadcastStream::new(receiver)),
            on_drop: Some(on_drop),
        }
    }
}

impl Stream for Subscription {
    type Item = String;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match Pin::new(&mut *inner).poll_next(cx) {
                Poll::Ready(Some(Ok(payload))) => return Poll::Ready(Some(payload)),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(skipped)))) => {
                    tracing::warn!(
                        channel = %this.channel,
                        skipped,
                        "slow pub/sub subscriber skipped messages; continuing with newer ones"
                    );
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The receiver must be gone before `on_drop` counts the channel's receivers.
        self.inner.take();
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}
