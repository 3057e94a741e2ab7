//! The router's Prometheus metrics (`GET /metrics`): requests by operation, outcome and
//! client; every subgraph fetch; planning; subscriptions; the process. Names follow
//! Prometheus conventions under the `platform_` prefix and a `service="router"` label, as
//! the subgraphs' do.
//!
//! One [`Metrics`] lives as long as the router instance (it outlives supergraph reloads).
//! Label values that clients choose (operation and client names) are capped: past
//! [`MetricsConfig::max_operation_labels`] distinct values, new ones count as `(other)`.

mod labels;
pub mod process;

use labels::{Label, Names};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::time::Duration;

pub use labels::ClientInfo;

/// `[telemetry.metrics]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Count and serve metrics; off, nothing is counted and `/metrics` is not served.
    pub enabled: bool,
    /// Serve `/metrics` on this address instead of the router's own port.
    pub listen: Option<std::net::SocketAddr>,
    /// Distinct operation names (and client names) counted before new ones become
    /// `(other)`: clients choose them, Prometheus pays for every one.
    pub max_operation_labels: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: None,
            max_operation_labels: 256,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: Label,
    outcome: &'static str,
    client_name: Label,
    client_version: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: Label,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubgraphLabels {
    subgraph: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchErrorLabels {
    subgraph: Label,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanCacheLabels {
    level: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntityCacheLabels {
    subgraph: Label,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 0.5 ms .. ~16 s, as the subgraphs' histograms.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn batch_sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// How a request ended, for the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Executed without errors (or a subscription started).
    Ok,
    /// Executed with errors (partial or no data).
    Errors,
    /// A request error: parse, validation, variables, planning.
    Invalid,
    /// Refused at the edge: authentication, limits, cost, rate limits, timeout, transport.
    Refused,
}

impl RequestOutcome {
    fn label(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Errors => "errors",
            RequestOutcome::Invalid => "invalid",
            RequestOutcome::Refused => "refused",
        }
    }
}

/// Every metric of one router instance.
pub struct Metrics {
    enabled: bool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<OperationLabels>,
    errors: Family<CodeLabels, Counter>,
    fetch_duration: Histograms<SubgraphLabels>,
    fetch_errors: Family<FetchErrorLabels, Counter>,
    entity_batch: Histograms<SubgraphLabels>,
    coalesced: Family<SubgraphLabels, Counter>,
    plan_cache: Family<PlanCacheLabels, Counter>,
    entity_cache: Family<EntityCacheLabels, Counter>,
    planning: Histogram,
    subscriptions: Family<TransportLabels, Gauge>,
    upstream_subscriptions: Gauge,
    subscription_events: Counter,
    subscription_dropped: Counter,
    open_connections: Gauge,
    resident_memory: Gauge,
    operations: Names,
    clients: Names,
    /// Subgraph names and error codes come from the supergraph and the subgraphs; capped
    /// all the same, generously.
    subgraphs: Names,
    codes: Names,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(&MetricsConfig::default())
    }
}

impl Metrics {
    pub fn new(config: &MetricsConfig) -> Metrics {
        let mut registry = Registry::with_prefix_and_labels(
            "platform",
            [("service".into(), "router".into())].into_iter(),
        );
        let metrics = Metrics {
            enabled: config.enabled,
            requests: Family::default(),
            request_duration: Histograms::new_with_constructor(latency),
            errors: Family::default(),
            fetch_duration: Histograms::new_with_constructor(latency),
            fetch_errors: Family::default(),
            entity_batch: Histograms::new_with_constructor(batch_sizes),
            coalesced: Family::default(),
            plan_cache: Family::default(),
            entity_cache: Family::default(),
            planning: latency(),
            subscriptions: Family::default(),
            upstream_subscriptions: Gauge::default(),
            subscription_events: Counter::default(),
            subscription_dropped: Counter::default(),
            open_connections: Gauge::default(),
            resident_memory: Gauge::default(),
            operations: Names::new(config.max_operation_labels),
            clients: Names::new(config.max_operation_labels),
            subgraphs: Names::new(1024),
            codes: Names::new(1024),
            registry: Registry::default(),
        };
        metrics.register(&mut registry);
        Metrics {
            registry,
            ..metrics
        }
    }

    fn register(&self, r: &mut Registry) {
        let router = r.sub_registry_with_prefix("router");
        router.register(
            "requests",
            "GraphQL requests by operation name, outcome and client (apollographql-client-name/-version)",
            self.requests.clone(),
        );
        router.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response (a subscription: to its start)",
            self.request_duration.clone(),
        );
        router.register(
            "errors",
            "GraphQL errors in responses by extensions.code (counted once per execution)",
            self.errors.clone(),
        );
        router.register(
            "subgraph_fetch_duration_seconds",
            "Subgraph HTTP fetches sent (coalesced ones excluded) and their latency",
            self.fetch_duration.clone(),
        );
        router.register(
            "subgraph_fetch_errors",
            "Subgraph fetches that failed, by kind: http, timeout, graphql (errors in the response)",
            self.fetch_errors.clone(),
        );
        router.register(
            "entity_batch_size",
            "Representations per _entities fetch",
            self.entity_batch.clone(),
        );
        router.register(
            "subgraph_fetches_coalesced",
            "Subgraph fetches answered by an identical fetch already in flight",
            self.coalesced.clone(),
        );
        router.register(
            "plan_cache",
            "Query plan cache lookups by level (memory, redis) and outcome (hit, miss, error)",
            self.plan_cache.clone(),
        );
        router.register(
            "entity_cache",
            "Subgraph response cache outcomes by subgraph: hit, miss, stored, uncacheable, \
             invalidated (entries evicted), error (Redis failed: the subgraph answered)",
            self.entity_cache.clone(),
        );
        router.register(
            "planning_duration_seconds",
            "Time to normalize and plan an operation on a plan cache miss",
            self.planning.clone(),
        );
        router.register(
            "subscriptions",
            "Client subscriptions open now, by transport",
            self.subscriptions.clone(),
        );
        router.register(
            "upstream_subscriptions",
            "Subscriptions to subgraphs running now (shared by identical client subscriptions)",
            self.upstream_subscriptions.clone(),
        );
        router.register(
            "subscription_events",
            "Subscription events delivered to clients",
            self.subscription_events.clone(),
        );
        router.register(
            "subscription_clients_dropped",
            "Client subscriptions ended because the client fell too far behind",
            self.subscription_dropped.clone(),
        );
        router.register(
            "open_connections",
            "Client connections (HTTP and WebSocket) open now",
            self.open_connections.clone(),
        );
        r.sub_registry_with_prefix("process").register(
            "resident_memory_bytes",
            "Resident set size of the router process",
            self.resident_memory.clone(),
        );
    }

    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        if let Some(rss) = telemetry::resident_memory_bytes() {
            self.resident_memory.set(rss as i64);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// One request: `operation` is `None` for a request that never got a valid operation.
    pub fn record_request(
        &self,
        operation: Option<Option<&str>>,
        outcome: RequestOutcome,
        client: &ClientInfo,
        elapsed: Duration,
    ) {
        if !self.enabled() {
            return;
        }
        let operation = match operation {
            None => Label::clone(&labels::INVALID),
            Some(None) => Label::clone(&labels::ANONYMOUS),
            Some(Some(name)) => self.operations.get(name),
        };
        let (client_name, client_version) = client.labels(&self.clients);
        let outcome = outcome.label();
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.clone(),
                outcome,
                client_name,
                client_version,
            })
            .inc();
        self.request_duration
            .get_or_create(&OperationLabels { operation, outcome })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts GraphQL errors by `extensions.code` (`UNKNOWN` without one).
    pub fn count_errors<'a>(&self, errors: impl IntoIterator<Item = &'a Value>) {
        if !self.enabled() {
            return;
        }
        for error in errors {
            let code = error
                .pointer("/extensions/code")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN");
            self.count_code(code);
        }
    }

    pub fn count_code(&self, code: &str) {
        if self.enabled() {
            let code = self.codes.get(code);
            self.errors.get_or_create(&CodeLabels { code }).inc();
        }
    }

    /// One subgraph fetch sent: its latency and, when it failed, how.
    pub fn record_fetch(&self, subgraph: &str, elapsed: Duration, failure: Option<&'static str>) {
        if !self.enabled() {
            return;
        }
        let subgraph = self.subgraphs.get(subgraph);
        if let Some(kind) = failure {
            let labels = FetchErrorLabels {
                subgraph: subgraph.clone(),
                kind,
            };
            self.fetch_errors.get_or_create(&labels).inc();
        }
        self.fetch_duration
            .get_or_create(&SubgraphLabels { subgraph })
            .observe(elapsed.as_secs_f64());
    }

    /// A fetch that joined an identical one in flight.
    pub fn record_coalesced(&self, subgraph: &str) {
        if !self.enabled() {
            return;
        }
        let subgraph = self.subgraphs.get(subgraph);
        self.coalesced
            .get_or_create(&SubgraphLabels { subgraph })
            .inc();
    }

    pub fn record_entity_batch(&self, subgraph: &str, representations: usize) {
        if !self.enabled() {
            return;
        }
        let subgraph = self.subgraphs.get(subgraph);
        self.entity_batch
            .get_or_create(&SubgraphLabels { subgraph })
            .observe(representations as f64);
    }

    /// A plan cache lookup; `planning` is the time spent planning on a miss.
    /// A plan cache level beyond memory answered `outcome` (`hit`, `miss`, `error`).
    pub fn record_plan_level(&self, level: &'static str, outcome: &'static str) {
        if self.enabled() {
            self.plan_cache
                .get_or_create(&PlanCacheLabels { level, outcome })
                .inc();
        }
    }

    /// `n` subgraph response cache events of one `outcome` for `subgraph`.
    pub fn record_entity_cache(&self, subgraph: &str, outcome: &'static str, n: u64) {
        if self.enabled() && n > 0 {
            let subgraph = self.subgraphs.get(subgraph);
            self.entity_cache
                .get_or_create(&EntityCacheLabels { subgraph, outcome })
                .inc_by(n);
        }
    }

    pub fn record_plan(&self, planning: Option<Duration>) {
        if !self.enabled() {
            return;
        }
        let outcome = if planning.is_some() { "miss" } else { "hit" };
        self.plan_cache
            .get_or_create(&PlanCacheLabels {
                level: "memory",
                outcome,
            })
            .inc();
        if let Some(elapsed) = planning {
            self.planning.observe(elapsed.as_secs_f64());
        }
    }

    /// A client subscription over `transport`, counted as open until the guard drops.
    pub fn subscription_opened(&self, transport: &'static str) -> Option<GaugeGuard> {
        self.enabled().then(|| {
            let labels = TransportLabels { transport };
            GaugeGuard::new(self.subscriptions.get_or_create(&labels).clone())
        })
    }

    /// A subscription to a subgraph, counted as running until the guard drops.
    pub fn upstream_opened(&self) -> Option<GaugeGuard> {
        self.enabled()
            .then(|| GaugeGuard::new(self.upstream_subscriptions.clone()))
    }

    /// A client connection, counted as open until the guard drops.
    pub fn connection_opened(&self) -> Option<GaugeGuard> {
        self.enabled()
            .then(|| GaugeGuard::new(self.open_connections.clone()))
    }

    pub fn record_subscription_event(&self) {
        if self.enabled() {
            self.subscription_events.inc();
        }
    }

    pub fn record_subscription_dropped(&self) {
        if self.enabled() {
            self.subscription_dropped.inc();
        }
    }
}

/// Holds a gauge up by one while it lives.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
