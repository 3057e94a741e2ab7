//! Plans shared by the fleet: the second level of the plan cache, in Redis. A replica that
//! never saw an operation takes the plan another replica made (keyed by the supergraph's
//! hash and everything that changes a plan), so an operation is planned once for the whole
//! fleet and a restarted replica starts warm. With Redis down, every replica plans alone.

use crate::kv::Kv;
use crate::metrics::Metrics;
use crate::pipeline::{lookup, Admission, Lookup, Miss, PreparedOperation, RequestError};
use crate::plan::cache::CacheKey;
use crate::plan::QueryPlan;
use crate::state::RouterState;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// `[plan_cache]`: the plan cache's levels beyond this process's memory, and its warm-up.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlanCacheConfig {
    /// Redis holding plans for every replica (`REDIS_URL` sets it); unset, plans stay in
    /// each process.
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys: `<key_prefix><sha256>`.
    pub key_prefix: String,
    /// How long a plan stays in Redis after it was last stored.
    #[serde(with = "crate::flags::duration")]
    pub ttl: Duration,
    /// On a supergraph reload, how many of the most recently used operations are planned
    /// against the new supergraph before it takes traffic.
    pub warm_up: usize,
}

impl Default for PlanCacheConfig {
    fn default() -> Self {
        PlanCacheConfig {
            redis_url: None,
            key_prefix: "router:plan:".into(),
            ttl: Duration::from_secs(7 * 24 * 3600),
            warm_up: 100,
        }
    }
}

/// The Redis level of the plan cache.
pub struct PlanStore {
    kv: Kv,
    prefix: String,
    ttl: Duration,
}

/// Bumped whenever the stored plan format changes, so old entries are never read.
const FORMAT: &str = "plan-v1";

impl PlanStore {
    /// The store `config` asks for, if any.
    pub fn new(config: &PlanCacheConfig) -> Result<Option<PlanStore>, redis::RedisError> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        Ok(Some(PlanStore {
            kv: Kv::open(url, "plan cache")?,
            prefix: config.key_prefix.clone(),
            ttl: config.ttl,
        }))
    }

    /// The Redis key of `key`'s plan against the supergraph whose hash is `schema`.
    pub fn key(&self, schema: &str, key: &CacheKey) -> String {
        let name = key.operation_name.as_deref();
        let mut hash = Sha256::new();
        for part in [FORMAT, schema, &key.query, name.unwrap_or_default()] {
            hash.update(part.len().to_le_bytes());
            hash.update(part.as_bytes());
        }
        hash.update([u8::from(name.is_some())]);
        let conditions: Vec<u8> = key.conditions.iter().map(|&c| u8::from(c)).collect();
        hash.update(conditions);
        format!("{}{}", self.prefix, hex::encode(hash.finalize()))
    }

    /// The plan stored under `key`; `None` on a miss or when Redis fails (counted).
    pub async fn get(&self, key: &str, metrics: &Metrics) -> Option<QueryPlan> {
        let found = match self.kv.get(key).await {
            Some(found) => found,
            None => {
                metrics.record_plan_level("redis", "error");
                return None;
            }
        };
        let plan = found.and_then(|bytes| match serde_json::from_slice(&bytes) {
            Ok(plan) => Some(plan),
            Err(error) => {
                tracing::warn!(%error, key, "unreadable plan in Redis; planning instead");
                None
            }
        });
        metrics.record_plan_level("redis", if plan.is_some() { "hit" } else { "miss" });
        plan
    }

    /// Stores `plan` under `key` for the fleet.
    pub async fn put(&self, key: &str, plan: &QueryPlan, metrics: &Metrics) {
        let Ok(bytes) = serde_json::to_vec(plan) else {
            return;
        };
        if !self.kv.set(key, &bytes, self.ttl).await {
            metrics.record_plan_level("redis", "error");
        }
    }
}

/// The hash naming a supergraph in plan keys.
pub fn schema_hash(sdl: &str) -> String {
    hex::encode(Sha256::digest(sdl.as_bytes()))
}

/// Prepares what the memory level missed: with the fleet's plan when Redis has one, else
/// planned here and stored for the others.
pub async fn plan_shared(
    state: &RouterState,
    store: Option<&PlanStore>,
    miss: Miss<'_>,
) -> Result<(Arc<PreparedOperation>, Map<String, Value>), RequestError> {
    let (sg, caches) = (&*state.supergraph, &state.caches);
    let Some(store) = store else {
        return miss.plan(sg, caches);
    };
    let key = store.key(&state.schema_hash, &miss.key);
    if let Some(plan) = store.get(&key, &caches.metrics).await {
        return miss.with_plan(sg, caches, plan);
    }
    let planned = miss.plan(sg, caches)?;
    store.put(&key, &planned.0.plan, &caches.metrics).await;
    Ok(planned)
}

/// Prepares `next` for traffic: the `limit` most recently used operations of `current` are
/// prepared against it (through the fleet's plans when there are any), so a reload costs
/// no request a planning delay. Operations the new supergraph rejects are skipped.
pub async fn warm_up(
    current: &RouterState,
    next: &RouterState,
    store: Option<&PlanStore>,
    limit: usize,
) -> usize {
    let mut warmed = 0;
    // Least recent first, so the most used end up most recent in the new cache too.
    for entry in current.caches.plans.most_recent(limit).into_iter().rev() {
        let document = &entry.document;
        let recipe = &entry.recipe;
        let looked_up = lookup(
            &next.supergraph,
            &next.caches,
            &document.normalized,
            document.operation.name.as_ref().map(|n| n.as_str()),
            recipe.conditions.clone(),
            &recipe.labels,
            Admission {
                limits: None,
                grants: recipe.grants.as_ref(),
            },
        );
        let prepared = match looked_up {
            Ok(Lookup::Miss(miss)) => plan_shared(next, store, miss).await.map(|_| ()),
            Ok(Lookup::Hit(..)) => Ok(()),
            Err(error) => Err(error),
        };
        match prepared {
            Ok(()) => warmed += 1,
            Err(error) => tracing::debug!(%error, "warm-up skipped an operation"),
        }
    }
    warmed
}
