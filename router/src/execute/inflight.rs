//! Identical work in flight done once: the table behind subgraph request coalescing and
//! inbound operation deduplication.
//!
//! Both levels key their entries with the router's *write epoch* ([`WriteEpoch`]): a
//! mutation answered through this router moves it on, so work started before a client saw a
//! write acknowledged is never shared with a request that client sends after it.

use futures::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

type Entry<V> = Shared<BoxFuture<'static, V>>;

/// In-flight work by key. Keys are hashed with a randomly seeded fast hasher: clients choose
/// part of what is hashed, and keys can be several KiB (request bodies).
pub struct InFlight<K, V: Clone> {
    table: Arc<Mutex<HashMap<K, Entry<V>, ahash::RandomState>>>,
}

impl<K, V: Clone> Default for InFlight<K, V> {
    fn default() -> Self {
        InFlight {
            table: Arc::default(),
        }
    }
}

impl<K, V> InFlight<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the work in flight under `key`, or starts `work(&key)` under it. Started work
    /// runs on its own task, so it completes (and leaves the table) even when every caller
    /// waiting for it has gone away. Returns the result and whether it was joined.
    pub async fn run<F>(&self, key: K, work: impl FnOnce(&K) -> F) -> (V, bool)
    where
        F: Future<Output = V> + Send + 'static,
    {
        let (entry, joined) = {
            let mut table = self.table.lock();
            match table.get(&key) {
                Some(existing) => (existing.clone(), true),
                None => {
                    let owner = Arc::clone(&self.table);
                    let remove = key.clone();
                    let call = work(&key);
                    // The work runs on its own task: it keeps the starter's trace.
                    let call = telemetry::propagation::in_current_trace(call);
                    let entry = async move {
                        let value = call.await;
                        owner.lock().remove(&remove);
                        value
                    }
                    .boxed()
                    .shared();
                    table.insert(key, entry.clone());
                    tokio::spawn(entry.clone());
                    (entry, false)
                }
            }
        };
        (entry.await, joined)
    }

    /// Entries in flight now.
    pub fn len(&self) -> usize {
        self.table.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts mutations answered through this router. Work is shared only within one epoch: a
/// query sent after a mutation's response arrived never joins work started before it.
#[derive(Default)]
pub struct WriteEpoch(AtomicU64);

impl WriteEpoch {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called when a mutation has run, before its response is sent.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_the_entry_leaves_after_it() {
        let table: InFlight<u32, u32> = InFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let call = |key| {
            let runs = runs.clone();
            table.run(key, move |_| async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                key * 10
            })
        };
        let (a, b, c) = tokio::join!(call(1), call(1), call(2));
        assert_eq!((a.0, b.0, c.0), (10, 10, 20));
        assert_eq!(
            [a.1, b.1].iter().filter(|joined| **joined).count(),
            1,
            "one of the two identical callers joined the other"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(table.is_empty());
        let (again, joined) = call(1).await;
        assert_eq!(
            (again, joined),
            (10, false),
            "finished work is never reused"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn work_completes_when_its_caller_goes_away() {
        let table: Arc<InFlight<u32, u32>> = Arc::default();
        let done = Arc::new(AtomicUsize::new(0));
        let flag = done.clone();
        let caller = {
            let table = table.clone();
            tokio::spawn(async move {
                table
                    .run(7, move |_| async move {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        flag.fetch_add(1, Ordering::SeqCst);
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        caller.abort();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(done.load(Ordering::SeqCst), 1);
        assert!(table.is_empty());
    }
}
