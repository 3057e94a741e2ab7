//! The consumer loop every subgraph runs for its domain-event subscriptions.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Delivery, DomainEvent, EventError, SharedEventStream};
use crate::metrics::Metrics;

/// A handler's failure. Boxed so handlers can use `?` on any error type (a `String` converts
/// with `.into()`); the runner only logs it, so its type carries no meaning.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Reacts to one kind of domain event stream.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Must be idempotent by `event.id`: the same event may be delivered more than once.
    /// An error leaves the event pending; it is retried after `reclaim_idle`, and after
    /// `max_deliveries` failures it moves to the dead-letter stream.
    async fn handle(&self, event: &DomainEvent) -> Result<(), HandlerError>;
}

/// Where and how a consumer reads.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub stream: String,
    pub group: String,
    /// Unique per process (e.g. service name + replica id): pending entries belong to it.
    pub consumer: String,
    /// Entries read per call.
    pub batch: usize,
    /// How long one read waits for new entries; also bounds how often stale entries are sought.
    pub block: Duration,
    /// Entries pending this long on any consumer (dead, or whose handler failed) are retried.
    pub reclaim_idle: Duration,
    /// Deliveries after which a still-failing event moves to the group's dead-letter stream
    /// ([`super::dead_letters`]).
    pub max_deliveries: u64,
}

impl ConsumerConfig {
    /// Batches of 32, 2 s blocking reads, entries reclaimed after 30 s unacked, dead letters
    /// after 5 failed deliveries.
    pub fn new(
        stream: impl Into<String>,
        group: impl Into<String>,
        consumer: impl Into<String>,
    ) -> Self {
        Self {
            stream: stream.into(),
            group: group.into(),
            consumer: consumer.into(),
            batch: 32,
            block: Duration::from_secs(2),
            reclaim_idle: Duration::from_secs(30),
            max_deliveries: 5,
        }
    }
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs a consumer until `shutdown` is cancelled: ensure the group, then repeatedly reclaim
/// stale entries and read new ones, handle each in order and ack it once its handler
/// succeeded. A failed handler leaves its entry pending (reclaimed after `reclaim_idle`,
/// possibly by this consumer) and the batch continues, so one poisoned event cannot stall
/// the stream. Backend errors are logged and retried with exponential backoff.
/// After `max_deliveries` failures an event moves to the group's dead-letter stream.
/// Outcomes are counted as `handled`, `failed`, `redelivered` (delivery count > 1) and
/// `dead_lettered`.
pub fn spawn_consumer(
    events: SharedEventStream,
    config: ConsumerConfig,
    handler: Arc<dyn EventHandler>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let consumer = Consumer {
            events,
            config,
            handler,
            metrics,
            shutdown,
        };
        consumer.run().await;
    })
}

struct Consumer {
    events: SharedEventStream,
    config: ConsumerConfig,
    handler: Arc<dyn EventHandler>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

impl Consumer {
    async fn run(&self) {
        let cfg = &self.config;
        tracing::info!(stream = %cfg.stream, group = %cfg.group, consumer = %cfg.consumer, "event consumer started");
        let mut backoff = MIN_BACKOFF;
        let mut group_ready = false;
        // Claiming scans the pending list, so it runs at most this often, not per batch.
        let claim_every = (cfg.reclaim_idle / 2).max(Duration::from_millis(10));
        let mut last_claim: Option<Instant> = None;
        while !self.shutdown.is_cancelled() {
            let result = if group_ready {
                let claim = last_claim.is_none_or(|at| at.elapsed() >= claim_every);
                if claim {
                    last_claim = Some(Instant::now());
                }
                self.cycle(claim).await
            } else {
                self.events.ensure_group(&cfg.stream, &cfg.group).await
            };
            match result {
                Ok(()) => {
                    group_ready = true;
                    backoff = MIN_BACKOFF;
                }
                Err(error) => {
                    // A group deleted under us (or a Redis that lost its data) needs recreating.
                    if matches!(error, EventError::NoGroup { .. }) {
                        group_ready = false;
                    }
                    tracing::warn!(stream = %cfg.stream, group = %cfg.group, %error, ?backoff, "event consumer backend error; retrying");
                    if !self.sleep(backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!(stream = %cfg.stream, consumer = %cfg.consumer, "event consumer stopped");
    }

    /// One round: optionally reclaim stale entries, then read and handle new ones.
    async fn cycle(&self, claim: bool) -> Result<(), EventError> {
        let cfg = &self.config;
        if claim {
            let stale = self
                .events
                .claim_stale(
                    &cfg.stream,
                    &cfg.group,
                    &cfg.consumer,
                    cfg.reclaim_idle,
                    cfg.batch,
                )
                .await?;
            self.handle_batch(stale).await?;
        }
        // A zero block would make an idle consumer spin; wait at least a little.
        let block = cfg.block.max(Duration::from_millis(10));
        let read = self
            .events
            .read_new(&cfg.stream, &cfg.group, &cfg.consumer, cfg.batch, block);
        let fresh = tokio::select! {
            () = self.shutdown.cancelled() => return Ok(()),
            fresh = read => fresh?,
        };
        self.handle_batch(fresh).await
    }

    async fn handle_batch(&self, deliveries: Vec<Delivery>) -> Result<(), EventError> {
        let cfg = &self.config;
        for delivery in deliveries {
            // Stop between events; unhandled ones stay pending and are reclaimed later.
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            if delivery.delivery_count > 1 {
                self.metrics.count_event(&cfg.stream, "redelivered");
            }
            let span = event_span(&cfg.stream, &delivery.event);
            // A panicking handler is a failed handler, not a dead consumer.
            let handling = AssertUnwindSafe(self.handler.handle(&delivery.event)).catch_unwind();
            let handled = tracing::Instrument::instrument(handling, span)
                .await
                .unwrap_or_else(|_| Err("event handler panicked".into()));
            match handled {
                Ok(()) => {
                    #[cfg(feature = "testing")]
                    crate::testing::fault_point("consumer-before-ack").await;
                    self.events
                        .ack(
                            &cfg.stream,
                            &cfg.group,
                            std::slice::from_ref(&delivery.entry_id),
                        )
                        .await?;
                    self.metrics.count_event(&cfg.stream, "handled");
                }
                Err(error) => {
                    self.metrics.count_event(&cfg.stream, "failed");
                    if delivery.delivery_count >= cfg.max_deliveries {
                        self.bury(&delivery, &error.to_string()).await?;
                        continue;
                    }
                    tracing::warn!(
                        stream = %cfg.stream,
                        event = %delivery.event.id,
                        kind = %delivery.event.kind,
                        attempt = delivery.delivery_count,
                        %error,
                        "event handler failed; the event stays pending for a retry"
                    );
                }
            }
        }
        Ok(())
    }

    /// Moves an event that failed its last allowed delivery to the dead-letter stream, then
    /// acks it, so it no longer comes back. If the move fails it stays pending.
    async fn bury(&self, delivery: &Delivery, error: &str) -> Result<(), EventError> {
        let cfg = &self.config;
        super::dead_letters::bury(&*self.events, &cfg.stream, &cfg.group, delivery, error).await?;
        let entry = std::slice::from_ref(&delivery.entry_id);
        self.events.ack(&cfg.stream, &cfg.group, entry).await?;
        self.metrics.count_event(&cfg.stream, "dead_lettered");
        tracing::error!(
            stream = %cfg.stream,
            group = %cfg.group,
            event = %delivery.event.id,
            kind = %delivery.event.kind,
            attempts = delivery.delivery_count,
            error,
            "event handler failed on every delivery; moved to the dead-letter stream"
        );
        Ok(())
    }

    /// Sleeps unless shut down first; false when shut down.
    async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = self.shutdown.cancelled() => false,
            () = tokio::time::sleep(duration) => true,
        }
    }
}

/// The consumer span handling one event: a child of the request that caused it when the
/// event carries its trace context (OpenTelemetry messaging conventions).
fn event_span(stream: &str, event: &DomainEvent) -> tracing::Span {
    if !crate::telemetry::tracing_enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "event",
        otel.name = %format_args!("process {}", event.kind),
        otel.kind = "consumer",
        messaging.operation.type = "process",
        messaging.destination.name = %stream,
        messaging.message.id = %event.id,
        event.kind = %event.kind,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    telemetry::propagation::continue_from_map(&span, &event.trace);
    span
}
