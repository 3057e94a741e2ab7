//! `[rate_limit]`: the backend, the failure policy and the rule tables.

use super::{IpNet, Rule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

/// `[rate_limit]`: limits per caller, per operation, per cost and on sign-in, kept in Redis
/// (shared by all replicas) or in memory. A limited request is refused with its
/// `retry_after`. Defaults protect a fresh install without bothering the platform's own UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Whether requests are limited at all; `false` turns every rule below off.
    pub enabled: bool,
    /// Redis shared by every router replica, e.g. `"redis://redis:6379/"`, so all replicas
    /// spend one budget per caller. Unset: each router process keeps its own buckets in memory
    /// (fine for one replica; with N replicas a caller gets up to N times the budget). Filled
    /// from `REDIS_URL` when unset here.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key: `<key_prefix>:<rule>:<key>`. Deployments sharing one
    /// Redis need distinct prefixes.
    pub key_prefix: String,
    /// When Redis fails or is slower than `redis_timeout`: `true` allows the request,
    /// `false` refuses it (as unavailable). Default `true`: the limiter protects the platform
    /// and must not take the whole router down with Redis; for the short outage callers are
    /// unlimited. Every such decision is logged (rate-limited) and counted. `auth.fail_open`
    /// can be stricter for sign-in, where an outage must not open password guessing.
    pub fail_open: bool,
    /// Longest a decision waits for Redis, connecting included (`"100ms"`, `"2s"`); then the
    /// failure policy decides. After repeated failures Redis is skipped for a quarter second,
    /// so a dead Redis costs requests almost nothing.
    #[serde(with = "crate::flags::duration")]
    pub redis_timeout: Duration,
    /// Most buckets the in-memory backend keeps (about 40 bytes each). When full, buckets that
    /// are full again (idle) are dropped first, then those closest to full, so a flood of new
    /// keys (clients rotating addresses) cannot grow memory or reset a busy caller's bucket.
    pub memory_max_keys: usize,
    /// Per authenticated caller (JWT `sub`), every request costing 1. Default 600 per minute:
    /// a burst of 600, then 10 a second.
    pub per_user: RuleConfig,
    /// Per anonymous caller's IP (IPv6 by /64; see `trusted_proxies`), every request costing
    /// 1. Default 300 per minute: pages of the UI seen by signed-out visitors stay far below.
    pub per_ip: RuleConfig,
    /// Operation name → a rule for that operation alone, per caller (user or IP), on top of
    /// `per_user`/`per_ip`. Empty by default, e.g. `{ SearchBoards = { capacity = 30,
    /// period = "1m" } }`.
    pub operations: BTreeMap<String, RuleConfig>,
    /// A budget of estimated operation cost (demand control) per caller: each request spends
    /// its estimated cost. Default 50000 per minute. An operation costing more than
    /// `capacity` is always refused.
    pub cost: RuleConfig,
    /// Tight limits on the sign-in family (`signIn`, `signUp`, `refreshSession`).
    pub auth: AuthLimitConfig,
    /// Proxies (IPs or CIDRs, e.g. `["10.0.0.0/8", "::1"]`) whose `X-Forwarded-For` is
    /// believed, when the request comes from one of them. Default empty: the TCP peer is the
    /// client, since a header from an untrusted peer can name any address. Behind a load
    /// balancer, list its addresses here, or every caller shares the balancer's IP budget.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            redis_url: None,
            key_prefix: "router:rl".into(),
            fail_open: true,
            redis_timeout: Duration::from_millis(100),
            memory_max_keys: 100_000,
            per_user: RuleConfig::new(600, MINUTE),
            per_ip: RuleConfig::new(300, MINUTE),
            operations: BTreeMap::new(),
            cost: RuleConfig::new(50_000, MINUTE),
            auth: AuthLimitConfig::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[rate_limit.auth]`: applied to requests whose root fields include one of `fields`, both
/// per email and per IP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthLimitConfig {
    /// Root fields that count as a sign-in attempt.
    pub fields: Vec<String>,
    /// Per email (the operation's `email` argument, trimmed and lower-cased), across all
    /// IPs: slows guessing one account's password. Default 10 per minute (a burst of 10, then
    /// one every 6 s), which a person mistyping never reaches.
    pub per_email: RuleConfig,
    /// Per client IP, across all emails: slows one client trying many accounts. Default 30
    /// per minute, room for a shared office address.
    pub per_ip: RuleConfig,
    /// Overrides the top-level `fail_open` for these two rules. Unset: the same policy.
    /// `false` refuses sign-ins while Redis is down, so an outage cannot be used to guess
    /// passwords unthrottled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_open: Option<bool>,
}

impl Default for AuthLimitConfig {
    fn default() -> Self {
        Self {
            fields: ["signIn", "signUp", "refreshSession"]
                .map(String::from)
                .to_vec(),
            per_email: RuleConfig::new(10, MINUTE),
            per_ip: RuleConfig::new(30, MINUTE),
            fail_open: None,
        }
    }
}

/// One rule, e.g. `{ capacity = 600, period = "1m" }`: a bucket of `capacity` units that
/// refills in `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Burst: the units a caller may spend at once from a full bucket; the sustained rate is
    /// `capacity / period`. `0` turns the rule off.
    pub capacity: u64,
    /// Time for an empty bucket to refill completely (`"1m"`, `"10s"`, `"500ms"`).
    #[serde(with = "crate::flags::duration")]
    pub period: Duration,
}

impl RuleConfig {
    pub const fn new(capacity: u64, period: Duration) -> Self {
        Self { capacity, period }
    }

    /// The rule named `name`, or `None` when it is off.
    pub fn rule(&self, name: &str) -> Option<Rule> {
        (self.capacity > 0).then(|| Rule::new(name, self.capacity, self.period))
    }
}

impl Default for RuleConfig {
    /// Off.
    fn default() -> Self {
        Self::new(0, MINUTE)
    }
}

/// The rules of a [`RateLimitConfig`], built once; `None` (or absent) where a rule is off,
/// everything off when `enabled = false`. Rule names are the bucket names in Redis keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    /// `per_user`, keyed by JWT `sub`.
    pub per_user: Option<Rule>,
    /// `per_ip`, keyed by [`super::ip_key`].
    pub per_ip: Option<Rule>,
    /// Operation name → its rule (named `op.<name>`), keyed by the caller.
    pub operations: HashMap<String, Rule>,
    /// `cost`, spent by estimated cost, keyed by the caller.
    pub cost: Option<Rule>,
    /// `auth.per_email` (named `auth_email`), keyed by [`super::email_key`].
    pub auth_per_email: Option<Rule>,
    /// `auth.per_ip` (named `auth_ip`), keyed by [`super::ip_key`].
    pub auth_per_ip: Option<Rule>,
}

impl RateLimitConfig {
    /// Builds the rules; the auth rules carry `auth.fail_open` when set.
    pub fn rules(&self) -> RuleSet {
        if !self.enabled {
            return RuleSet::default();
        }
        let auth = |config: &RuleConfig, name: &str| {
            let rule = config.rule(name)?;
            Some(match self.auth.fail_open {
                Some(fail_open) => rule.with_fail_open(fail_open),
                None => rule,
            })
        };
        RuleSet {
            per_user: self.per_user.rule("per_user"),
            per_ip: self.per_ip.rule("per_ip"),
            operations: self
                .operations
                .iter()
                .filter_map(|(name, config)| {
                    Some((name.clone(), config.rule(&format!("op.{name}"))?))
                })
                .collect(),
            cost: self.cost.rule("cost"),
            auth_per_email: auth(&self.auth.per_email, "auth_email"),
            auth_per_ip: auth(&self.auth.per_ip, "auth_ip"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_protect_a_fresh_install() {
        let config = RateLimitConfig::default();
        assert!(config.enabled && config.fail_open);
        assert_eq!(config.redis_url, None);
        assert_eq!(config.key_prefix, "router:rl");
        assert_eq!(config.redis_timeout, Duration::from_millis(100));
        assert_eq!(config.per_user, RuleConfig::new(600, MINUTE));
        assert_eq!(config.per_ip, RuleConfig::new(300, MINUTE));
        assert_eq!(config.cost, RuleConfig::new(50_000, MINUTE));
        assert_eq!(config.auth.per_email, RuleConfig::new(10, MINUTE));
        assert_eq!(config.auth.per_ip, RuleConfig::new(30, MINUTE));
        assert_eq!(config.auth.fields, ["signIn", "signUp", "refreshSession"]);
        assert!(config.trusted_proxies.is_empty() && config.operations.is_empty());
        // An empty table is the defaults.
        let empty: RateLimitConfig = toml::from_str("").expect("empty table parses");
        assert_eq!(empty, config);
    }

    #[test]
    fn a_full_table_parses_and_round_trips() {
        let text = r#"
            redis_url = "redis://redis:6379/"
            key_prefix = "prod:rl"
            fail_open = false
            redis_timeout = "250ms"
            per_user = { capacity = 100, period = "10s" }
            operations = { SearchBoards = { capacity = 30, period = "1m" } }
            trusted_proxies = ["10.0.0.0/8", "::1"]
            [auth]
            fields = ["signIn"]
            per_email = { capacity = 5, period = "5m" }
            fail_open = false
        "#;
        let config: RateLimitConfig = toml::from_str(text).expect("valid config");
        assert_eq!(config.redis_timeout, Duration::from_millis(250));
        assert_eq!(
            config.per_user,
            RuleConfig::new(100, Duration::from_secs(10))
        );
        assert_eq!(config.per_ip, RuleConfig::new(300, MINUTE), "default kept");
        assert_eq!(config.operations["SearchBoards"].capacity, 30);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(config.auth.per_email.period, Duration::from_secs(300));
        assert_eq!(config.auth.per_ip, RuleConfig::new(30, MINUTE));
        let json = serde_json::to_value(&config).expect("serializes");
        assert_eq!(json["redis_timeout"], "250ms");
        assert_eq!(json["auth"]["per_email"]["period"], "5m");
        assert_eq!(json["trusted_proxies"][1], "::1/128");
        let back: RateLimitConfig = serde_json::from_value(json).expect("round-trips");
        assert_eq!(back, config);
        let default_json = serde_json::to_value(RateLimitConfig::default()).expect("ok");
        assert_eq!(default_json["per_user"]["period"], "1m");
        let back: RateLimitConfig = serde_json::from_value(default_json).expect("ok");
        assert_eq!(back, RateLimitConfig::default());
    }

    #[test]
    fn unknown_and_invalid_keys_are_refused() {
        for text in [
            "per_usr = { capacity = 1, period = \"1m\" }",
            "per_user = { capacity = 1, period = \"1m\", burst = 2 }",
            "per_user = { capacity = 1 }",
            "per_user = { capacity = 1, period = \"1h\" }",
            "redis_timeout = \"0ms\"",
            "trusted_proxies = [\"10.0.0.0/40\"]",
            "[auth]\nemail = { capacity = 1, period = \"1m\" }",
        ] {
            assert!(toml::from_str::<RateLimitConfig>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn rules_are_named_off_when_zero_and_all_off_when_disabled() {
        let mut config = RateLimitConfig::default();
        config.per_ip.capacity = 0;
        config.auth.fail_open = Some(false);
        config
            .operations
            .insert("Search".into(), RuleConfig::new(5, MINUTE));
        config
            .operations
            .insert("Off".into(), RuleConfig::new(0, MINUTE));
        let rules = config.rules();
        let per_user = rules.per_user.expect("on");
        assert_eq!((per_user.name(), per_user.capacity()), ("per_user", 600));
        assert_eq!(per_user.fail_open(), None);
        assert_eq!(rules.per_ip, None);
        assert_eq!(rules.operations["Search"].name(), "op.Search");
        assert!(!rules.operations.contains_key("Off"));
        let auth_email = rules.auth_per_email.expect("on");
        assert_eq!(auth_email.name(), "auth_email");
        assert_eq!(auth_email.fail_open(), Some(false));
        assert_eq!(rules.cost.expect("on").period(), MINUTE);
        config.enabled = false;
        assert_eq!(config.rules(), RuleSet::default());
    }
}
