//! The router's shared state: execution settings, and everything built from one supergraph
//! (caches, subgraph client, subscriptions), replaced as a whole on reload. The HTTP layer,
//! the request pipeline and subscriptions all read it; it depends on none of them.

use crate::edge::cost::{CostModel, DemandControlConfig};
use crate::edge::headers::Forwarded;
use crate::edge::limits::LimitsConfig;
use crate::execute::fetch::SubgraphClient;
use crate::execute::inflight::InFlight;
use crate::observe::TracingConfig;
use crate::pipeline::Caches;
use crate::subscription::{SubscriptionHub, SubscriptionSettings};
use crate::supergraph::{Supergraph, SupergraphError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Execution settings that do not depend on the supergraph (see [`crate::Config`] for
/// what each means).
#[derive(Debug, Clone)]
pub struct ExecutionSettings {
    pub subgraph_timeout: Duration,
    pub subgraph_timeouts: HashMap<String, Duration>,
    /// The whole operation; past it the client gets `GATEWAY_TIMEOUT`.
    pub request_timeout: Duration,
    pub plan_cache_size: usize,
    /// Progressive `@override` labels enabled for every request (feature flags); `percent(N)`
    /// labels not listed here are still rolled per request.
    pub override_labels: Vec<String>,
    pub subscriptions: SubscriptionSettings,
    /// Whether `__schema`/`__type` are answered.
    pub introspection: bool,
    pub limits: LimitsConfig,
    pub demand_control: DemandControlConfig,
    /// Keep subgraph errors' `extensions` beyond `code` and `serviceName`.
    pub subgraph_error_extensions: bool,
    /// What request spans carry.
    pub tracing: TracingConfig,
    /// Refuse operations asking for fields the caller may not see (else answer the rest).
    pub reject_unauthorized: bool,
    /// Identical queries in flight (same plan, variables and forwarded headers) share one
    /// execution.
    pub dedupe_requests: bool,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        ExecutionSettings {
            subgraph_timeout: Duration::from_secs(30),
            subgraph_timeouts: HashMap::new(),
            request_timeout: Duration::from_secs(60),
            plan_cache_size: 512,
            override_labels: Vec::new(),
            subscriptions: SubscriptionSettings::default(),
            introspection: true,
            limits: LimitsConfig::default(),
            demand_control: DemandControlConfig::default(),
            subgraph_error_extensions: true,
            tracing: TracingConfig::default(),
            reject_unauthorized: false,
            dedupe_requests: true,
        }
    }
}

/// Immutable per-supergraph state; replaced as a whole on reload.
pub struct RouterState {
    pub supergraph: Arc<Supergraph>,
    /// Names the supergraph in the keys of plans shared through Redis.
    pub schema_hash: String,
    /// `@cost`/`@listSize` of the supergraph, for demand control.
    pub cost: CostModel,
    pub caches: Caches,
    pub client: Arc<SubgraphClient>,
    pub settings: ExecutionSettings,
    /// Subscriptions started against this state; they outlive a supergraph reload.
    pub subscriptions: SubscriptionHub,
    /// Queries in flight, shared by identical requests.
    pub(crate) executions: InFlight<ExecutionKey, Executed>,
}

/// What makes two queries' answers the same: one plan (the plan cache's entry, which
/// includes the `@skip`/`@include` conditions and override labels), the same coerced
/// variables and the same headers for every subgraph, within one write epoch.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ExecutionKey {
    pub plan: usize,
    pub variables: Vec<u8>,
    pub headers: Forwarded,
    pub epoch: u64,
}

/// An executed operation's whole response body, shareable, and whether it has errors.
pub(crate) type Executed = (bytes::Bytes, bool);

impl RouterState {
    /// Parses `sdl` into a ready state sharing `client`'s connection pools.
    pub fn new(
        sdl: &str,
        client: Arc<SubgraphClient>,
        settings: ExecutionSettings,
    ) -> Result<RouterState, SupergraphError> {
        let supergraph = Arc::new(Supergraph::parse(sdl)?);
        let cost = CostModel::from_sdl(&supergraph, sdl)?;
        Ok(RouterState {
            supergraph,
            schema_hash: crate::plan_store::schema_hash(sdl),
            cost,
            caches: Caches::with_metrics(settings.plan_cache_size, client.metrics.clone()),
            client,
            settings,
            subscriptions: SubscriptionHub::default(),
            executions: InFlight::default(),
        })
    }
}
