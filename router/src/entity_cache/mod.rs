//! Subgraph responses cached in Redis, shared by every router replica: the answers of root
//! and `_entities` fetches of queries, per subgraph and per request (selection, variables and
//! representations), for as long as the subgraph's `Cache-Control` allows.
//!
//! - **Only what the subgraph declares cacheable**: a positive `max-age` without `no-store`
//!   or `no-cache`, and no GraphQL errors; capped at `max_ttl`.
//! - **Private stays private**: a `private` answer is stored under a key that includes the
//!   credentials the router forwarded to that subgraph (the caller's token), so it is only
//!   ever served to the same caller; without credentials it is not stored at all.
//! - **Invalidation by tag**: every entry is tagged with its subgraph, the types it answers
//!   (the root type, or the entity types) and each entity's key. A mutation's subgraph
//!   response lists what it changed (`extensions.invalidation`, Apollo Router's format), and
//!   the router evicts that before it answers the mutation; operators post the same items to
//!   `/invalidation`. Each tag has a generation: a fill started before an invalidation of
//!   one of its tags is dropped, so a slow reader cannot store a value older than a write
//!   another client saw acknowledged.
//! - **Redis down** means the subgraphs answer: counted as `error`, never a client error.

pub mod listen;
pub mod policy;

use crate::kv::Kv;
use crate::metrics::Metrics;
use bytes::Bytes;
use policy::{Invalidation, Policy};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[entity_cache]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntityCacheConfig {
    /// The Redis shared by the replicas; unset, nothing is cached.
    pub redis_url: Option<String>,
    /// Prefix of every key the cache writes.
    pub key_prefix: String,
    /// Longest time an entry is kept, whatever the subgraph allows.
    #[serde(with = "crate::flags::duration")]
    pub max_ttl: Duration,
    /// The secret `POST /invalidation` requires as `Authorization: Bearer <key>`; unset, the
    /// endpoint is off.
    pub invalidation_key: Option<String>,
    /// A Redis pub/sub channel whose messages (an item or an array of items, as for
    /// `POST /invalidation`) evict entries: how subgraphs evict what their domain events
    /// changed. Unset, nothing is listened to.
    pub invalidation_channel: Option<String>,
    /// How long entries of a type live when the subgraph sends no `Cache-Control` at all:
    /// entities by their `__typename`, root answers as `Query`. A subgraph's own header
    /// (even `no-store`) always has the last word.
    pub types: BTreeMap<String, TypePolicy>,
}

/// `[entity_cache.types.<Type>]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypePolicy {
    #[serde(with = "crate::flags::duration")]
    pub ttl: Duration,
    /// Kept for the caller only, as a `private` answer is.
    #[serde(default)]
    pub private: bool,
}

impl Default for EntityCacheConfig {
    fn default() -> Self {
        EntityCacheConfig {
            redis_url: None,
            key_prefix: "router:entity:".into(),
            max_ttl: Duration::from_secs(3600),
            invalidation_key: None,
            invalidation_channel: None,
            types: BTreeMap::new(),
        }
    }
}

/// Bumped whenever the stored form changes, so old entries are never read.
const FORMAT: &str = "entity-v1";
/// How long a tag's generation outlives its last invalidation: far longer than any fetch.
const GENERATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Stores `ARGV[1]` at `KEYS[1]` for `ARGV[2]` seconds, unless a tag generation moved since
/// it was read: `KEYS[2..=k+1]` are the generations, `ARGV[4..]` their values then (`""` for
/// none), `KEYS[k+2..]` the tag sets the entry joins.
const STORE: &str = r"
local k = tonumber(ARGV[3])
for i = 1, k do
  local now = redis.call('GET', KEYS[1 + i]) or ''
  if now ~= ARGV[3 + i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 1, k do
  local set = KEYS[1 + k + i]
  redis.call('SADD', set, KEYS[1])
  if redis.call('TTL', set) < tonumber(ARGV[2]) then redis.call('EXPIRE', set, ARGV[2]) end
end
return 1
";

/// Moves the generations `KEYS[1..=k]` on and deletes every entry of the tag sets
/// `KEYS[k+1..]`; returns how many entries went.
const INVALIDATE: &str = r"
local k = tonumber(ARGV[1])
local gone = 0
for i = 1, k do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
  local set = KEYS[k + i]
  for _, entry in ipairs(redis.call('SMEMBERS', set)) do
    gone = gone + redis.call('DEL', entry)
  end
  redis.call('DEL', set)
end
return gone
";

/// The cache of subgraph responses.
pub struct EntityCache {
    kv: Kv,
    prefix: String,
    max_ttl: Duration,
    types: BTreeMap<String, TypePolicy>,
}

/// Where one fetch's answer is looked up and stored.
pub struct Entry {
    subgraph: String,
    /// The entity's type, or `Query` for a root answer (`None`: a whole batch).
    type_name: Option<String>,
    public: String,
    /// Only when the request carried credentials.
    private: Option<String>,
    tags: Vec<String>,
}

/// A miss, with the tag generations seen before the subgraph was asked.
pub struct Miss {
    generations: Vec<Option<Vec<u8>>>,
}

impl EntityCache {
    /// The cache `config` asks for, if any.
    pub fn new(config: &EntityCacheConfig) -> Result<Option<EntityCache>, redis::RedisError> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        Ok(Some(EntityCache {
            kv: Kv::open(url, "entity cache")?,
            prefix: config.key_prefix.clone(),
            max_ttl: config.max_ttl,
            types: config.types.clone(),
        }))
    }

    /// The entry of a request with this `body` to `subgraph` about `type_name`, sent with
    /// `credentials` (the forwarded headers, empty for none) and tagged `tags` (the
    /// subgraph's own tag is added).
    pub fn entry(
        &self,
        subgraph: &str,
        type_name: Option<&str>,
        body: &[u8],
        credentials: &[u8],
        tags: Vec<String>,
    ) -> Entry {
        let key = |scope: &[u8]| {
            let mut hash = Sha256::new();
            for part in [FORMAT.as_bytes(), subgraph.as_bytes(), body, scope] {
                hash.update(part.len().to_le_bytes());
                hash.update(part);
            }
            format!("{}{}", self.prefix, hex::encode(hash.finalize()))
        };
        let mut all = Vec::with_capacity(tags.len() + 1);
        all.push(policy::subgraph_tag(subgraph));
        all.extend(tags);
        all.sort_unstable();
        all.dedup();
        Entry {
            subgraph: subgraph.to_owned(),
            type_name: type_name.map(str::to_owned),
            public: key(b""),
            private: (!credentials.is_empty()).then(|| key(credentials)),
            tags: all,
        }
    }

    /// The cached answer, or the generations a later [`EntityCache::store`] checks; `None`
    /// when Redis failed (the caller fetches and stores nothing).
    pub async fn lookup(&self, entry: &Entry, metrics: &Metrics) -> Option<Result<Bytes, Miss>> {
        let mut keys = vec![entry.public.as_str()];
        keys.extend(entry.private.as_deref());
        let generations: Vec<String> = entry.tags.iter().map(|t| self.generation(t)).collect();
        keys.extend(generations.iter().map(String::as_str));
        let Some(mut values) = self.kv.mget(&keys).await else {
            metrics.record_entity_cache(&entry.subgraph, "error", 1);
            return None;
        };
        let answers = 1 + usize::from(entry.private.is_some());
        let hit = values.drain(..answers).flatten().next();
        if let Some(body) = hit {
            metrics.record_entity_cache(&entry.subgraph, "hit", 1);
            return Some(Ok(Bytes::from(body)));
        }
        metrics.record_entity_cache(&entry.subgraph, "miss", 1);
        Some(Err(Miss {
            generations: values,
        }))
    }

    /// [`EntityCache::lookup`] of many entries in one round trip (one per entity of a batch).
    pub async fn lookup_many(
        &self,
        entries: &[Entry],
        metrics: &Metrics,
    ) -> Option<Vec<Result<Bytes, Miss>>> {
        let Some(first) = entries.first() else {
            return Some(Vec::new());
        };
        let mut keys: Vec<&str> = Vec::with_capacity(3 * entries.len());
        for entry in entries {
            keys.push(&entry.public);
            keys.push(entry.private.as_deref().unwrap_or(&entry.public));
        }
        let mut tags: Vec<&str> = entries
            .iter()
            .flat_map(|e| e.tags.iter().map(String::as_str))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let generations: Vec<String> = tags.iter().map(|t| self.generation(t)).collect();
        keys.extend(generations.iter().map(String::as_str));
        let Some(values) = self.kv.mget(&keys).await else {
            metrics.record_entity_cache(&first.subgraph, "error", 1);
            return None;
        };
        let (answers, seen) = values.split_at(2 * entries.len());
        let seen_of = |tag: &String| {
            let at = tags.binary_search(&tag.as_str()).ok()?;
            seen[at].clone()
        };
        let found: Vec<Result<Bytes, Miss>> = entries
            .iter()
            .zip(answers.chunks(2))
            .map(|(entry, pair)| match pair.iter().flatten().next() {
                Some(body) => Ok(Bytes::from(body.clone())),
                None => Err(Miss {
                    generations: entry.tags.iter().map(seen_of).collect(),
                }),
            })
            .collect();
        let hits = found.iter().filter(|f| f.is_ok()).count() as u64;
        metrics.record_entity_cache(&first.subgraph, "hit", hits);
        metrics.record_entity_cache(&first.subgraph, "miss", found.len() as u64 - hits);
        Some(found)
    }

    /// Stores `body` as `entry`'s answer if `cache_control` allows it and no tag of the entry
    /// was invalidated since `miss` was looked up.
    pub async fn store(
        &self,
        entry: &Entry,
        miss: Miss,
        cache_control: Option<&str>,
        body: &[u8],
        metrics: &Metrics,
    ) {
        let Some(policy) = self.policy(entry, cache_control) else {
            metrics.record_entity_cache(&entry.subgraph, "uncacheable", 1);
            return;
        };
        let key = match (policy.private, &entry.private) {
            (false, _) => &entry.public,
            (true, Some(private)) => private,
            (true, None) => {
                metrics.record_entity_cache(&entry.subgraph, "uncacheable", 1);
                return;
            }
        };
        let ttl = policy.max_age.min(self.max_ttl).as_secs().max(1);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(STORE).arg(1 + 2 * entry.tags.len()).arg(key);
        for tag in &entry.tags {
            cmd.arg(self.generation(tag));
        }
        for tag in &entry.tags {
            cmd.arg(self.members(tag));
        }
        cmd.arg(body).arg(ttl).arg(entry.tags.len());
        for seen in &miss.generations {
            cmd.arg(seen.as_deref().unwrap_or_default());
        }
        match self.kv.query::<i64>("EVAL", cmd).await {
            Some(1) => metrics.record_entity_cache(&entry.subgraph, "stored", 1),
            Some(_) => metrics.record_entity_cache(&entry.subgraph, "raced", 1),
            None => metrics.record_entity_cache(&entry.subgraph, "error", 1),
        }
    }

    /// Evicts what `items` (of one subgraph) name; how many entries went, `None` when Redis
    /// failed.
    pub async fn invalidate(&self, items: &[Invalidation], metrics: &Metrics) -> Option<u64> {
        if items.is_empty() {
            return Some(0);
        }
        let tags: Vec<String> = items.iter().map(Invalidation::tag).collect();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INVALIDATE).arg(2 * tags.len());
        for tag in &tags {
            cmd.arg(self.generation(tag));
        }
        for tag in &tags {
            cmd.arg(self.members(tag));
        }
        cmd.arg(tags.len()).arg(GENERATION_TTL.as_secs());
        let gone = self.kv.query::<u64>("EVAL", cmd).await;
        let subgraph = items[0].subgraph();
        match gone {
            Some(gone) => metrics.record_entity_cache(subgraph, "invalidated", gone),
            None => metrics.record_entity_cache(subgraph, "error", 1),
        }
        gone
    }

    /// The subgraph's `Cache-Control`, or, when it sent none, the configuration of the
    /// entry's type.
    fn policy(&self, entry: &Entry, cache_control: Option<&str>) -> Option<Policy> {
        match cache_control.filter(|h| !h.trim().is_empty()) {
            Some(header) => Policy::parse(Some(header)),
            None => {
                let configured = self.types.get(entry.type_name.as_deref()?)?;
                Some(Policy {
                    max_age: configured.ttl,
                    private: configured.private,
                })
            }
        }
    }

    /// [`EntityCache::invalidate`] of items naming any subgraphs; `None` when Redis failed.
    pub async fn invalidate_all(&self, items: &[Invalidation], metrics: &Metrics) -> Option<u64> {
        let mut by_subgraph: BTreeMap<&str, Vec<Invalidation>> = BTreeMap::new();
        for item in items {
            let group = by_subgraph.entry(item.subgraph()).or_default();
            group.push(item.clone());
        }
        let mut count = 0;
        for group in by_subgraph.values() {
            count += self.invalidate(group, metrics).await?;
        }
        Some(count)
    }

    fn generation(&self, tag: &str) -> String {
        format!("{}gen:{tag}", self.prefix)
    }

    fn members(&self, tag: &str) -> String {
        format!("{}tag:{tag}", self.prefix)
    }
}
