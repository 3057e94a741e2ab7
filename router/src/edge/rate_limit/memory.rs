//! The in-process backend: GCRA buckets in 16 mutex-guarded shards, bounded in size.
//!
//! A bucket is keyed by a 64-bit hash of (rule, key) under a per-process random seed, not by
//! the key text: a decision then allocates nothing, an entry is 16 bytes, and a client cannot
//! aim collisions at someone else's bucket because it does not know the seed. (Two of a
//! million live buckets share a hash with odds of about 3 in 10^8; they would share a budget.)

use super::{gcra, Decision, Rule};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;

pub(super) struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    seed: ahash::RandomState,
    max_per_shard: usize,
    epoch: Instant,
}

/// Bucket hash → TAT in nanoseconds after `epoch`. The hash is already uniform, so the cheap
/// Fx hasher is enough for the map.
#[derive(Default)]
struct Shard {
    tats: FxHashMap<u64, u64>,
}

impl MemoryStore {
    /// At most `max_keys` buckets in all (rounded up to a multiple of 16, at least 16).
    pub(super) fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            seed: ahash::RandomState::new(),
            max_per_shard: max_keys.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
        }
    }

    pub(super) fn check(&self, rule: &Rule, key: &str, cost: u64) -> Decision {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(rule, key, cost, now)
    }

    /// [`MemoryStore::check`] at `now` nanoseconds after the store's epoch (tests drive the
    /// clock through it). Needs `0 < cost <= rule.capacity`.
    pub(super) fn check_at(&self, rule: &Rule, key: &str, cost: u64, now: u64) -> Decision {
        let hash = self.seed.hash_one((rule.name.as_str(), key));
        // The top bits pick the shard; the map hashes the whole value again.
        let shard = &self.shards[(hash >> (u64::BITS - SHARD_BITS)) as usize];
        let increment = rule.increment(cost, rule.period_ns);
        let mut shard = shard.lock();
        let tat = shard.tats.get(&hash).copied().unwrap_or(now);
        match gcra(tat, now, increment, rule.period_ns) {
            Ok(new_tat) => {
                shard.store(hash, new_tat, now, self.max_per_shard);
                Decision::Allowed
            }
            Err(wait) => Decision::Limited {
                retry_after: Duration::from_nanos(wait),
            },
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().tats.len())
            .sum()
    }
}

impl Shard {
    fn store(&mut self, hash: u64, tat: u64, now: u64, max: usize) {
        if let Some(slot) = self.tats.get_mut(&hash) {
            *slot = tat;
            return;
        }
        if self.tats.len() >= max {
            self.make_room(now, max);
        }
        self.tats.insert(hash, tat);
    }

    /// Frees at least a quarter of the shard, so the O(n) scan runs at most once per
    /// `max / 4` new buckets. Expired buckets (TAT passed: full again, the same as absent) go
    /// first. If that is not enough — a flood of distinct keys within one period — the
    /// buckets with the smallest TAT go next: they are the closest to full, so forgetting
    /// them grants the least extra budget, while the callers that spent the most (and are
    /// being limited) keep their state. A flood of fresh keys thus evicts itself.
    fn make_room(&mut self, now: u64, max: usize) {
        let target = max - (max / 4).max(1);
        self.tats.retain(|_, tat| *tat > now);
        if self.tats.len() <= target {
            return;
        }
        let mut tats: Vec<u64> = self.tats.values().copied().collect();
        let evict = tats.len() - target;
        let (_, threshold, _) = tats.select_nth_unstable(evict - 1);
        let threshold = *threshold;
        self.tats.retain(|_, tat| *tat > threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_bound() {
        let store = MemoryStore::new(160);
        let rule = Rule::new("per_ip", 10, Duration::from_secs(60));
        for i in 0..20_000 {
            let key = format!("10.0.{}.{}", i / 256, i % 256);
            assert!(store.check_at(&rule, &key, 1, 0).is_allowed());
            assert!(store.len() <= 160);
        }
    }

    #[test]
    fn expired_buckets_are_pruned_before_live_ones() {
        let mut shard = Shard::default();
        for hash in 0..8 {
            shard.store(hash, 100, 0, 8);
        }
        // At 200 the old buckets are full again: they make room, no live bucket goes.
        for hash in 100..108 {
            shard.store(hash, 300, 200, 8);
        }
        assert!((100..108).all(|hash| shard.tats.contains_key(&hash)));
        assert!(shard.tats.len() <= 8);
    }

    #[test]
    fn eviction_frees_a_quarter_from_the_smallest_tats() {
        let mut shard = Shard::default();
        for hash in 0..8 {
            shard.store(hash, 1_000 + hash, 0, 8);
        }
        shard.store(8, 500, 0, 8);
        // 1000 and 1001 (the closest to full) went; the new bucket went in.
        assert_eq!(shard.tats.len(), 7);
        assert!(!shard.tats.contains_key(&0) && !shard.tats.contains_key(&1));
        assert!(shard.tats.contains_key(&8) && shard.tats.contains_key(&7));
    }

    #[test]
    fn eviction_keeps_the_callers_that_spent_the_most() {
        let store = MemoryStore::new(16 * 8);
        let rule = Rule::new("r", 100, Duration::from_secs(60));
        assert!(store.check_at(&rule, "heavy", 100, 0).is_allowed());
        for i in 0..10_000 {
            store.check_at(&rule, &format!("flood{i}"), 1, 0);
        }
        assert!(
            !store.check_at(&rule, "heavy", 1, 0).is_allowed(),
            "the flood must not reset the heavy caller's bucket"
        );
    }

    #[test]
    fn tiny_bounds_still_hold() {
        let store = MemoryStore::new(0);
        let rule = Rule::new("r", 1, Duration::from_secs(60));
        for i in 0..100 {
            store.check_at(&rule, &i.to_string(), 1, 0);
        }
        assert!(store.len() <= SHARDS);
    }
}
