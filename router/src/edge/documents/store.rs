//! Where APQ keeps the documents it learned: Redis, so every replica knows what any replica
//! learned, or this process's memory. A Redis lookup that fails is a miss (the client sends
//! the document again), a failed write is logged.

use super::PersistedQueriesConfig;
use crate::kv::Kv;
use lru::LruCache;
use parking_lot::Mutex;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

pub(super) enum Store {
    Memory(Mutex<LruCache<String, Arc<str>>>),
    Redis {
        kv: Kv,
        prefix: String,
        ttl: Duration,
    },
}

impl Store {
    pub(super) fn new(config: &PersistedQueriesConfig) -> Result<Store, redis::RedisError> {
        Ok(match &config.redis_url {
            Some(url) => Store::Redis {
                kv: Kv::open(url, "APQ store")?,
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
            Store::Redis { kv, prefix, .. } => {
                let key = format!("{prefix}{}", id.to_ascii_lowercase());
                let found = kv.get(&key).await.flatten()?;
                String::from_utf8(found).ok().map(Arc::from)
            }
        }
    }

    pub(super) async fn put(&self, id: &str, document: &Arc<str>) {
        match self {
            Store::Memory(cache) => {
                cache.lock().put(id.to_owned(), document.clone());
            }
            Store::Redis { kv, prefix, ttl } => {
                kv.set(&format!("{prefix}{id}"), document.as_bytes(), *ttl)
                    .await;
            }
        }
    }
}
