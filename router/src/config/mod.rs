//! The router's one configuration root: defaults, then a TOML file, then `ROUTER_*`
//! environment variables, then command-line flags (see [`load`]). Every section of
//! `router.example.toml` is one table here; unknown keys are refused at every layer.

mod layers;

pub use layers::{load, ConfigError};

use crate::edge::authorization::AuthorizationConfig;
use crate::edge::cors::CorsConfig;
use crate::edge::cost::DemandControlConfig;
use crate::edge::csrf::CsrfConfig;
use crate::edge::documents::PersistedQueriesConfig;
use crate::edge::headers::HeadersConfig;
use crate::edge::limits::LimitsConfig;
use crate::edge::rate_limit::RateLimitConfig;
use crate::entity_cache::EntityCacheConfig;
use crate::metrics::MetricsConfig;
use crate::observe::TracingConfig;
use crate::plan_store::PlanCacheConfig;
use crate::recompose::SubgraphSource;
use crate::state::ExecutionSettings;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Router configuration (the root of `router.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where `router serve` listens.
    pub listen: SocketAddr,
    /// The supergraph file; watched and reloaded when it changes. Exclusive with `subgraphs`.
    pub supergraph: Option<PathBuf>,
    /// How often the supergraph file's modification time is checked.
    #[serde(with = "crate::flags::duration")]
    pub reload_interval: Duration,
    /// Subgraphs to compose the supergraph from at start (instead of `supergraph`).
    pub subgraphs: Vec<SubgraphSource>,
    /// With `subgraphs`: how often their SDL is polled for changes; `0s` turns polling off.
    #[serde(with = "crate::flags::duration_or_zero")]
    pub poll_interval: Duration,
    /// With `subgraphs`: how long the start waits for them to answer.
    #[serde(with = "crate::flags::duration")]
    pub startup_wait: Duration,
    /// Progressive `@override` labels enabled for every request (feature flags);
    /// `percent(N)` labels are rolled per request either way.
    pub override_labels: Vec<String>,
    /// Whether `__schema`/`__type` are answered. Off: such operations are refused with
    /// `INTROSPECTION_DISABLED` (`__typename` always works).
    pub introspection: bool,
    /// Parsed documents and plans kept per supergraph.
    pub plan_cache_size: usize,
    /// Timeouts.
    pub traffic: TrafficConfig,
    /// Verification of `Authorization` at the edge; absent, tokens are left to the subgraphs.
    pub jwt: Option<crate::JwtConfig>,
    /// Which request headers reach which subgraph.
    pub headers: HeadersConfig,
    /// Operation and request size limits.
    pub limits: LimitsConfig,
    /// Cross-origin browser access.
    pub cors: CorsConfig,
    /// Cross-site request forgery prevention.
    pub csrf: CsrfConfig,
    /// Several operations in one POST (a JSON array, Apollo's batching format).
    pub batching: BatchingConfig,
    /// What subgraph errors clients see.
    pub subgraph_errors: SubgraphErrorsConfig,
    /// Static cost of operations (`@cost`/`@listSize`) and its maximum.
    pub demand_control: DemandControlConfig,
    /// Request budgets per caller, operation and cost, in Redis or in memory.
    pub rate_limit: RateLimitConfig,
    /// GraphiQL for browsers.
    pub playground: PlaygroundConfig,
    /// Logs, metrics and traces.
    pub telemetry: TelemetryConfig,
    /// Automatic persisted queries and safelisting by a manifest.
    pub persisted_queries: PersistedQueriesConfig,
    /// Plans shared through Redis, and the warm-up on reload.
    pub plan_cache: PlanCacheConfig,
    /// How `@authenticated`, `@requiresScopes` and `@policy` are decided from the token.
    pub authorization: AuthorizationConfig,
    /// Subgraph responses cached in Redis, as their `Cache-Control` allows.
    pub entity_cache: EntityCacheConfig,
}

/// `[telemetry]`: the log format, `/metrics`, and what request spans carry. Trace export
/// is configured by the standard `OTEL_*` variables (README, "Observability").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub log_format: telemetry::LogFormat,
    pub metrics: MetricsConfig,
    pub tracing: TracingConfig,
}

/// The GraphQL playground (GraphiQL with the explorer and a sign-in helper, every asset
/// served by the router): `GET /graphql` from a browser (`Accept: text/html`) and
/// `/playground`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaygroundConfig {
    pub enabled: bool,
}

impl Default for PlaygroundConfig {
    fn default() -> Self {
        PlaygroundConfig { enabled: true }
    }
}

/// Timeouts of subgraph calls and of whole client requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficConfig {
    /// Default timeout of one subgraph request.
    #[serde(with = "crate::flags::duration")]
    pub subgraph_timeout: Duration,
    /// Per-subgraph timeouts: `inventory = "500ms"`.
    #[serde(with = "crate::flags::duration_map")]
    pub subgraph_timeouts: HashMap<String, Duration>,
    /// The whole operation (every fetch of its plan); past it the client gets
    /// `GATEWAY_TIMEOUT` (HTTP 504) and no partial data. Subscriptions are not bounded by it.
    #[serde(with = "crate::flags::duration")]
    pub request_timeout: Duration,
    /// Identical queries in flight at once (same operation, variables and forwarded
    /// headers) run once and share the answer. Never mutations; never across a mutation
    /// answered by this router. Subgraph requests are coalesced the same way regardless.
    pub deduplicate_requests: bool,
}

/// Apollo's query batching: `[{"query": ...}, {"query": ...}]` answered by an array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchingConfig {
    pub enabled: bool,
    /// Most operations in one batch; a larger batch is refused whole with `BATCH_TOO_LARGE`.
    pub max_size: usize,
}

/// Subgraph errors are passed through with their message and path; their `extensions`
/// (where stack traces and internal details tend to live) only when this allows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubgraphErrorsConfig {
    /// Keep every subgraph error's `extensions`; off keeps only `extensions.code`.
    pub include_extensions: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            supergraph: None,
            reload_interval: Duration::from_secs(1),
            subgraphs: Vec::new(),
            poll_interval: Duration::ZERO,
            startup_wait: Duration::from_secs(30),
            override_labels: Vec::new(),
            introspection: true,
            plan_cache_size: 512,
            traffic: TrafficConfig::default(),
            jwt: None,
            headers: HeadersConfig::default(),
            limits: LimitsConfig::default(),
            cors: CorsConfig::default(),
            csrf: CsrfConfig::default(),
            batching: BatchingConfig::default(),
            subgraph_errors: SubgraphErrorsConfig::default(),
            demand_control: DemandControlConfig::default(),
            rate_limit: RateLimitConfig::default(),
            playground: PlaygroundConfig::default(),
            telemetry: TelemetryConfig::default(),
            persisted_queries: PersistedQueriesConfig::default(),
            plan_cache: PlanCacheConfig::default(),
            authorization: AuthorizationConfig::default(),
            entity_cache: EntityCacheConfig::default(),
        }
    }
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            subgraph_timeout: Duration::from_secs(30),
            subgraph_timeouts: HashMap::new(),
            request_timeout: Duration::from_secs(60),
            deduplicate_requests: true,
        }
    }
}

impl Default for BatchingConfig {
    fn default() -> Self {
        BatchingConfig {
            enabled: true,
            max_size: 10,
        }
    }
}

impl Default for SubgraphErrorsConfig {
    fn default() -> Self {
        SubgraphErrorsConfig {
            include_extensions: true,
        }
    }
}

/// Where the supergraph comes from.
pub enum Source<'a> {
    File(&'a std::path::Path),
    Compose(&'a [SubgraphSource]),
}

impl Config {
    /// Defaults, serving the supergraph file at `supergraph`.
    pub fn new(supergraph: impl Into<PathBuf>) -> Config {
        Config {
            supergraph: Some(supergraph.into()),
            ..Config::default()
        }
    }

    /// The supergraph file or the subgraphs to compose: exactly one must be configured.
    pub fn source(&self) -> Result<Source<'_>, ConfigError> {
        match (&self.supergraph, self.subgraphs.as_slice()) {
            (Some(path), []) => Ok(Source::File(path)),
            (None, []) => Err(ConfigError::Invalid {
                key: "supergraph".into(),
                message: "set `supergraph` (a file) or list `[[subgraphs]]` to compose".into(),
            }),
            (None, subgraphs) => Ok(Source::Compose(subgraphs)),
            (Some(_), _) => Err(ConfigError::Invalid {
                key: "supergraph".into(),
                message: "`supergraph` and `[[subgraphs]]` are exclusive; set one".into(),
            }),
        }
    }

    /// What the executor needs of this configuration.
    pub fn execution(&self) -> ExecutionSettings {
        ExecutionSettings {
            subgraph_timeout: self.traffic.subgraph_timeout,
            subgraph_timeouts: self.traffic.subgraph_timeouts.clone(),
            request_timeout: self.traffic.request_timeout,
            plan_cache_size: self.plan_cache_size,
            override_labels: self.override_labels.clone(),
            introspection: self.introspection,
            limits: self.limits.clone(),
            subgraph_error_extensions: self.subgraph_errors.include_extensions,
            dedupe_requests: self.traffic.deduplicate_requests,
            demand_control: self.demand_control.clone(),
            tracing: self.telemetry.tracing.clone(),
            reject_unauthorized: self.authorization.reject_unauthorized,
            ..ExecutionSettings::default()
        }
    }
}
