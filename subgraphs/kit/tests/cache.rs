//! The read-through cache against a real, throwaway redis-server: counts, invalidation
//! (including the stale-reader race), TTLs, and bypass while Redis is stopped or frozen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::cache::Cache;
use kit::metrics::Metrics;
use kit::testing::{free_port, require_redis, unique_prefix, RedisServer};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

const TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Board {
    id: String,
    title: String,
}

/// The "database": a value and how often it was loaded.
#[derive(Clone)]
struct Source {
    title: Arc<Mutex<String>>,
    loads: Arc<AtomicUsize>,
}

impl Source {
    fn new(title: &str) -> Self {
        Self {
            title: Arc::new(Mutex::new(title.to_owned())),
            loads: Arc::default(),
        }
    }

    fn set(&self, title: &str) {
        *self.title.lock() = title.to_owned();
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    async fn read(&self, cache: &Cache, key: &str, ttl: Duration) -> Board {
        let result: Result<Board, String> = cache
            .get_or_load("board", key, ttl, || async {
                self.loads.fetch_add(1, Ordering::SeqCst);
                Ok(Board {
                    id: key.to_owned(),
                    title: self.title.lock().clone(),
                })
            })
            .await;
        result.expect("the loader never fails here")
    }
}

fn counts(metrics: &Metrics) -> (u64, u64, u64) {
    (
        metrics.cache_count("board", "hit"),
        metrics.cache_count("board", "miss"),
        metrics.cache_count("board", "bypass"),
    )
}

fn redis_cache(server: &RedisServer, test: &str) -> (Cache, Arc<Metrics>, String) {
    let metrics = Metrics::new("test");
    let prefix = unique_prefix(test);
    let cache = Cache::redis(&server.url, &prefix, metrics.clone()).expect("valid url");
    (cache, metrics, prefix)
}

async fn wait_until_ready(cache: &Cache) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.ping().await.is_err() {
        assert!(Instant::now() < deadline, "cache did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn hits_and_misses_are_counted() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "counts");
    assert!(cache.is_enabled());
    cache.ping().await.expect("redis answers");
    let source = Source::new("Roadmap");
    let first = source.read(&cache, "board:1", TTL).await;
    let second = source.read(&cache, "board:1", TTL).await;
    assert_eq!(first, second);
    assert_eq!(first.title, "Roadmap");
    assert_eq!(source.loads(), 1, "the second read came from Redis");
    source.read(&cache, "board:2", TTL).await;
    assert_eq!(source.loads(), 2, "another key is another entry");
    assert_eq!(counts(&metrics), (1, 2, 0));
}

#[tokio::test]
async fn invalidate_makes_the_next_read_fresh() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "invalidate");
    let source = Source::new("old");
    source.read(&cache, "board:1", TTL).await;
    source.set("new");
    assert_eq!(
        source.read(&cache, "board:1", TTL).await.title,
        "old",
        "cached"
    );
    cache.invalidate(&["board:1".to_owned()]).await;
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "new");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "new");
    assert_eq!(counts(&metrics), (2, 2, 0));
    assert_eq!(metrics.cache_count("invalidate", "error"), 0);
}

#[tokio::test]
async fn a_reader_racing_an_invalidation_cannot_store_stale_data() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, _metrics, _) = redis_cache(&server, "race");
    let source = Source::new("new");
    let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let slow_cache = cache.clone();
    // A reader misses and loads the *old* row, but is slow to store it.
    let slow_reader = tokio::spawn(async move {
        let result: Result<Board, String> = slow_cache
            .get_or_load("board", "board:1", TTL, || async move {
                let stale = Board {
                    id: "board:1".into(),
                    title: "old".into(),
                };
                let _ = loaded_tx.send(());
                let _ = release_rx.await;
                Ok(stale)
            })
            .await;
        result
    });
    loaded_rx.await.expect("the slow reader loaded");
    // Meanwhile the writer commits and invalidates.
    cache.invalidate(&["board:1".to_owned()]).await;
    release_tx.send(()).expect("release the slow reader");
    let stale = slow_reader.await.expect("join").expect("load");
    assert_eq!(stale.title, "old", "the in-flight read itself may be stale");
    assert_eq!(
        source.read(&cache, "board:1", TTL).await.title,
        "new",
        "the stale value must not have been stored after the invalidation"
    );
    assert_eq!(source.loads(), 1);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "ttl");
    let source = Source::new("Roadmap");
    let ttl = Duration::from_millis(300);
    source.read(&cache, "board:1", ttl).await;
    source.read(&cache, "board:1", ttl).await;
    assert_eq!(source.loads(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    source.read(&cache, "board:1", ttl).await;
    assert_eq!(source.loads(), 2, "expired entry reloaded");
    assert_eq!(counts(&metrics), (1, 2, 0));
}

#[tokio::test]
async fn loader_errors_reach_the_caller_and_are_not_cached() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "errors");
    let failed: Result<Board, String> = cache
        .get_or_load("board", "board:1", TTL, || async {
            Err("db down".to_owned())
        })
        .await;
    assert_eq!(failed, Err("db down".to_owned()));
    let source = Source::new("Roadmap");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    assert_eq!(source.loads(), 1, "the error was not cached");
    assert_eq!(counts(&metrics), (0, 2, 0));
}

#[tokio::test]
async fn undecodable_cached_values_are_misses_and_get_overwritten() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, prefix) = redis_cache(&server, "garbage");
    let client = redis::Client::open(server.url.as_str()).expect("url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let key = format!("{prefix}board:1");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("{not json")
        .query_async(&mut raw)
        .await
        .expect("SET");
    let source = Source::new("Roadmap");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    assert_eq!(
        source.loads(),
        1,
        "the garbage was replaced by the loaded value"
    );
    assert_eq!(counts(&metrics), (1, 1, 0));
    let stored: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .expect("GET");
    assert!(stored.contains("Roadmap"), "stored: {stored}");
}

#[tokio::test]
async fn redis_stopped_means_bypass_then_hits_again_after_restart() {
    let Some(mut server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "bypass");
    let source = Source::new("Roadmap");
    source.read(&cache, "board:1", TTL).await;
    source.read(&cache, "board:1", TTL).await;
    assert_eq!(counts(&metrics), (1, 1, 0));

    server.stop();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "bypass took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(counts(&metrics), (1, 1, 5), "every read bypassed the cache");
    assert_eq!(source.loads(), 6);
    assert!(cache.ping().await.is_err(), "not ready while Redis is down");
    cache.invalidate(&["board:1".to_owned()]).await;
    assert_eq!(metrics.cache_count("invalidate", "error"), 1);

    server.restart();
    wait_until_ready(&cache).await;
    source.read(&cache, "board:1", TTL).await;
    source.read(&cache, "board:1", TTL).await;
    let (hits, misses, _) = counts(&metrics);
    assert_eq!(
        (hits, misses),
        (2, 2),
        "a miss (Redis came back empty) then a hit"
    );
}

#[tokio::test]
async fn frozen_redis_costs_one_timeout_not_an_error() {
    let Some(server) = require_redis() else {
        return;
    };
    let (cache, metrics, _) = redis_cache(&server, "frozen");
    let cache = cache.with_timeout(Duration::from_millis(200));
    let source = Source::new("Roadmap");
    source.read(&cache, "board:1", TTL).await;
    server.pause();
    let started = Instant::now();
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(800),
        "a frozen Redis held the read for {elapsed:?}"
    );
    assert_eq!(counts(&metrics), (0, 1, 1));
    assert!(cache.ping().await.is_err());
    server.resume();
    wait_until_ready(&cache).await;
    source.read(&cache, "board:1", TTL).await;
    assert_eq!(
        metrics.cache_count("board", "hit"),
        1,
        "hits again once Redis answers"
    );
}

#[tokio::test]
async fn redis_down_at_startup_does_not_fail() {
    // Nothing listens on this port; no redis-server needed.
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let metrics = Metrics::new("test");
    let cache = Cache::redis(&url, "test:down:", metrics.clone()).expect("lazy connect");
    let source = Source::new("Roadmap");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    assert_eq!(source.read(&cache, "board:1", TTL).await.title, "Roadmap");
    assert_eq!(counts(&metrics), (0, 0, 2));
    assert!(cache.ping().await.is_err());
}

#[tokio::test]
async fn disabled_cache_always_loads_and_counts_nothing() {
    let metrics = Metrics::new("test");
    let cache = Cache::disabled(metrics.clone());
    assert!(!cache.is_enabled());
    cache.ping().await.expect("disabled cache is always ready");
    let source = Source::new("Roadmap");
    source.read(&cache, "board:1", TTL).await;
    source.read(&cache, "board:1", TTL).await;
    cache.invalidate(&["board:1".to_owned()]).await;
    assert_eq!(source.loads(), 2);
    assert_eq!(counts(&metrics), (0, 0, 0));
}
