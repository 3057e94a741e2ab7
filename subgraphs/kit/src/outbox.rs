//! Domain events stored with the write that causes them. The store has no multi-document
//! transactions, so an event rides in the very document its write changes: the insert or
//! single-document update that makes the change also adds the event to the document's
//! `outbox` array and sets `outboxDueAt`. Only then is the event appended to its stream and
//! pulled from the document. A process that dies between the write and the append, or an
//! append that fails, leaves the event in the document, and a leased sweeper sends it later.
//! No change goes unannounced, and no event announces a change that was not stored. Consumers
//! get every event at least once and deduplicate by its id (a uuid v7, which also orders events
//! sent late).

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::events::{DomainEvent, SharedEventStream};
use crate::store::{
    new_id, now_millis, Collection, Filter, FindOptions, IndexSpec, Order, Store, StoreError,
    StoreResult, Update,
};
use crate::ApiResult;

/// The events a document still has to send.
pub const PENDING: &str = "outbox";
/// When the sweeper may send them (ms); set by every write that adds one.
pub const DUE_AT: &str = "outboxDueAt";
/// Who last touched the pending events (a writer or a sweeper's lease): whoever still holds
/// it knows every pending event and may clear [`DUE_AT`].
const LEASE: &str = "outboxLease";
const ATTEMPTS: &str = "outboxAttempts";
/// The document is retired: gone for readers, and deleted once its events are sent.
pub const RETIRED: &str = "retired";

/// How long after a write the sweeper may send its events: long enough for the inline append
/// to finish, so a healthy append is never duplicated.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often the sweeper looks for events to send.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Documents swept per collection and sweep at most.
const SWEEP_BATCH: u64 = 100;

/// A document's outbox fields.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboxFields {
    #[serde(default)]
    outbox: Vec<Value>,
    #[serde(default)]
    outbox_due_at: Option<i64>,
    #[serde(default)]
    outbox_attempts: i64,
    #[serde(default)]
    retired: bool,
}

/// A document as the sweeper reads it.
#[derive(Serialize, Deserialize)]
struct Pending {
    id: String,
    #[serde(flatten)]
    fields: OutboxFields,
}

/// A document as an outbox write returns it: the caller's view and the outbox fields.
#[derive(Serialize, Deserialize)]
struct Written<T> {
    #[serde(flatten)]
    doc: T,
    #[serde(flatten)]
    fields: OutboxFields,
}

/// The outbox of one stream, over the collections whose writes announce themselves on it.
pub struct Outbox {
    events: SharedEventStream,
    stream: &'static str,
    sources: Vec<Collection<Pending>>,
}

impl Outbox {
    /// The outbox of `stream`, whose events are stored in documents of `collections`.
    pub async fn new(
        store: &Store,
        events: SharedEventStream,
        stream: &'static str,
        collections: &[&'static str],
    ) -> ApiResult<Self> {
        let indexes: Vec<IndexSpec> = collections
            .iter()
            .map(|c| IndexSpec::new(c, &[DUE_AT]))
            .collect();
        store.ensure_indexes(&indexes).await?;
        Ok(Self {
            events,
            stream,
            sources: collections.iter().map(|c| store.collection(c)).collect(),
        })
    }

    /// Inserts `doc` with `event` in it, then sends the event.
    pub async fn insert<T>(
        &self,
        collection: &Collection<T>,
        doc: &T,
        event: DomainEvent,
    ) -> StoreResult<()>
    where
        T: Serialize + DeserializeOwned + HasId,
    {
        let lease = new_id();
        let value = to_value(&event)?;
        let mut stored = serde_json::to_value(doc).map_err(|e| invalid(collection.name(), e))?;
        if let Value::Object(fields) = &mut stored {
            fields.insert(PENDING.into(), Value::Array(vec![value.clone()]));
            fields.insert(DUE_AT.into(), due_at().into());
            fields.insert(LEASE.into(), lease.as_str().into());
        }
        collection.of::<Value>().insert(&stored).await?;
        let docs = collection.of::<Pending>();
        self.deliver(&docs, doc.id(), (&event, value), &lease, false)
            .await;
        Ok(())
    }

    /// Applies `update` to the document `filter` matches, adding `event` to it in the same
    /// store operation, then sends the event. `None` (nothing matched) sends nothing.
    pub async fn update<T>(
        &self,
        collection: &Collection<T>,
        filter: &Filter,
        update: Update,
        event: DomainEvent,
    ) -> StoreResult<Option<T>>
    where
        T: Serialize + DeserializeOwned + HasId,
    {
        self.write(collection, filter, update, event, false).await
    }

    /// Like [`Outbox::update`], for the write that ends a document: it is deleted once the
    /// event is on the stream. Readers must treat the document as gone from this write on.
    pub async fn retire<T>(
        &self,
        collection: &Collection<T>,
        filter: &Filter,
        update: Update,
        event: DomainEvent,
    ) -> StoreResult<Option<T>>
    where
        T: Serialize + DeserializeOwned + HasId,
    {
        self.write(collection, filter, update, event, true).await
    }

    async fn write<T>(
        &self,
        collection: &Collection<T>,
        filter: &Filter,
        update: Update,
        event: DomainEvent,
        then_delete: bool,
    ) -> StoreResult<Option<T>>
    where
        T: Serialize + DeserializeOwned + HasId,
    {
        let lease = new_id();
        let value = to_value(&event)?;
        let mut update = update
            .add_to_set(PENDING, value.clone())
            .set(DUE_AT, due_at())
            .set(LEASE, lease.as_str());
        if then_delete {
            update = update.set(RETIRED, true);
        }
        let written = collection
            .of::<Written<T>>()
            .update_one(filter, &update)
            .await?;
        let Some(Written { doc, fields }) = written else {
            return Ok(None);
        };
        // Only a writer whose event is the only one pending may clear the due time.
        let lease = if fields.outbox.len() == 1 {
            lease.as_str()
        } else {
            ""
        };
        let docs = collection.of::<Pending>();
        self.deliver(&docs, doc.id(), (&event, value), lease, then_delete)
            .await;
        Ok(Some(doc))
    }

    /// Appends `event` (pending in document `id`, stored as `value`), then removes it from the
    /// document (or deletes the document). Failures are logged, not returned: the write is
    /// stored, and its event stays in the document for the sweeper.
    async fn deliver(
        &self,
        docs: &Collection<Pending>,
        id: &str,
        (event, value): (&DomainEvent, Value),
        lease: &str,
        then_delete: bool,
    ) {
        #[cfg(feature = "testing")]
        crate::testing::fault_point("outbox-before-append").await;
        if let Err(error) = self.events.append(self.stream, event).await {
            tracing::warn!(event_id = %event.id, code = error.code(), %error, "domain event append failed; the outbox sweeper retries it");
            return;
        }
        let sent = std::slice::from_ref(&value);
        if let Err(error) = self.forget(docs, id, sent, lease, then_delete).await {
            // The sweeper will send them again; consumers deduplicate by id.
            tracing::warn!(collection = docs.name(), id, %error, "sent outbox events not cleared");
        }
    }

    /// Removes sent `events` from document `id`. Holding `lease` (nobody added an event since)
    /// also clears the due time; otherwise the sweeper clears it once nothing is pending.
    async fn forget(
        &self,
        docs: &Collection<Pending>,
        id: &str,
        events: &[Value],
        lease: &str,
        then_delete: bool,
    ) -> StoreResult<()> {
        if then_delete {
            docs.delete_many(&Filter::eq("id", id)).await?;
            return Ok(());
        }
        let pull = events
            .iter()
            .fold(Update::new(), |update, e| update.pull(PENDING, e.clone()));
        if !lease.is_empty() {
            let held = Filter::eq("id", id).and(Filter::eq(LEASE, lease));
            let clear = pull.clone().unset(DUE_AT).unset(LEASE).unset(ATTEMPTS);
            if docs.update_one(&held, &clear).await?.is_some() {
                return Ok(());
            }
        }
        docs.update_one(&Filter::eq("id", id), &pull).await?;
        Ok(())
    }

    /// Sends the events of documents due by `now` (ms), oldest first; returns how many reached
    /// the stream. Each document is leased before sending, so concurrent sweepers (replicas)
    /// do not both send it. Stops at the first failed append: the stream is down.
    pub async fn sweep(&self, now: i64) -> ApiResult<usize> {
        let mut sent = 0;
        for docs in &self.sources {
            let opts = FindOptions::default()
                .sort(DUE_AT, Order::Asc)
                .limit(SWEEP_BATCH);
            for doc in docs.find(&Filter::lte(DUE_AT, now), &opts).await? {
                match self.sweep_one(docs, doc).await? {
                    Some(n) => sent += n,
                    None => return Ok(sent),
                }
            }
        }
        if sent > 0 {
            tracing::info!(
                sent,
                stream = self.stream,
                "outbox sent pending domain events"
            );
        }
        Ok(sent)
    }

    /// Leases and sends one document's events: `None` when the stream is down.
    async fn sweep_one(
        &self,
        docs: &Collection<Pending>,
        doc: Pending,
    ) -> ApiResult<Option<usize>> {
        let lease = new_id();
        let held =
            Filter::eq("id", doc.id.as_str()).and(Filter::eq(DUE_AT, doc.fields.outbox_due_at));
        let backoff = RETRY_AFTER.as_millis() as i64 * (doc.fields.outbox_attempts + 1).min(30);
        let claim = Update::new()
            .set(DUE_AT, now_millis() + backoff)
            .set(LEASE, lease.as_str())
            .inc(ATTEMPTS, 1);
        let Some(leased) = docs.update_one(&held, &claim).await? else {
            return Ok(Some(0)); // another replica has it, or a writer just touched it
        };
        let pending = &leased.fields.outbox;
        let mut events = Vec::with_capacity(pending.len());
        for value in pending {
            match serde_json::from_value::<DomainEvent>(value.clone()) {
                Ok(event) => events.push(event),
                Err(error) => tracing::error!(id = %leased.id, %error, "unreadable outbox event"),
            }
        }
        for event in &events {
            if let Err(error) = self.events.append(self.stream, event).await {
                tracing::warn!(event_id = %event.id, code = error.code(), %error, "outbox re-send failed; retrying later");
                return Ok(None);
            }
        }
        let then_delete = leased.fields.retired;
        self.forget(docs, &leased.id, pending, &lease, then_delete)
            .await?;
        Ok(Some(events.len()))
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

/// Documents the outbox inserts: it needs their id.
pub trait HasId {
    fn id(&self) -> &str;
}

fn due_at() -> i64 {
    now_millis() + RETRY_AFTER.as_millis() as i64
}

fn to_value(event: &DomainEvent) -> StoreResult<Value> {
    serde_json::to_value(event).map_err(|e| invalid("outbox", e))
}

fn invalid(collection: &str, error: serde_json::Error) -> StoreError {
    StoreError::InvalidDocument {
        collection: collection.to_owned(),
        reason: error.to_string(),
    }
}
