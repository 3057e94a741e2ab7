//! Domain events survive a failed append: each is recorded in the store first, appended, then
//! the record is deleted. Records left behind (append failed, or the process died in between)
//! are re-sent by a sweeper, so consumers get every event at least once; they deduplicate by
//! the event id (a uuid v7, which also orders events re-sent late). One outbox per stream a
//! service appends to, in its own collection.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::events::{DomainEvent, SharedEventStream};
use crate::store::{now_millis, Collection, Filter, FindOptions, IndexSpec, Order, Store, Update};
use crate::ApiResult;

/// How long after recording an event the sweeper may re-send it: long enough for the inline
/// append to finish, so a healthy append is never duplicated.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often the sweeper looks for events to re-send.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Records re-sent per sweep at most.
const SWEEP_BATCH: u64 = 100;

/// An event not yet known to be on the stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboxDoc {
    /// The event's id.
    id: String,
    event: DomainEvent,
    /// Not re-sent before this time (ms); also the lease a sweeping replica takes.
    due_at: i64,
    attempts: i64,
}

/// The outbox of one stream.
pub struct Outbox {
    docs: Collection<OutboxDoc>,
    events: SharedEventStream,
    stream: &'static str,
}

impl Outbox {
    /// The outbox of `stream`, recording in `collection`.
    pub async fn new(
        store: &Store,
        events: SharedEventStream,
        stream: &'static str,
        collection: &'static str,
    ) -> ApiResult<Self> {
        store
            .ensure_indexes(&[IndexSpec::new(collection, &["dueAt"])])
            .await?;
        Ok(Self {
            docs: store.collection(collection),
            events,
            stream,
        })
    }

    /// Records `event`, appends it, and drops the record once appended. Failures are logged,
    /// not returned: the write the event describes is already stored.
    pub async fn send(&self, event: DomainEvent) {
        let doc = OutboxDoc {
            id: event.id.clone(),
            event,
            due_at: now_millis() + RETRY_AFTER.as_millis() as i64,
            attempts: 0,
        };
        let recorded = match self.docs.insert(&doc).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(event_id = %doc.id, %error, "outbox record failed; appending without it");
                false
            }
        };
        match self.events.append(self.stream, &doc.event).await {
            Ok(_) if recorded => self.forget(&doc.id).await,
            Ok(_) => {}
            Err(error) if recorded => {
                tracing::warn!(event_id = %doc.id, code = error.code(), %error, "domain event append failed; the outbox sweeper retries it");
            }
            Err(error) => {
                tracing::error!(event_id = %doc.id, kind = %doc.event.kind, code = error.code(), %error, "domain event lost");
            }
        }
    }

    async fn forget(&self, id: &str) {
        if let Err(error) = self.docs.delete_many(&Filter::eq("id", id)).await {
            // The sweeper will send it again; consumers deduplicate by id.
            tracing::warn!(event_id = id, %error, "outbox record not deleted");
        }
    }

    /// Re-sends records due by `now` (ms), oldest first; returns how many reached the stream.
    /// Each record is leased before sending, so concurrent sweepers (replicas) do not both
    /// send it. Stops at the first failed append: the stream is down, the rest would fail too.
    pub async fn sweep(&self, now: i64) -> ApiResult<usize> {
        let opts = FindOptions::default()
            .sort("dueAt", Order::Asc)
            .limit(SWEEP_BATCH);
        let due = self.docs.find(&Filter::lte("dueAt", now), &opts).await?;
        let mut sent = 0;
        for doc in due {
            let lease = Filter::eq("id", doc.id.as_str()).and(Filter::eq("dueAt", doc.due_at));
            let backoff = RETRY_AFTER.as_millis() as i64 * (doc.attempts + 1).min(30);
            let claim = Update::new()
                .set("dueAt", now_millis() + backoff)
                .inc("attempts", 1);
            if self.docs.update_one(&lease, &claim).await?.is_none() {
                continue; // another replica has it
            }
            match self.events.append(self.stream, &doc.event).await {
                Ok(_) => {
                    self.forget(&doc.id).await;
                    sent += 1;
                }
                Err(error) => {
                    tracing::warn!(event_id = %doc.id, code = error.code(), %error, "outbox re-send failed; retrying later");
                    break;
                }
            }
        }
        if sent > 0 {
            tracing::info!(sent, "outbox re-sent domain events");
        }
        Ok(sent)
    }

    /// Sweeps every `every` until `shutdown` is cancelled.
    pub fn spawn_sweeper(
        self: Arc<Self>,
        every: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                if let Err(error) = self.sweep(now_millis()).await {
                    tracing::warn!(error = ?error, "outbox sweep failed");
                }
            }
        })
    }
}
