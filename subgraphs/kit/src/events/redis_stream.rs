//! Durable domain events on Redis streams (Redis 7: XAUTOCLAIM).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{
    StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamPendingReply, StreamReadReply,
};
use redis::AsyncConnectionConfig;

use super::{Delivery, DomainEvent, EventError, EventStream};
use crate::metrics::Metrics;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// The stream entry field holding the event JSON.
const FIELD: &str = "event";
/// Idle connections kept for blocking reads.
const MAX_IDLE_BLOCKING: usize = 4;

/// Domain events on Redis streams: XADD, consumer groups, XREADGROUP, XAUTOCLAIM, XACK.
///
/// Stream `s` is the Redis key `<key_prefix>s`. Blocking reads (`XREADGROUP .. BLOCK`) stall
/// every command queued behind them on a connection, so they run on dedicated connections
/// from a small pool; everything else shares one self-reconnecting `ConnectionManager`.
pub struct RedisEventStream {
    client: redis::Client,
    /// Replaced by a fresh one when a command times out or the connection fails: a manager
    /// whose server restarted can otherwise stay unanswering for minutes.
    conn: parking_lot::RwLock<ConnectionManager>,
    /// Held while a replacement connects, so callers do not pile up reconnects.
    reconnecting: tokio::sync::Mutex<()>,
    blocking: Mutex<Vec<MultiplexedConnection>>,
    prefix: String,
    metrics: Arc<Metrics>,
}

impl RedisEventStream {
    /// Connects to Redis; fails if it is unreachable.
    pub async fn connect(
        url: &str,
        key_prefix: &str,
        metrics: Arc<Metrics>,
    ) -> Result<Self, EventError> {
        let client = redis::Client::open(url)?;
        let conn = manager(&client).await?;
        Ok(Self {
            client,
            conn: parking_lot::RwLock::new(conn),
            reconnecting: tokio::sync::Mutex::new(()),
            blocking: Mutex::default(),
            prefix: key_prefix.to_owned(),
            metrics,
        })
    }

    fn key(&self, stream: &str) -> String {
        format!("{}{stream}", self.prefix)
    }

    /// Runs one command on the shared connection with a timeout, recording its latency.
    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, EventError> {
        let mut conn = self.conn.read().clone();
        let result = self
            .observed(op, COMMAND_TIMEOUT, cmd.query_async(&mut conn))
            .await;
        if result.as_ref().is_err_and(connection_lost) {
            self.reconnect().await;
        }
        result
    }

    /// Replaces the shared connection with a fresh one, unless another caller is already
    /// doing it; a failed attempt leaves the old one (the next failure tries again).
    async fn reconnect(&self) {
        let Ok(_only_one) = self.reconnecting.try_lock() else {
            return;
        };
        match manager(&self.client).await {
            Ok(fresh) => {
                *self.conn.write() = fresh;
                tracing::info!("redis event stream reconnected");
            }
            Err(error) => tracing::warn!(%error, "redis event stream still unreachable"),
        }
    }

    async fn observed<T>(
        &self,
        op: &'static str,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, EventError> {
        let started = Instant::now();
        let span = crate::telemetry::backend_span("redis", op);
        let call = tokio::time::timeout(limit, call);
        let result = tracing::Instrument::instrument(call, span).await;
        self.metrics.observe_redis("events", op, started.elapsed());
        match result {
            Ok(result) => Ok(result?),
            Err(_) => Err(timeout_error(op, limit)),
        }
    }

    /// XREADGROUP with BLOCK on a pooled dedicated connection.
    async fn blocking_read(
        &self,
        cmd: &redis::Cmd,
        block: Duration,
    ) -> Result<Option<StreamReadReply>, EventError> {
        let pooled = self.blocking.lock().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                // No response timeout: the server legitimately holds the reply for `block`.
                let config = AsyncConnectionConfig::new().set_connection_timeout(COMMAND_TIMEOUT);
                self.observed(
                    "connect",
                    COMMAND_TIMEOUT,
                    self.client
                        .get_multiplexed_async_connection_with_config(&config),
                )
                .await?
            }
        };
        let limit = block + COMMAND_TIMEOUT;
        let result = self
            .observed("xreadgroup", limit, cmd.query_async(&mut conn))
            .await;
        let mut idle = self.blocking.lock();
        match &result {
            // Only a connection that answered is known to be clean (no reply in flight).
            Ok(_) => {
                if idle.len() < MAX_IDLE_BLOCKING {
                    idle.push(conn);
                }
            }
            // The server went away: the other idle connections are dead too.
            Err(EventError::Redis(error)) if error.is_io_error() => idle.clear(),
            Err(_) => {}
        }
        drop(idle);
        result
    }

    /// Delivery counts of entries now pending on `consumer`, for ids in `first..=last`.
    async fn delivery_counts(
        &self,
        key: &str,
        group: &str,
        consumer: &str,
        ids: &[StreamId],
    ) -> Result<HashMap<String, u64>, EventError> {
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(HashMap::new());
        };
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(key)
            .arg(group)
            .arg(&first.id)
            .arg(&last.id)
            .arg(ids.len().max(1) * 2)
            .arg(consumer);
        let reply: StreamPendingCountReply = self
            .run("xpending", &cmd)
            .await
            .map_err(no_group(key, group))?;
        Ok(reply
            .ids
            .into_iter()
            .map(|pending| (pending.id, pending.times_delivered as u64))
            .collect())
    }
}

/// A self-reconnecting connection to `client`'s server, connected within the command timeout.
async fn manager(client: &redis::Client) -> Result<ConnectionManager, EventError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(COMMAND_TIMEOUT)
        .set_response_timeout(COMMAND_TIMEOUT)
        .set_number_of_retries(2);
    let conn = ConnectionManager::new_with_config(client.clone(), config);
    match tokio::time::timeout(COMMAND_TIMEOUT, conn).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(timeout_error("connect", COMMAND_TIMEOUT)),
    }
}

/// Whether `error` says the connection hangs: a command got no answer in time. (A refused
/// or dropped connection the manager handles itself, reconnecting on the next command.)
fn connection_lost(error: &EventError) -> bool {
    matches!(error, EventError::Timeout { .. })
}

fn timeout_error(op: &'static str, timeout: Duration) -> EventError {
    EventError::Timeout { op, timeout }
}

/// Maps Redis' NOGROUP error to [`EventError::NoGroup`].
fn no_group<'a>(key: &'a str, group: &'a str) -> impl Fn(EventError) -> EventError + 'a {
    move |error| match error {
        EventError::Redis(ref redis) if redis.code() == Some("NOGROUP") => EventError::NoGroup {
            stream: key.to_owned(),
            group: group.to_owned(),
        },
        other => other,
    }
}

/// Decodes entries; an entry without a decodable event can never be handled, so it is
/// returned separately for the caller to ack (and logged) rather than redelivered forever.
fn decode(
    ids: Vec<StreamId>,
    counts: &HashMap<String, u64>,
    default_count: u64,
) -> (Vec<Delivery>, Vec<String>) {
    let mut deliveries = Vec::with_capacity(ids.len());
    let mut poison = Vec::new();
    for entry in ids {
        let event = entry
            .get::<String>(FIELD)
            .ok_or_else(|| "missing event field".to_owned())
            .and_then(|json| {
                serde_json::from_str::<DomainEvent>(&json).map_err(|error| error.to_string())
            });
        match event {
            Ok(event) => deliveries.push(Delivery {
                delivery_count: counts.get(&entry.id).copied().unwrap_or(default_count),
                entry_id: entry.id,
                event,
            }),
            Err(error) => {
                tracing::error!(entry = %entry.id, %error, "undecodable stream entry; acking it");
                poison.push(entry.id);
            }
        }
    }
    (deliveries, poison)
}

#[async_trait]
impl EventStream for RedisEventStream {
    async fn append(&self, stream: &str, event: &DomainEvent) -> Result<String, EventError> {
        let json = serde_json::to_string(event)?;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.key(stream)).arg("*").arg(FIELD).arg(json);
        let id: String = self.run("xadd", &cmd).await?;
        self.metrics.count_event(stream, "published");
        Ok(id)
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), EventError> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(self.key(stream))
            .arg(group)
            .arg("0")
            .arg("MKSTREAM");
        match self.run::<()>("xgroup_create", &cmd).await {
            Err(EventError::Redis(error)) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    async fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, EventError> {
        let key = self.key(stream);
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(group).arg(consumer);
        cmd.arg("COUNT").arg(count.max(1));
        // BLOCK 0 means "forever" to Redis; a zero duration means "do not wait" here.
        let block_ms = block.as_millis();
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms as u64);
        }
        cmd.arg("STREAMS").arg(&key).arg(">");
        let reply = if block_ms > 0 {
            self.blocking_read(&cmd, block).await
        } else {
            self.run::<Option<StreamReadReply>>("xreadgroup", &cmd)
                .await
        }
        .map_err(no_group(&key, group))?;
        let ids = reply
            .map(|reply| reply.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        let (deliveries, poison) = decode(ids, &HashMap::new(), 1);
        self.ack(stream, group, &poison).await?;
        Ok(deliveries)
    }

    async fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, EventError> {
        let key = self.key(stream);
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&key)
            .arg(group)
            .arg(consumer)
            .arg(min_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count.clamp(1, i64::MAX as usize));
        let reply: StreamAutoClaimReply = self
            .run("xautoclaim", &cmd)
            .await
            .map_err(no_group(&key, group))?;
        let counts = self
            .delivery_counts(&key, group, consumer, &reply.claimed)
            .await?;
        // XAUTOCLAIM already bumped the count; 2 is the least a reclaimed entry can have.
        let (deliveries, poison) = decode(reply.claimed, &counts, 2);
        self.ack(stream, group, &poison).await?;
        Ok(deliveries)
    }

    async fn ack(&self, stream: &str, group: &str, entry_ids: &[String]) -> Result<(), EventError> {
        if entry_ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XACK");
        cmd.arg(self.key(stream)).arg(group).arg(entry_ids);
        self.run::<u64>("xack", &cmd).await.map(|_acked| ())
    }

    async fn range(
        &self,
        stream: &str,
        count: usize,
    ) -> Result<Vec<(String, DomainEvent)>, EventError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.key(stream))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count.clamp(1, i64::MAX as usize));
        let reply: redis::streams::StreamRangeReply = self.run("xrange", &cmd).await?;
        // Outside any group nothing is pending, so an undecodable entry is only skipped.
        let (deliveries, _undecodable) = decode(reply.ids, &HashMap::new(), 1);
        Ok(deliveries
            .into_iter()
            .map(|d| (d.entry_id, d.event))
            .collect())
    }

    async fn delete(&self, stream: &str, entry_ids: &[String]) -> Result<(), EventError> {
        if entry_ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("XDEL");
        cmd.arg(self.key(stream)).arg(entry_ids);
        self.run::<u64>("xdel", &cmd).await.map(|_deleted| ())
    }

    async fn trim(&self, stream: &str, retain: Duration) -> Result<u64, EventError> {
        let key = self.key(stream);
        let mut info = redis::cmd("XINFO");
        info.arg("GROUPS").arg(&key);
        let groups: redis::streams::StreamInfoGroupsReply =
            match self.run("xinfo_groups", &info).await {
                Ok(groups) => groups,
                // No stream yet: nothing to trim.
                Err(EventError::Redis(e)) if e.to_string().contains("no such key") => return Ok(0),
                Err(e) => return Err(e),
            };
        let cutoff_ms = chrono::Utc::now().timestamp_millis() - retain.as_millis() as i64;
        let mut keep_from = (cutoff_ms.max(0) as u64, 0u64);
        for group in &groups.groups {
            let needed = if group.pending > 0 {
                let mut pending = redis::cmd("XPENDING");
                pending.arg(&key).arg(&group.name);
                match self.run::<StreamPendingReply>("xpending", &pending).await? {
                    StreamPendingReply::Data(data) => parse_id(&data.start_id),
                    StreamPendingReply::Empty => next_id(parse_id(&group.last_delivered_id)),
                }
            } else {
                next_id(parse_id(&group.last_delivered_id))
            };
            keep_from = keep_from.min(needed);
        }
        let mut trim = redis::cmd("XTRIM");
        trim.arg(&key)
            .arg("MINID")
            .arg(format!("{}-{}", keep_from.0, keep_from.1));
        self.run("xtrim", &trim).await
    }

    async fn pending_count(&self, stream: &str, group: &str) -> Result<u64, EventError> {
        let key = self.key(stream);
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&key).arg(group);
        let reply: StreamPendingReply = self
            .run("xpending", &cmd)
            .await
            .map_err(no_group(&key, group))?;
        Ok(reply.count() as u64)
    }
}

/// A stream entry id as `(milliseconds, sequence)`; `0-0` when it does not parse.
fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// The smallest id after `id`.
fn next_id((ms, seq): (u64, u64)) -> (u64, u64) {
    match seq.checked_add(1) {
        Some(seq) => (ms, seq),
        None => (ms + 1, 0),
    }
}
