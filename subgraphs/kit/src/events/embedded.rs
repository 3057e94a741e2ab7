//! Durable domain events in a SQLite file that several processes on one machine share.
//!
//! SQLite has one writer at a time, so a sequence number assigned by an insert is also the
//! commit order: a reader that saw `seq = n` can never later find a new entry below `n`.
//! That is what makes "deliver everything after `last_delivered_seq`" correct here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::Notify;

use super::{Delivery, DomainEvent, EventError, EventStream};
use crate::metrics::Metrics;

/// How often a blocked read looks for entries appended by other processes.
const POLL: Duration = Duration::from_millis(75);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_stream ON entries (stream, seq);
CREATE TABLE IF NOT EXISTS groups (
    stream TEXT NOT NULL,
    group_name TEXT NOT NULL,
    last_delivered_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, group_name)
);
CREATE TABLE IF NOT EXISTS pending (
    stream TEXT NOT NULL,
    group_name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    delivered_at_ms INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL,
    PRIMARY KEY (stream, group_name, seq)
);
";

/// Domain events in a SQLite file (WAL, `synchronous=FULL`): durable across restarts and safe
/// to share between processes. Each handle owns one connection; clones share it. Blocked reads
/// wake at once on an append through the same handle and poll every ~75 ms for other handles
/// and processes. Entries every group has acked are removed after the retention window
/// ([`super::spawn_trimmer`]).
#[derive(Clone)]
pub struct EmbeddedEventStream {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    appended: Notify,
    metrics: Arc<Metrics>,
    path: PathBuf,
}

impl EmbeddedEventStream {
    /// Opens (creating if needed) the events file. Blocks briefly: call it at startup.
    pub fn open(path: &Path, metrics: Arc<Metrics>) -> Result<Self, EventError> {
        let conn = crate::store::open_wal(path, Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                appended: Notify::new(),
                metrics,
                path: path.to_owned(),
            }),
        })
    }

    /// The events file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on this handle's connection off the async runtime.
    async fn with_conn<T, F>(&self, op: &'static str, f: F) -> Result<T, EventError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, EventError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let started = Instant::now();
        let span = crate::telemetry::backend_span("sqlite", op);
        let task = tokio::task::spawn_blocking(move || f(&mut inner.conn.lock()));
        let result = tracing::Instrument::instrument(task, span)
            .await
            .map_err(|error| EventError::Internal(format!("sqlite task failed: {error}")))?;
        self.inner
            .metrics
            .observe_store("sqlite-events", op, started.elapsed());
        result
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn parse_seq(entry_id: &str) -> Result<i64, EventError> {
    entry_id
        .parse()
        .map_err(|_| EventError::InvalidEntryId(entry_id.to_owned()))
}

fn last_delivered(conn: &Connection, stream: &str, group: &str) -> Result<i64, EventError> {
    conn.query_row(
        "SELECT last_delivered_seq FROM groups WHERE stream = ?1 AND group_name = ?2",
        params![stream, group],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| EventError::NoGroup {
        stream: stream.to_owned(),
        group: group.to_owned(),
    })
}

/// Turns `(seq, json, delivery_count)` rows into deliveries. Rows whose JSON does not decode
/// can never be handled: they are returned separately so the caller drops them from pending.
fn decode(rows: Vec<(i64, String, i64)>) -> (Vec<Delivery>, Vec<i64>) {
    let mut deliveries = Vec::with_capacity(rows.len());
    let mut poison = Vec::new();
    for (seq, json, count) in rows {
        match serde_json::from_str::<DomainEvent>(&json) {
            Ok(event) => deliveries.push(Delivery {
                entry_id: seq.to_string(),
                event,
                delivery_count: count.max(1) as u64,
            }),
            Err(error) => {
                tracing::error!(seq, %error, "undecodable event entry; dropping it");
                poison.push(seq);
            }
        }
    }
    (deliveries, poison)
}

/// Entries looked at per trim (the trimmer runs again soon for the rest).
const TRIM_AT_ONCE: i64 = 10_000;

/// Deletes, oldest first, the entries before the first one a group still needs (its oldest
/// pending entry, or the one after the last it was given) and stamped before `cutoff`.
fn trim_older(
    conn: &Connection,
    stream: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<u64, EventError> {
    let needed: Option<i64> = conn.query_row(
        "SELECT MIN(n) FROM (SELECT last_delivered_seq + 1 AS n FROM groups WHERE stream = ?1
         UNION ALL SELECT MIN(seq) FROM pending WHERE stream = ?1)",
        params![stream],
        |row| row.get(0),
    )?;
    let mut select = conn.prepare_cached(
        "SELECT seq, event FROM entries WHERE stream = ?1 AND seq < ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = select.query_map(
        params![stream, needed.unwrap_or(i64::MAX), TRIM_AT_ONCE],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
    )?;
    let mut last = None;
    for row in rows {
        let (seq, json) = row?;
        // Undecodable entries go too: nothing can ever handle them.
        let at = serde_json::from_str::<Stamp>(&json).map(|s| s.at).ok();
        if at.is_some_and(|at| at >= cutoff) {
            break;
        }
        last = Some(seq);
    }
    let Some(last) = last else {
        return Ok(0);
    };
    let removed = conn.execute(
        "DELETE FROM entries WHERE stream = ?1 AND seq <= ?2",
        params![stream, last],
    )?;
    Ok(removed as u64)
}

/// The part of an event a trim reads.
#[derive(serde::Deserialize)]
struct Stamp {
    at: chrono::DateTime<chrono::Utc>,
}

fn delete_pending(
    conn: &Connection,
    stream: &str,
    group: &str,
    seqs: &[i64],
) -> Result<(), EventError> {
    let mut delete = conn
        .prepare_cached("DELETE FROM pending WHERE stream = ?1 AND group_name = ?2 AND seq = ?3")?;
    for seq in seqs {
        delete.execute(params![stream, group, seq])?;
    }
    Ok(())
}

/// Claims up to `count` undelivered entries for `consumer` in one IMMEDIATE transaction, so
/// two processes can never both get the same entry.
fn claim_new(
    conn: &mut Connection,
    stream: &str,
    group: &str,
    consumer: &str,
    count: usize,
) -> Result<Vec<Delivery>, EventError> {
    // Cheap read first: polling consumers must not take the write lock when idle.
    let last = last_delivered(conn, stream, group)?;
    let has_new: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE stream = ?1 AND seq > ?2)",
        params![stream, last],
        |row| row.get(0),
    )?;
    if !has_new {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last = last_delivered(&tx, stream, group)?;
    let rows = {
        let mut select = tx.prepare_cached(
            "SELECT seq, event, 1 FROM entries WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = select.query_map(params![stream, last, count as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        rows.collect::<Result<Vec<(i64, String, i64)>, _>>()?
    };
    let Some(&(max_seq, _, _)) = rows.last() else {
        return Ok(Vec::new());
    };
    let now = now_ms();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO pending (stream, group_name, seq, consumer, delivered_at_ms, delivery_count)
             VALUES (?1, ?2, ?3, ?4, ?5, 1)",
        )?;
        for (seq, _, _) in &rows {
            insert.execute(params![stream, group, seq, consumer, now])?;
        }
    }
    tx.execute(
        "UPDATE groups SET last_delivered_seq = ?3 WHERE stream = ?1 AND group_name = ?2",
        params![stream, group, max_seq],
    )?;
    let (deliveries, poison) = decode(rows);
    delete_pending(&tx, stream, group, &poison)?;
    tx.commit()?;
    Ok(deliveries)
}

/// Reassigns entries pending longer than `min_idle` to `consumer`, bumping delivery counts.
fn claim_idle(
    conn: &mut Connection,
    stream: &str,
    group: &str,
    consumer: &str,
    min_idle: Duration,
    count: usize,
) -> Result<Vec<Delivery>, EventError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    last_delivered(&tx, stream, group)?;
    let now = now_ms();
    let cutoff = now.saturating_sub(min_idle.as_millis() as i64);
    let rows = {
        let mut select = tx.prepare_cached(
            "SELECT p.seq, e.event, p.delivery_count + 1 FROM pending p
             JOIN entries e ON e.seq = p.seq
             WHERE p.stream = ?1 AND p.group_name = ?2 AND p.delivered_at_ms <= ?3
             ORDER BY p.seq LIMIT ?4",
        )?;
        let rows = select.query_map(params![stream, group, cutoff, count as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        rows.collect::<Result<Vec<(i64, String, i64)>, _>>()?
    };
    {
        let mut update = tx.prepare_cached(
            "UPDATE pending SET consumer = ?4, delivered_at_ms = ?5, delivery_count = delivery_count + 1
             WHERE stream = ?1 AND group_name = ?2 AND seq = ?3",
        )?;
        for (seq, _, _) in &rows {
            update.execute(params![stream, group, seq, consumer, now])?;
        }
    }
    let (deliveries, poison) = decode(rows);
    delete_pending(&tx, stream, group, &poison)?;
    tx.commit()?;
    Ok(deliveries)
}

#[async_trait]
impl EventStream for EmbeddedEventStream {
    async fn append(&self, stream: &str, event: &DomainEvent) -> Result<String, EventError> {
        let json = serde_json::to_string(event)?;
        let name = stream.to_owned();
        let seq = self
            .with_conn("append", move |conn| {
                conn.execute(
                    "INSERT INTO entries (stream, event) VALUES (?1, ?2)",
                    params![name, json],
                )?;
                Ok(conn.last_insert_rowid())
            })
            .await?;
        self.inner.appended.notify_waiters();
        self.inner.metrics.count_event(stream, "published");
        Ok(seq.to_string())
    }

    async fn ensure_group(&self, stream: &str, group: &str) -> Result<(), EventError> {
        let (stream, group) = (stream.to_owned(), group.to_owned());
        self.with_conn("ensure_group", move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO groups (stream, group_name, last_delivered_seq) VALUES (?1, ?2, 0)",
                params![stream, group],
            )?;
            Ok(())
        })
        .await
    }

    async fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, EventError> {
        let deadline = tokio::time::Instant::now() + block;
        loop {
            // Registered before looking, so an append between the look and the wait still wakes us.
            let appended = self.inner.appended.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            let (s, g, c) = (stream.to_owned(), group.to_owned(), consumer.to_owned());
            let found = self
                .with_conn("read_new", move |conn| {
                    claim_new(conn, &s, &g, &c, count.max(1))
                })
                .await?;
            let now = tokio::time::Instant::now();
            if !found.is_empty() || now >= deadline {
                return Ok(found);
            }
            let wait = (deadline - now).min(POLL);
            tokio::select! {
                () = appended => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, EventError> {
        let (s, g, c) = (stream.to_owned(), group.to_owned(), consumer.to_owned());
        self.with_conn("claim_stale", move |conn| {
            claim_idle(conn, &s, &g, &c, min_idle, count.max(1))
        })
        .await
    }

    async fn ack(&self, stream: &str, group: &str, entry_ids: &[String]) -> Result<(), EventError> {
        let seqs = entry_ids
            .iter()
            .map(|id| parse_seq(id))
            .collect::<Result<Vec<_>, _>>()?;
        if seqs.is_empty() {
            return Ok(());
        }
        let (stream, group) = (stream.to_owned(), group.to_owned());
        self.with_conn("ack", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            delete_pending(&tx, &stream, &group, &seqs)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn range(
        &self,
        stream: &str,
        count: usize,
    ) -> Result<Vec<(String, DomainEvent)>, EventError> {
        let (name, limit) = (stream.to_owned(), i64::try_from(count).unwrap_or(i64::MAX));
        self.with_conn("range", move |conn| {
            let mut select = conn.prepare_cached(
                "SELECT seq, event FROM entries WHERE stream = ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = select
                .query_map(params![name, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(seq, json)| Ok((seq.to_string(), serde_json::from_str(&json)?)))
                .collect()
        })
        .await
    }

    async fn delete(&self, stream: &str, entry_ids: &[String]) -> Result<(), EventError> {
        let seqs = entry_ids
            .iter()
            .map(|id| parse_seq(id))
            .collect::<Result<Vec<_>, _>>()?;
        let name = stream.to_owned();
        self.with_conn("delete", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for seq in seqs {
                tx.execute(
                    "DELETE FROM pending WHERE stream = ?1 AND seq = ?2",
                    params![name, seq],
                )?;
                tx.execute(
                    "DELETE FROM entries WHERE stream = ?1 AND seq = ?2",
                    params![name, seq],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn trim(&self, stream: &str, retain: Duration) -> Result<u64, EventError> {
        let name = stream.to_owned();
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(retain).unwrap_or_default();
        self.with_conn("trim", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let removed = trim_older(&tx, &name, cutoff)?;
            tx.commit()?;
            Ok(removed)
        })
        .await
    }

    async fn pending_count(&self, stream: &str, group: &str) -> Result<u64, EventError> {
        let (stream, group) = (stream.to_owned(), group.to_owned());
        self.with_conn("pending_count", move |conn| {
            last_delivered(conn, &stream, &group)?;
            let count: i64 = conn.query_row(
                "SELECT COUNT(*) FROM pending WHERE stream = ?1 AND group_name = ?2",
                params![stream, group],
                |row| row.get(0),
            )?;
            Ok(count as u64)
        })
        .await
    }
}
