//! The Redis rate limiter against a real, throwaway `redis-server`: replicas share budgets,
//! buckets expire, and a dead, frozen or late Redis follows the failure policy without
//! hanging, then limiting resumes.

mod common;

use common::redis::{require_redis, unique_prefix};
use router::edge::rate_limit::{Decision, RateLimiter, Rule};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(100);
const MINUTE: Duration = Duration::from_secs(60);

fn limiter(url: &str, prefix: &str, fail_open: bool) -> RateLimiter {
    RateLimiter::redis(url, prefix, TIMEOUT, fail_open).expect("valid url")
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("valid url");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("test redis answers")
}

/// `check`, asserting it returns well within a second whatever Redis does.
async fn timed_check(limiter: &RateLimiter, rule: &Rule, key: &str) -> Decision {
    let started = Instant::now();
    let decision = limiter.check(rule, key, 1).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "a decision took {elapsed:?}"
    );
    decision
}

/// Checks until a decision of `limiter` is made by Redis again (no failure counted), or
/// panics; returns that decision.
async fn wait_until_redis_decides(limiter: &RateLimiter, rule: &Rule, key: &str) -> Decision {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let failures = limiter.redis_failures();
        let decision = limiter.check(rule, key, 1).await;
        if limiter.redis_failures() == failures {
            return decision;
        }
        assert!(Instant::now() < deadline, "Redis never decided again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_replicas_share_one_budget() {
    let Some(server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("shared");
    let (a, b) = (
        limiter(&server.url, &prefix, false),
        limiter(&server.url, &prefix, false),
    );
    let rule = Rule::new("per_user", 10, MINUTE);
    for i in 0..10 {
        let replica = if i % 2 == 0 { &a } else { &b };
        assert_eq!(replica.check(&rule, "alice", 1).await, Decision::Allowed);
    }
    for replica in [&a, &b] {
        let Decision::Limited { retry_after } = replica.check(&rule, "alice", 1).await else {
            panic!("the shared budget is spent");
        };
        // One unit per 6 s; a few ms have passed since the budget was spent.
        assert!(retry_after <= Duration::from_secs(6), "{retry_after:?}");
        assert!(
            retry_after > Duration::from_millis(5_500),
            "{retry_after:?}"
        );
    }
    assert_eq!(b.check(&rule, "bob", 1).await, Decision::Allowed);

    // Costs above one move the same shared bucket.
    let budget = Rule::new("cost", 100, Duration::from_secs(100));
    assert!(a.check(&budget, "alice", 60).await.is_allowed());
    let Decision::Limited { retry_after } = b.check(&budget, "alice", 50).await else {
        panic!("60 + 50 exceeds 100");
    };
    assert!(retry_after > Duration::from_millis(9_500) && retry_after <= Duration::from_secs(10));
    assert!(b.check(&budget, "alice", 40).await.is_allowed());
    assert!(!a.check(&budget, "alice", 1).await.is_allowed());
    assert_eq!(a.redis_failures() + b.redis_failures(), 0);
}

#[tokio::test]
async fn buckets_are_escaped_keys_that_expire_when_idle() {
    let Some(server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("expiry");
    let limiter = limiter(&server.url, &prefix, false);
    let rule = Rule::new("auth_email", 2, Duration::from_millis(400));
    let key = "Mallory:*:with colons@example.com";
    assert!(limiter.check(&rule, key, 1).await.is_allowed());
    assert!(limiter.check(&rule, key, 1).await.is_allowed());
    assert!(!limiter.check(&rule, key, 1).await.is_allowed());

    let mut conn = redis_conn(&server.url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let bucket = &keys[0];
    let part = bucket
        .strip_prefix(&format!("{prefix}:auth_email:~"))
        .unwrap_or_else(|| panic!("unexpected key {bucket}"));
    assert!(part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit()));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(bucket)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!((1..=400).contains(&ttl), "ttl {ttl}");

    tokio::time::sleep(Duration::from_millis(450)).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(bucket)
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert!(!exists, "an idle bucket vanishes");
    assert!(
        limiter.check(&rule, key, 2).await.is_allowed(),
        "full again"
    );
}

#[tokio::test]
async fn redis_killed_mid_test_follows_the_policy_then_limiting_resumes() {
    let Some(mut server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("killed");
    let open = limiter(&server.url, &prefix, true);
    let closed = limiter(&server.url, &prefix, false);
    let rule = Rule::new("per_ip", 3, MINUTE);
    assert!(open.check(&rule, "warm", 1).await.is_allowed());
    assert!(closed.check(&rule, "warm", 1).await.is_allowed());

    server.stop();
    for _ in 0..5 {
        assert_eq!(timed_check(&open, &rule, "k").await, Decision::Allowed);
        assert_eq!(
            timed_check(&closed, &rule, "k").await,
            Decision::Unavailable
        );
    }
    assert_eq!(open.redis_failures(), 5);
    assert_eq!(closed.redis_failures(), 5);
    // A rule's own policy overrides the limiter's.
    let strict = rule.clone().with_fail_open(false);
    assert_eq!(
        timed_check(&open, &strict, "k").await,
        Decision::Unavailable
    );

    server.restart();
    // The restarted Redis is empty: each replica's first decision through it spends one unit.
    let first = wait_until_redis_decides(&open, &rule, "k").await;
    assert_eq!(first, Decision::Allowed);
    let second = wait_until_redis_decides(&closed, &rule, "k").await;
    assert_eq!(second, Decision::Allowed);
    let failures = (open.redis_failures(), closed.redis_failures());
    assert_eq!(open.check(&rule, "k", 1).await, Decision::Allowed);
    for replica in [&open, &closed] {
        assert!(matches!(
            replica.check(&rule, "k", 1).await,
            Decision::Limited { .. }
        ));
    }
    assert_eq!((open.redis_failures(), closed.redis_failures()), failures);
}

#[tokio::test]
async fn redis_unreachable_at_start_does_not_block_and_is_used_once_up() {
    let Some(mut server) = require_redis() else {
        return;
    };
    server.stop();
    let prefix = unique_prefix("late");
    let limiter = limiter(&server.url, &prefix, false);
    let rule = Rule::new("per_user", 1, MINUTE);
    assert_eq!(
        timed_check(&limiter, &rule, "k").await,
        Decision::Unavailable
    );
    assert!(limiter.ping().await.is_err());

    server.restart();
    let first = wait_until_redis_decides(&limiter, &rule, "k").await;
    assert_eq!(first, Decision::Allowed);
    assert!(limiter.ping().await.is_ok());
    assert!(!limiter.check(&rule, "k", 1).await.is_allowed());
}

#[tokio::test]
async fn a_frozen_redis_costs_at_most_the_timeout() {
    let Some(server) = require_redis() else {
        return;
    };
    let prefix = unique_prefix("frozen");
    let limiter = limiter(&server.url, &prefix, true);
    let rule = Rule::new("per_user", 3, MINUTE);
    assert!(limiter.check(&rule, "k", 1).await.is_allowed());

    server.signal("-STOP");
    let started = Instant::now();
    assert_eq!(timed_check(&limiter, &rule, "k").await, Decision::Allowed);
    assert!(
        started.elapsed() >= TIMEOUT,
        "the decision waited for Redis first"
    );
    assert_eq!(limiter.redis_failures(), 1);

    server.signal("-CONT");
    // The timed-out script was already sent, so Redis may still run it once it thaws: 2 or 3
    // units are spent by now, and limiting resumes within two more decisions.
    let decision = wait_until_redis_decides(&limiter, &rule, "k").await;
    assert_eq!(decision, Decision::Allowed);
    let mut limited = false;
    for _ in 0..2 {
        limited |= matches!(limiter.check(&rule, "k", 1).await, Decision::Limited { .. });
    }
    assert!(limited, "Redis limits again");
}
