//! The outbox sweep: every stored message gets its `MessagePosted` event, even when appending
//! failed (Redis down) or the sending replica died between storing and appending.
//!
//! Messages are stored with `posted: false` and marked once their event is appended. Each
//! replica periodically re-posts messages still unmarked after [`GRACE`]. Two replicas (or a
//! sweep and a slow sender) may both append one message's event; it carries the message id as
//! its event id, so consumers, which deduplicate by event id, see it once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kit::store::{now_millis, Filter, FindOptions, Order, Update};
use kit::ApiResult;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::service::ChatService;

/// How often each replica sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How old an unposted message must be before the sweep takes it over from its sender.
pub const GRACE: Duration = Duration::from_secs(10);
/// Messages re-posted per sweep query.
const BATCH: u64 = 100;

impl ChatService {
    /// Appends `MessagePosted` for messages stored before `created_before` (ms) and not yet
    /// posted; returns how many were handled. Deleted messages are marked without an event.
    pub async fn repost_pending(&self, created_before: i64) -> ApiResult<usize> {
        let filter = Filter::eq("posted", false).and(Filter::lt("createdAt", created_before));
        let options = FindOptions::default()
            .sort("createdAt", Order::Asc)
            .limit(BATCH);
        let pending = self.messages.find(&filter, &options).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut room_ids: Vec<String> = pending.iter().map(|m| m.room_id.clone()).collect();
        room_ids.sort();
        room_ids.dedup();
        let rooms: HashMap<String, _> = self
            .rooms_by_ids(&room_ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        for message in &pending {
            match rooms.get(&message.room_id) {
                Some(room) if !message.deleted => self.post_event(room, message).await,
                // Gone before anyone was told: nothing left to announce.
                _ => {
                    let posted = Update::new().set("posted", true);
                    self.messages
                        .update_one(&Filter::eq("id", message.id.as_str()), &posted)
                        .await?;
                }
            }
        }
        Ok(pending.len())
    }
}

/// Sweeps every [`SWEEP_EVERY`] until `shutdown` is cancelled.
pub fn spawn_sweeper(service: Arc<ChatService>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
            let cutoff = now_millis() - GRACE.as_millis() as i64;
            match service.repost_pending(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "outbox sweep re-posted MessagePosted"),
                Err(error) => {
                    tracing::warn!(code = error.code(), "outbox sweep failed; retrying later")
                }
            }
        }
    })
}
