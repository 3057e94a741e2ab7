//! In-memory LRU of prepared operations (validated document + plans).

use lru::LruCache;
use parking_lot::Mutex;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// What identifies a cache entry: the operation text (as received for parsed documents,
/// canonically printed for plans), the operation name, and for plans the values of the
/// variables used by `@skip`/`@include` (conditions are applied at plan time) and the
/// states of progressive `@override` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub query: String,
    pub operation_name: Option<String>,
    pub conditions: Vec<bool>,
}

/// A thread-safe LRU; the lock is held only to look up or insert, never while planning.
pub struct PlanCache<V> {
    entries: Mutex<LruCache<CacheKey, Arc<V>>>,
}

impl<V> PlanCache<V> {
    /// A cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        PlanCache {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<V>> {
        self.entries.lock().get(key).cloned()
    }

    pub fn insert(&self, key: CacheKey, value: Arc<V>) {
        self.entries.lock().put(key, value);
    }

    /// Up to `n` entries, most recently used first.
    pub fn most_recent(&self, n: usize) -> Vec<Arc<V>> {
        let entries = self.entries.lock();
        entries.iter().take(n).map(|(_, v)| v.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
