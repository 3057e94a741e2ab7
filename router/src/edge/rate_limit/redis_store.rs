//! The Redis backend: one atomic Lua script per decision, on Redis server time.

use super::{key_part, Decision, RateLimitError, Rule};
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The GCRA step of `gcra()` in Lua, in microseconds. KEYS[1] is the bucket, ARGV[1] the
/// increment and ARGV[2] the period. Returns 0 when allowed (and stores the new TAT, expiring
/// when the bucket is full again, so idle keys vanish), else the microseconds to wait.
///
/// `TIME` rather than the caller's clock, so replicas with skewed clocks agree. Redis 7
/// replicates a script's effects, so a write after `TIME` is allowed; older servers need
/// `replicate_commands`. `%.0f` because Lua would print a 16-digit number as `%.14g`.
const GCRA_SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1])
local allow_at = new_tat - tonumber(ARGV[2])
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
";

/// After this many failed calls in a row, decisions skip Redis for [`SKIP_FOR`]: a Redis that
/// accepts no connections (or answers nothing) would otherwise cost every request the full
/// timeout. One isolated failure does not trip it; the first call after the pause probes.
const FAILURES_BEFORE_SKIP: u32 = 3;
const SKIP_FOR: Duration = Duration::from_millis(250);

pub(super) struct RedisStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    /// `None` until the first successful connect; the manager then reconnects by itself.
    conn: Mutex<Option<ConnectionManager>>,
    connecting: tokio::sync::Mutex<()>,
    script: redis::Script,
    epoch: Instant,
    failures_in_a_row: AtomicU32,
    /// Milliseconds after `epoch` until which Redis is skipped.
    skip_until_ms: AtomicU64,
}

impl RedisStore {
    pub(super) fn new(client: redis::Client, prefix: &str, timeout: Duration) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            script: redis::Script::new(GCRA_SCRIPT),
            epoch: Instant::now(),
            failures_in_a_row: AtomicU32::new(0),
            skip_until_ms: AtomicU64::new(0),
        }
    }

    /// One decision; needs `0 < cost <= rule.capacity`.
    pub(super) async fn check(
        &self,
        rule: &Rule,
        key: &str,
        cost: u64,
    ) -> Result<Decision, RateLimitError> {
        if self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            return Err(RateLimitError::Unavailable);
        }
        let bucket = format!("{}:{}:{}", self.prefix, rule.key_name, key_part(key));
        let increment = rule.increment(cost, rule.period_us);
        let period = rule.period_us;
        let wait_us: i64 = self
            .call(|mut conn| async move {
                let mut invocation = self.script.key(&bucket);
                invocation.arg(increment).arg(period);
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(match u64::try_from(wait_us) {
            Ok(wait) if wait > 0 => Decision::Limited {
                retry_after: Duration::from_micros(wait),
            },
            _ => Decision::Allowed,
        })
    }

    pub(super) async fn ping(&self) -> Result<(), RateLimitError> {
        self.call(|mut conn| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(|_pong| ())
        })
        .await
    }

    /// Runs one Redis call, connect included, within the timeout.
    async fn call<T, C, Fut>(&self, call: C) -> Result<T, RateLimitError>
    where
        C: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let result = tokio::time::timeout(self.timeout, async {
            let conn = self.connection().await?;
            Ok(call(conn).await?)
        })
        .await
        .unwrap_or(Err(RateLimitError::Timeout(self.timeout)));
        match &result {
            Ok(_) => {
                if self.failures_in_a_row.load(Ordering::Relaxed) != 0 {
                    self.failures_in_a_row.store(0, Ordering::Relaxed);
                }
            }
            Err(_) => {
                let failures = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if failures >= FAILURES_BEFORE_SKIP {
                    let until = self.now_ms().saturating_add(SKIP_FOR.as_millis() as u64);
                    self.skip_until_ms.store(until, Ordering::Relaxed);
                }
            }
        }
        result
    }

    /// The shared connection, connecting on first use. Callers arriving during the connect
    /// wait for it (each bounded by its own timeout) instead of opening their own.
    async fn connection(&self) -> Result<ConnectionManager, RateLimitError> {
        if let Some(conn) = self.conn.lock().clone() {
            return Ok(conn);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(conn) = self.conn.lock().clone() {
            return Ok(conn);
        }
        // No retries inside the manager: the caller's timeout is the budget, and the next
        // decision tries again.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *self.conn.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}
