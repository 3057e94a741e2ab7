//! Distributed rate limiting with GCRA (generic cell rate algorithm).
//!
//! A [`Rule`] is a bucket of `capacity` cost units that refills completely in `period`. GCRA
//! keeps one number per bucket, the theoretical arrival time (TAT): the instant the bucket
//! would be full again. A request of cost `n` moves the TAT `n * period / capacity` forward and
//! is allowed while the new TAT is at most `period` ahead of now. That gives a burst of
//! `capacity`, a sustained rate of `capacity / period`, an exact `retry_after`, and a state of
//! one integer that can simply expire once the bucket is full again.
//!
//! Two backends share the math: [`RateLimiter::memory`] (per process, sharded, bounded) and
//! [`RateLimiter::redis`] (one Lua script per decision on Redis server time, so every router
//! replica spends the same budget). When Redis fails, the failure policy decides
//! ([`RateLimitConfig::fail_open`]); failures are logged and counted
//! ([`RateLimiter::redis_failures`]).

mod config;
mod keys;
mod memory;
mod redis_store;

pub use config::{AuthLimitConfig, RateLimitConfig, RuleConfig, RuleSet};
pub use keys::{client_ip, email_key, ip_key, key_part, IpNet};

use memory::MemoryStore;
use redis_store::RedisStore;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often a Redis failure is logged at `warn`; the ones in between go to `debug` and are
/// summed up in the next warning, so an outage does not flood the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The outcome of one [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within budget (or Redis failed and the policy is fail-open); the cost was spent.
    Allowed,
    /// Over budget; nothing was spent. The same request is allowed after `retry_after`
    /// (or never, when its cost exceeds the rule's capacity: then `retry_after` is the period).
    Limited { retry_after: Duration },
    /// Redis failed and the policy is fail-closed: the request is refused without a decision.
    Unavailable,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allowed)
    }
}

/// One limit: `capacity` cost units per `period`, with a burst of `capacity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    name: String,
    /// `name` made safe as a Redis key segment, computed once.
    key_name: String,
    capacity: u64,
    period: Duration,
    period_ns: u64,
    period_us: u64,
    fail_open: Option<bool>,
}

impl Rule {
    /// A rule named `name` (part of every bucket key, so names must be unique per limiter).
    /// A period shorter than a microsecond is raised to one: Redis keeps microseconds.
    /// With `capacity = 0` every request that costs something is limited.
    pub fn new(name: impl Into<String>, capacity: u64, period: Duration) -> Self {
        let name = name.into();
        let period = period.max(Duration::from_micros(1));
        Self {
            key_name: key_part(&name).into_owned(),
            capacity,
            period,
            period_ns: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX),
            period_us: u64::try_from(period.as_micros()).unwrap_or(u64::MAX),
            fail_open: None,
            name,
        }
    }

    /// The same rule with its own failure policy instead of the limiter's (e.g. sign-in
    /// limits that refuse while Redis is down).
    pub fn with_fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = Some(fail_open);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// The rule's own failure policy, if it overrides the limiter's.
    pub fn fail_open(&self) -> Option<bool> {
        self.fail_open
    }

    /// How far `cost` units move the TAT, in the unit of `window` (the period in ns or µs);
    /// rounded up so rounding never grants extra budget. Needs `capacity > 0`.
    fn increment(&self, cost: u64, window: u64) -> u64 {
        let exact = (u128::from(cost) * u128::from(window)).div_ceil(u128::from(self.capacity));
        u64::try_from(exact).unwrap_or(u64::MAX)
    }
}

/// One GCRA step in any time unit. `tat` is the stored TAT (`now` for a new bucket); returns
/// the new TAT to store, or how long until the request would fit. The Redis script is the
/// same arithmetic in Lua.
fn gcra(tat: u64, now: u64, increment: u64, window: u64) -> Result<u64, u64> {
    let new_tat = tat.max(now).saturating_add(increment);
    let allow_at = new_tat.saturating_sub(window);
    if allow_at > now {
        Err(allow_at - now)
    } else {
        Ok(new_tat)
    }
}

/// Errors of the rate limiter. Only construction errors reach callers; Redis errors during a
/// decision become the failure policy's [`Decision`].
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error("invalid rate_limit.redis_url: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis failed repeatedly; skipping it briefly")]
    Unavailable,
}

impl RateLimitError {
    /// Stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RateLimitError::InvalidUrl(_) => "RATE_LIMIT_CONFIG_INVALID",
            RateLimitError::Redis(_) => "RATE_LIMIT_REDIS_ERROR",
            RateLimitError::Timeout(_) => "RATE_LIMIT_REDIS_TIMEOUT",
            RateLimitError::Unavailable => "RATE_LIMIT_REDIS_UNAVAILABLE",
        }
    }
}

enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// Makes rate-limit decisions; share one per process (e.g. in an `Arc`).
pub struct RateLimiter {
    backend: Backend,
    fail_open: bool,
    failures: AtomicU64,
    started: Instant,
    /// Milliseconds after `started` of the last `warn`; `u64::MAX` before the first.
    last_warn_ms: AtomicU64,
    failures_at_last_warn: AtomicU64,
}

impl RateLimiter {
    /// A limiter for this process alone, keeping at most about `max_keys` buckets
    /// (see [`RateLimitConfig::memory_max_keys`]).
    pub fn memory(max_keys: usize) -> Self {
        Self::with_backend(Backend::Memory(MemoryStore::new(max_keys)), true)
    }

    /// A limiter whose buckets live in Redis under `<key_prefix>:<rule>:<key>`, shared by
    /// every limiter using the same Redis and prefix. Does not connect: it connects on the
    /// first decision and reconnects by itself, so an unreachable Redis only means decisions
    /// follow `fail_open` until it is back. Fails only on an invalid URL.
    pub fn redis(
        url: &str,
        key_prefix: &str,
        timeout: Duration,
        fail_open: bool,
    ) -> Result<Self, RateLimitError> {
        let client = redis::Client::open(url).map_err(RateLimitError::InvalidUrl)?;
        let store = RedisStore::new(client, key_prefix, timeout);
        Ok(Self::with_backend(Backend::Redis(store), fail_open))
    }

    /// The limiter `config` describes: Redis when `redis_url` is set, else memory.
    pub fn from_config(config: &RateLimitConfig) -> Result<Self, RateLimitError> {
        match &config.redis_url {
            Some(url) => Self::redis(
                url,
                &config.key_prefix,
                config.redis_timeout,
                config.fail_open,
            ),
            None => Ok(Self::memory(config.memory_max_keys)),
        }
    }

    fn with_backend(backend: Backend, fail_open: bool) -> Self {
        Self {
            backend,
            fail_open,
            failures: AtomicU64::new(0),
            started: Instant::now(),
            last_warn_ms: AtomicU64::new(u64::MAX),
            failures_at_last_warn: AtomicU64::new(0),
        }
    }

    /// Spends `cost` units of `rule`'s bucket for `key` (any untrusted text: it is hashed or
    /// escaped before it reaches a Redis key). A cost of 0 is always allowed and spends
    /// nothing; a cost above the capacity is always limited, with `retry_after` = period.
    pub async fn check(&self, rule: &Rule, key: &str, cost: u64) -> Decision {
        if cost == 0 {
            return Decision::Allowed;
        }
        if cost > rule.capacity {
            return Decision::Limited {
                retry_after: rule.period,
            };
        }
        match &self.backend {
            Backend::Memory(store) => store.check(rule, key, cost),
            Backend::Redis(store) => match store.check(rule, key, cost).await {
                Ok(decision) => decision,
                Err(error) => self.on_failure(rule, &error),
            },
        }
    }

    /// Whether the backend answers (for readiness and a startup log line); always `Ok` for
    /// memory. Bounded by the Redis timeout.
    pub async fn ping(&self) -> Result<(), RateLimitError> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(store) => store.ping().await,
        }
    }

    /// Decisions Redis could not make (errors, timeouts, skipped while it was failing), each
    /// settled by the failure policy instead. Always 0 for memory.
    pub fn redis_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// `"redis"` or `"memory"`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    fn on_failure(&self, rule: &Rule, error: &RateLimitError) -> Decision {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let fail_open = rule.fail_open.unwrap_or(self.fail_open);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now_ms.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .last_warn_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let since_last =
                failures - self.failures_at_last_warn.swap(failures, Ordering::Relaxed);
            tracing::warn!(
                rule = rule.name(),
                code = error.code(),
                %error,
                fail_open,
                failures_since_last_warning = since_last,
                failures_total = failures,
                "rate limit decided without Redis: {}",
                if fail_open { "allowing" } else { "refusing" }
            );
        } else {
            tracing::debug!(rule = rule.name(), %error, fail_open, "rate limit decided without Redis");
        }
        if fail_open {
            Decision::Allowed
        } else {
            Decision::Unavailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn gcra_allows_a_burst_of_capacity_then_refuses() {
        let store = MemoryStore::new(1024);
        let rule = Rule::new("burst", 10, MINUTE);
        for _ in 0..10 {
            assert_eq!(store.check_at(&rule, "alice", 1, 0), Decision::Allowed);
        }
        assert_eq!(
            store.check_at(&rule, "alice", 1, 0),
            Decision::Limited {
                retry_after: Duration::from_secs(6)
            }
        );
        // Another key and another rule have their own buckets.
        assert_eq!(store.check_at(&rule, "bob", 1, 0), Decision::Allowed);
        let other = Rule::new("other", 10, MINUTE);
        assert_eq!(store.check_at(&other, "alice", 1, 0), Decision::Allowed);
    }

    #[test]
    fn gcra_refills_over_time_and_retry_after_is_exact() {
        let store = MemoryStore::new(1024);
        let rule = Rule::new("refill", 4, Duration::from_secs(4));
        let second = 1_000_000_000;
        for _ in 0..4 {
            assert!(store.check_at(&rule, "k", 1, 0).is_allowed());
        }
        // Empty: one unit comes back per second.
        let limited = store.check_at(&rule, "k", 1, second / 2);
        assert_eq!(
            limited,
            Decision::Limited {
                retry_after: Duration::from_millis(500)
            }
        );
        // A refused request spends nothing: exactly at retry_after it fits.
        assert!(store.check_at(&rule, "k", 1, second).is_allowed());
        assert!(!store.check_at(&rule, "k", 1, second).is_allowed());
        // After a full period the whole burst is back, and not more.
        let later = 10 * second;
        for _ in 0..4 {
            assert!(store.check_at(&rule, "k", 1, later).is_allowed());
        }
        assert!(!store.check_at(&rule, "k", 1, later).is_allowed());
    }

    #[test]
    fn gcra_spends_costs_above_one() {
        let store = MemoryStore::new(1024);
        let rule = Rule::new("cost", 100, Duration::from_secs(100));
        assert!(store.check_at(&rule, "k", 60, 0).is_allowed());
        assert_eq!(
            store.check_at(&rule, "k", 50, 0),
            Decision::Limited {
                retry_after: Duration::from_secs(10)
            }
        );
        assert!(store.check_at(&rule, "k", 40, 0).is_allowed());
        assert!(!store.check_at(&rule, "k", 1, 0).is_allowed());
        assert!(store.check_at(&rule, "k", 30, 30_000_000_000).is_allowed());
    }

    #[test]
    fn gcra_rounds_fractional_intervals_against_the_caller() {
        // 3 per second: 333_333_333.3 ns per unit, rounded up per request.
        let rule = Rule::new("thirds", 3, Duration::from_secs(1));
        assert_eq!(rule.increment(1, rule.period_ns), 333_333_334);
        assert_eq!(rule.increment(3, rule.period_ns), 1_000_000_000);
        assert_eq!(gcra(0, 0, 10, 10), Ok(10));
        assert_eq!(gcra(10, 0, 1, 10), Err(1));
        assert_eq!(gcra(5, 20, 10, 10), Ok(30));
    }

    #[tokio::test]
    async fn cost_above_capacity_is_always_limited_and_zero_cost_always_allowed() {
        let limiter = RateLimiter::memory(1024);
        let rule = Rule::new("small", 5, MINUTE);
        let limited = Decision::Limited {
            retry_after: MINUTE,
        };
        assert_eq!(limiter.check(&rule, "k", 6).await, limited);
        assert_eq!(limiter.check(&rule, "k", 5).await, Decision::Allowed);
        assert_eq!(limiter.check(&rule, "k", 0).await, Decision::Allowed);
        let nothing = Rule::new("zero", 0, MINUTE);
        assert_eq!(limiter.check(&nothing, "k", 1).await, limited);
    }

    #[tokio::test]
    async fn redis_failures_follow_the_policy_and_are_counted() {
        // Port 1 on loopback refuses at once: every decision is a Redis failure.
        let url = "redis://127.0.0.1:1/";
        let timeout = Duration::from_millis(100);
        let open = RateLimiter::redis(url, "t", timeout, true).expect("valid url");
        let closed = RateLimiter::redis(url, "t", timeout, false).expect("valid url");
        let rule = Rule::new("r", 10, MINUTE);
        let started = Instant::now();
        for _ in 0..5 {
            assert_eq!(open.check(&rule, "k", 1).await, Decision::Allowed);
            assert_eq!(closed.check(&rule, "k", 1).await, Decision::Unavailable);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(open.redis_failures(), 5);
        assert_eq!(closed.redis_failures(), 5);
        // A rule's own policy wins over the limiter's.
        let strict = rule.clone().with_fail_open(false);
        assert_eq!(open.check(&strict, "k", 1).await, Decision::Unavailable);
        let lenient = rule.with_fail_open(true);
        assert_eq!(closed.check(&lenient, "k", 1).await, Decision::Allowed);
        assert!(open.ping().await.is_err());
        assert_eq!(open.backend_name(), "redis");
    }

    #[test]
    fn decisions_can_run_on_any_worker_thread() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        fn assert_send<T: Send>(_: T) {}
        let limiter = RateLimiter::redis("redis://127.0.0.1:1/", "t", MINUTE, true).expect("ok");
        assert_send_sync(&limiter);
        let rule = Rule::new("r", 1, MINUTE);
        assert_send(limiter.check(&rule, "k", 1));
        assert_send(limiter.ping());
    }

    #[test]
    fn invalid_redis_url_is_a_config_error() {
        let error = RateLimiter::redis("not a url", "t", MINUTE, true)
            .err()
            .expect("invalid url");
        assert_eq!(error.code(), "RATE_LIMIT_CONFIG_INVALID");
    }

    #[test]
    fn from_config_picks_the_backend() {
        let mut config = RateLimitConfig::default();
        let limiter = RateLimiter::from_config(&config).expect("memory builds");
        assert_eq!(limiter.backend_name(), "memory");
        config.redis_url = Some("redis://127.0.0.1:1/".into());
        let limiter = RateLimiter::from_config(&config).expect("redis builds without connecting");
        assert_eq!(limiter.backend_name(), "redis");
    }
}
