//! Read-through Redis cache with explicit invalidation and TTLs.
//!
//! Redis is an optimisation, never a dependency: with Redis down or slow every call gives up
//! after a short timeout and the value comes from the loader ("bypass").
//!
//! **Invalidation race.** A reader that missed, loaded the old value, and stores it *after* a
//! writer's invalidation would otherwise pin stale data until the TTL. Each key therefore has
//! a version key (`<key>:__v`) that [`Cache::invalidate`] increments; a reader remembers the
//! version it saw with its miss and stores its loaded value only if the version is unchanged,
//! checked and set atomically by a Lua script. Keys are `<key_prefix><key>`.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::metrics::Metrics;

/// Default limit for every Redis call of the cache.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// Version keys outlive any in-flight load by far; they only need to bridge one load.
const VERSION_RETENTION: Duration = Duration::from_secs(3600);
/// After a failed connect, requests bypass without retrying for this long.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// With Redis down every request fails; warn at most this often, debug otherwise.
const WARN_EVERY_MS: i64 = 5_000;

/// Stores `ARGV[1]` under `KEYS[1]` for `ARGV[3]` ms only if the version key `KEYS[2]` still
/// holds `ARGV[2]` ("" = absent), i.e. no invalidation happened since the reader's miss.
const STORE_IF_UNCHANGED: &str = r"
local current = redis.call('GET', KEYS[2]) or ''
if current == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Errors of the cache; only [`Cache::ping`] and [`Cache::redis`] return them.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis is unavailable (retrying shortly)")]
    Unavailable,
}

impl CacheError {
    /// A stable, machine-readable code per variant.
    pub fn code(&self) -> &'static str {
        match self {
            CacheError::Redis(_) => "CACHE_REDIS",
            CacheError::Timeout(_) => "CACHE_TIMEOUT",
            CacheError::Unavailable => "CACHE_UNAVAILABLE",
        }
    }
}

/// A read-through cache; cheap to clone. Outcomes are counted per cache name as `hit`,
/// `miss`, `bypass` (Redis failed, value loaded directly) and `store_error` (the loaded value
/// could not be stored); failed invalidations as cache `invalidate`, outcome `error`.
#[derive(Clone)]
pub struct Cache {
    redis: Option<Arc<Backend>>,
    metrics: Arc<Metrics>,
}

struct Backend {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    /// `None` until the first successful connect; the manager then reconnects by itself.
    conn: Mutex<Option<ConnectionManager>>,
    next_connect: Mutex<Instant>,
    connecting: tokio::sync::Mutex<()>,
    store: redis::Script,
    last_warn_ms: AtomicI64,
}

impl Cache {
    /// No cache: every read calls the loader; nothing is counted.
    pub fn disabled(metrics: Arc<Metrics>) -> Self {
        Self {
            redis: None,
            metrics,
        }
    }

    /// A Redis cache. Connects lazily, so a Redis that is down at startup costs only bypasses;
    /// fails only on an invalid URL.
    pub fn redis(url: &str, key_prefix: &str, metrics: Arc<Metrics>) -> Result<Self, CacheError> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            redis: Some(Arc::new(Backend::new(client, key_prefix, DEFAULT_TIMEOUT))),
            metrics,
        })
    }

    /// The same cache with another limit per Redis call (default [`DEFAULT_TIMEOUT`]).
    /// Call it right after construction: it starts a fresh connection.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        let redis = self.redis.map(|backend| {
            Arc::new(Backend::new(
                backend.client.clone(),
                &backend.prefix,
                timeout,
            ))
        });
        Self {
            redis,
            metrics: self.metrics,
        }
    }

    /// Whether a Redis cache is configured (it may still be unreachable).
    pub fn is_enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// The cached value of `key`, or `load()`'s, which is then cached for `ttl` (a zero `ttl`
    /// stores nothing). Redis failures never reach the caller; `load`'s error does, uncached.
    /// `name` labels the metrics (e.g. "board"); `key` must be unique across names (e.g.
    /// "board:<id>") because [`Cache::invalidate`] only takes keys.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        name: &str,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(backend) = &self.redis else {
            return load().await;
        };
        let (data_key, version_key) = backend.keys(key);
        let cmd = redis::cmd("MGET").arg(&data_key).arg(&version_key).clone();
        let looked_up = self
            .call::<(Option<Vec<u8>>, Option<String>), _, _>(
                backend,
                "get",
                |mut conn| async move { cmd.query_async(&mut conn).await },
            )
            .await;
        let version = match looked_up {
            Err(error) => {
                backend.warn(&error, "cache read failed; loading directly");
                self.metrics.count_cache(name, "bypass");
                return load().await;
            }
            Ok((Some(bytes), version)) => match serde_json::from_slice::<T>(&bytes) {
                Ok(value) => {
                    self.metrics.count_cache(name, "hit");
                    return Ok(value);
                }
                Err(error) => {
                    tracing::debug!(key, %error, "undecodable cached value; reloading");
                    version
                }
            },
            Ok((None, version)) => version,
        };
        self.metrics.count_cache(name, "miss");
        let value = load().await?;
        if !ttl.is_zero() {
            self.store(backend, name, key, &value, version, ttl).await;
        }
        Ok(value)
    }

    /// Stores a freshly loaded value unless the key was invalidated meanwhile.
    async fn store<T: Serialize>(
        &self,
        backend: &Backend,
        name: &str,
        key: &str,
        value: &T,
        version: Option<String>,
        ttl: Duration,
    ) {
        let bytes = match serde_json::to_vec(value) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(key, %error, "value not serializable; not cached");
                return;
            }
        };
        let (data_key, version_key) = backend.keys(key);
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let mut invocation = backend.store.key(data_key);
        invocation
            .key(version_key)
            .arg(bytes)
            .arg(version.unwrap_or_default())
            .arg(ttl_ms);
        let stored = self
            .call::<i64, _, _>(backend, "set", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await;
        if let Err(error) = stored {
            backend.warn(&error, "cache store failed");
            self.metrics.count_cache(name, "store_error");
        }
    }

    /// Drops `keys` from the cache (best effort: failures are logged and counted; the TTL
    /// then bounds staleness). Call it after the write that made them stale.
    pub async fn invalidate(&self, keys: &[String]) {
        let Some(backend) = &self.redis else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for key in keys {
            let (data_key, version_key) = backend.keys(key);
            pipe.del(&data_key).ignore();
            pipe.incr(&version_key, 1).ignore();
            pipe.pexpire(&version_key, VERSION_RETENTION.as_millis() as i64)
                .ignore();
        }
        let result = self
            .call::<(), _, _>(backend, "invalidate", |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(?keys, %error, "cache invalidation failed; entries expire by TTL");
            self.metrics.count_cache("invalidate", "error");
        }
    }

    /// Whether Redis answers (for readiness); `Ok` when the cache is disabled.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let Some(backend) = &self.redis else {
            return Ok(());
        };
        self.call::<String, _, _>(backend, "ping", |mut conn| async move {
            redis::cmd("PING").query_async(&mut conn).await
        })
        .await
        .map(|_pong| ())
    }

    /// Runs one Redis call with the configured timeout, recording its latency.
    async fn call<T, C, Fut>(&self, backend: &Backend, op: &str, call: C) -> Result<T, CacheError>
    where
        C: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let started = Instant::now();
        let span = crate::telemetry::backend_span("redis", op);
        let call = tokio::time::timeout(backend.timeout, async {
            let conn = backend.connection().await?;
            Ok(call(conn).await?)
        });
        let result = tracing::Instrument::instrument(call, span)
            .await
            .unwrap_or(Err(CacheError::Timeout(backend.timeout)));
        self.metrics.observe_redis("cache", op, started.elapsed());
        result
    }
}

impl Backend {
    fn new(client: redis::Client, prefix: &str, timeout: Duration) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            conn: Mutex::new(None),
            next_connect: Mutex::new(Instant::now()),
            connecting: tokio::sync::Mutex::new(()),
            store: redis::Script::new(STORE_IF_UNCHANGED),
            last_warn_ms: AtomicI64::new(i64::MIN),
        }
    }

    fn keys(&self, key: &str) -> (String, String) {
        (
            format!("{}{key}", self.prefix),
            format!("{}{key}:__v", self.prefix),
        )
    }

    /// The shared connection, connecting on first use. While Redis is unreachable, at most
    /// one caller per [`RECONNECT_DELAY`] tries; the others bypass at once instead of queueing.
    async fn connection(&self) -> Result<ConnectionManager, CacheError> {
        if let Some(conn) = self.conn.lock().clone() {
            return Ok(conn);
        }
        if Instant::now() < *self.next_connect.lock() {
            return Err(CacheError::Unavailable);
        }
        let Ok(_connecting) = self.connecting.try_lock() else {
            return Err(CacheError::Unavailable);
        };
        if let Some(conn) = self.conn.lock().clone() {
            return Ok(conn);
        }
        // Pushed back first: if the caller's timeout drops this future mid-connect, the
        // next attempt still waits.
        *self.next_connect.lock() = Instant::now() + RECONNECT_DELAY;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        *self.conn.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn warn(&self, error: &CacheError, message: &str) {
        let now = chrono::Utc::now().timestamp_millis();
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(%error, "{message}");
        } else {
            tracing::debug!(%error, "{message}");
        }
    }
}
