//! Where APQ keeps the documents it learned: Redis, so every replica knows what any replica
//! learned, or this process's memory. Redis failures are never the client's problem: a
//! lookup that fails is a miss (the client sends the document again), a failed write is
//! logged.

use super::PersistedQueriesConfig;
use lru::LruCache;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

/// How long one Redis call may take before it counts as failed.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

pub(super) enum Store {
    Memory(Mutex<LruCache<String, Arc<str>>>),
    Redis {
        client: redis::Client,
        /// `None` until the first successful connect; the manager then reconnects by itself.
        conn: tokio::sync::Mutex<Option<ConnectionManager>>,
        prefix: String,
        ttl: Duration,
    },
}

impl Store {
    pub(super) fn new(config: &PersistedQueriesConfig) -> Result<Store, redis::RedisError> {
        Ok(match &config.redis_url {
            Some(url) => Store::Redis {
                client: redis::Client::open(url.as_str())?,
                conn: tokio::sync::Mutex::new(None),
                prefix: config.key_prefix.clone(),
                ttl: config.ttl,
            },
            None => {
                let size = NonZeroUsize::new(config.memory_entries).unwrap_or(NonZeroUsize::MIN);
                Store::Memory(Mutex::new(LruCache::new(size)))
            }
        })
    }

    pub(super) async fn get(&self, id: &str) -> Option<Arc<str>> {
        match self {
            Store::Memory(cache) => cache.lock().get(&id.to_ascii_lowercase()).cloned(),
            Store::Redis { prefix, .. } => {
                let key = format!("{prefix}{}", id.to_ascii_lowercase());
                let mut cmd = redis::cmd("GET");
                cmd.arg(key);
                let found: Option<String> = self.call("GET", cmd).await.flatten();
                found.map(Arc::from)
            }
        }
    }

    pub(super) async fn put(&self, id: &str, document: &Arc<str>) {
        match self {
            Store::Memory(cache) => {
                cache.lock().put(id.to_owned(), document.clone());
            }
            Store::Redis { prefix, ttl, .. } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(format!("{prefix}{id}"))
                    .arg(document.as_ref())
                    .arg("EX")
                    .arg(ttl.as_secs().max(1));
                let _: Option<()> = self.call("SET", cmd).await;
            }
        }
    }

    /// Runs `cmd` on Redis within [`REDIS_TIMEOUT`]; `None` (logged) when it fails.
    async fn call<T: redis::FromRedisValue>(&self, op: &str, cmd: redis::Cmd) -> Option<T> {
        let Store::Redis { client, conn, .. } = self else {
            return None;
        };
        let call = async {
            let mut connection = {
                let mut slot = conn.lock().await;
                match slot.as_ref() {
                    Some(existing) => existing.clone(),
                    None => {
                        let fresh = ConnectionManager::new(client.clone()).await?;
                        *slot = Some(fresh.clone());
                        fresh
                    }
                }
            };
            cmd.query_async::<T>(&mut connection).await
        };
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, op, "APQ store: Redis call failed");
                None
            }
            Err(_) => {
                tracing::warn!(op, "APQ store: Redis did not answer in time");
                None
            }
        }
    }
}
