//! Events of two kinds, each with a Redis backend and one that needs no server:
//!
//! - **Live fan-out** ([`PubSub`]): fire-and-forget messages for GraphQL subscriptions. Any
//!   replica's subscribers see any replica's publishes (Redis pub/sub); nothing is stored, so a
//!   subscriber only sees what is published while it is subscribed.
//! - **Durable domain events** ([`EventStream`]): at-least-once delivery through consumer
//!   groups (Redis streams, or SQLite shared by processes on one machine), with pending entries
//!   of dead consumers reclaimed. [`spawn_consumer`] is the loop every subgraph runs; an event
//!   whose handler keeps failing moves to a [`dead_letters`] stream instead of retrying forever,
//!   and [`spawn_trimmer`] keeps every stream bounded.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

mod consumer;
pub mod dead_letters;
mod embedded;
mod pubsub;
mod redis_pubsub;
mod redis_stream;
pub mod trim;

/// The pub/sub channel the router's entity cache listens to for invalidations (in Redis,
/// `<redis_prefix>:router:invalidate`): a subgraph publishes there what its domain events
/// changed, in Apollo Router's invalidation format.
pub const CACHE_INVALIDATION_CHANNEL: &str = "router:invalidate";

pub use consumer::{spawn_consumer, ConsumerConfig, EventHandler, HandlerError};
pub use embedded::EmbeddedEventStream;
pub use pubsub::InProcessPubSub;
pub use redis_pubsub::RedisPubSub;
pub use redis_stream::RedisEventStream;
pub use trim::spawn_trimmer;

/// Errors of the event backends. [`EventError::code`] is stable; messages are for logs.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer {op} within {timeout:?}")]
    Timeout { op: &'static str, timeout: Duration },
    #[error("the redis pub/sub connection is down (reconnecting)")]
    Disconnected,
    #[error("event storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("event (de)serialization error: {0}")]
    Serialization(#[from] serde_json::Error),
    #[error("consumer group {group:?} does not exist on stream {stream:?}")]
    NoGroup { stream: String, group: String },
    #[error("invalid stream entry id {0:?}")]
    InvalidEntryId(String),
    #[error("internal event backend error: {0}")]
    Internal(String),
}

impl EventError {
    /// A stable, machine-readable code per variant (for logs and metrics labels).
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Redis(_) => "EVENTS_REDIS",
            EventError::Timeout { .. } => "EVENTS_TIMEOUT",
            EventError::Disconnected => "EVENTS_DISCONNECTED",
            EventError::Storage(_) => "EVENTS_STORAGE",
            EventError::Serialization(_) => "EVENTS_SERIALIZATION",
            EventError::NoGroup { .. } => "EVENTS_NO_GROUP",
            EventError::InvalidEntryId(_) => "EVENTS_INVALID_ENTRY_ID",
            EventError::Internal(_) => "EVENTS_INTERNAL",
        }
    }
}

/// Live fan-out of JSON payloads on named channels (GraphQL subscriptions).
#[async_trait]
pub trait PubSub: Send + Sync + 'static {
    /// Publish a JSON payload on a channel (e.g. "boards:task:<boardId>").
    async fn publish(&self, channel: &str, payload: &str) -> Result<(), EventError>;
    /// Stream of payloads published on `channel` after this call returns. Dropping the stream
    /// unsubscribes. A subscriber that falls too far behind skips the messages it missed (a
    /// warning is logged) instead of being disconnected: subscriptions are live views, and a
    /// closed stream would lose the same messages plus everything until the client resubscribes.
    async fn subscribe(&self, channel: &str) -> Result<BoxStream<'static, String>, EventError>;
}

/// The pub/sub a service shares between its resolvers.
pub type SharedPubSub = Arc<dyn PubSub>;

/// A durable domain event. Consumers deduplicate by `id`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DomainEvent {
    /// UUID v7: unique, and sorts by creation time.
    pub id: String,
    /// What happened, e.g. "BoardCreated".
    pub kind: String,
    /// The user id that caused it.
    pub actor: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub payload: serde_json::Value,
    /// The W3C trace context of the request that caused the event (`traceparent`,
    /// `tracestate`), so its handling continues that trace; empty without trace export.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub trace: std::collections::BTreeMap<String, String>,
}

impl DomainEvent {
    /// A new event with a fresh id, stamped now.
    pub fn new(kind: &str, actor: &str, payload: serde_json::Value) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            at: chrono::Utc::now(),
            payload,
            trace: telemetry::propagation::carrier(&tracing::Span::current()),
        }
    }
}

/// One delivery of a stream entry to a consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Backend-specific entry id; pass it to [`EventStream::ack`].
    pub entry_id: String,
    pub event: DomainEvent,
    /// 1 on first delivery, more when the entry was reclaimed from a consumer that did not ack.
    pub delivery_count: u64,
}

/// Durable, at-least-once event streams with consumer groups.
#[async_trait]
pub trait EventStream: Send + Sync + 'static {
    /// Append an event; returns its entry id.
    async fn append(&self, stream: &str, event: &DomainEvent) -> Result<String, EventError>;
    /// Create the consumer group if missing (idempotent). A new group starts at the beginning
    /// of the stream, so events appended before the consumer first started are delivered.
    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), EventError>;
    /// Entries never delivered to this group, now owned by `consumer` until acked. Waits up to
    /// `block` for at least one (`Duration::ZERO` = do not wait).
    async fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, EventError>;
    /// Reassign to `consumer` up to `count` entries pending (unacked) for longer than
    /// `min_idle` on any consumer of the group; their delivery count goes up by one.
    async fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, EventError>;
    /// Mark entries as processed by the group.
    async fn ack(&self, stream: &str, group: &str, entry_ids: &[String]) -> Result<(), EventError>;
    /// How many entries of the group are delivered but not acked.
    async fn pending_count(&self, stream: &str, group: &str) -> Result<u64, EventError>;
    /// Up to `count` entries of the stream, oldest first, with their entry ids (to inspect a
    /// stream outside any group, such as a dead-letter stream).
    async fn range(
        &self,
        stream: &str,
        count: usize,
    ) -> Result<Vec<(String, DomainEvent)>, EventError>;
    /// Removes entries from the stream.
    async fn delete(&self, stream: &str, entry_ids: &[String]) -> Result<(), EventError>;
    /// Removes the oldest entries that every group of the stream has read and acked and
    /// that are older than `retain`; returns how many were removed (see [`trim`]).
    async fn trim(&self, stream: &str, retain: Duration) -> Result<u64, EventError>;
}

/// The event stream a service shares between its writers and consumers.
pub type SharedEventStream = Arc<dyn EventStream>;
