//! Prometheus metrics of one service. Each service (and each test server) owns its registry,
//! so tests can read exact counts and several services can share one process.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub backend: String,
    pub op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub cache: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub stream: String,
    pub outcome: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s: covers a cache hit up to a stuck upstream.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// Every metric a subgraph exports, registered once in [`Metrics::new`].
pub struct Metrics {
    registry: Registry,
    pub requests: Family<OperationLabels, Counter>,
    pub request_duration: Histograms<OperationLabels>,
    pub graphql_errors: Family<CodeLabels, Counter>,
    pub store_calls: Histograms<CallLabels>,
    pub redis_calls: Histograms<CallLabels>,
    pub cache: Family<CacheLabels, Counter>,
    pub events: Family<EventLabels, Counter>,
    /// GraphQL WebSocket connections open now, and opened since start.
    pub websocket_connections: Gauge,
    pub websocket_connections_opened: Counter,
    resident_memory: Gauge,
}

impl Metrics {
    pub fn new(service: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix_and_labels(
            "platform",
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_owned()),
            )]
            .into_iter(),
        );
        let requests = Family::<OperationLabels, Counter>::default();
        let request_duration =
            Histograms::<OperationLabels>::new_with_constructor(latency_histogram);
        let graphql_errors = Family::<CodeLabels, Counter>::default();
        let store_calls = Histograms::<CallLabels>::new_with_constructor(latency_histogram);
        let redis_calls = Histograms::<CallLabels>::new_with_constructor(latency_histogram);
        let cache = Family::<CacheLabels, Counter>::default();
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL request latency",
            request_duration.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors by extensions.code",
            graphql_errors.clone(),
        );
        registry.register(
            "store_call_duration_seconds",
            "Storage call latency by backend and operation",
            store_calls.clone(),
        );
        registry.register(
            "redis_call_duration_seconds",
            "Redis call latency by use and operation",
            redis_calls.clone(),
        );
        registry.register(
            "cache_requests",
            "Read-through cache lookups by outcome (hit, miss, bypass)",
            cache.clone(),
        );
        registry.register(
            "domain_events",
            "Domain events by stream and outcome (published, handled, failed, redelivered, dead_lettered, trimmed)",
            events.clone(),
        );
        let websocket_connections = Gauge::default();
        let websocket_connections_opened = Counter::default();
        registry.register(
            "websocket_connections",
            "GraphQL WebSocket connections open now",
            websocket_connections.clone(),
        );
        registry.register(
            "websocket_connections_opened",
            "GraphQL WebSocket connections opened since start",
            websocket_connections_opened.clone(),
        );
        let resident_memory = Gauge::default();
        registry.sub_registry_with_prefix("process").register(
            "resident_memory_bytes",
            "Resident set size of the process (every service of an embedded platform shares it)",
            resident_memory.clone(),
        );
        Arc::new(Self {
            resident_memory,
            registry,
            requests,
            request_duration,
            graphql_errors,
            store_calls,
            redis_calls,
            cache,
            events,
            websocket_connections,
            websocket_connections_opened,
        })
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

    pub fn observe_store(&self, backend: &str, op: &str, elapsed: Duration) {
        self.store_calls
            .get_or_create(&CallLabels {
                backend: backend.to_owned(),
                op: op.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_redis(&self, backend: &str, op: &str, elapsed: Duration) {
        self.redis_calls
            .get_or_create(&CallLabels {
                backend: backend.to_owned(),
                op: op.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn count_cache(&self, cache: &str, outcome: &str) {
        self.cache
            .get_or_create(&CacheLabels {
                cache: cache.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn count_event(&self, stream: &str, outcome: &str) {
        self.count_events(stream, outcome, 1);
    }

    pub fn count_events(&self, stream: &str, outcome: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.events
            .get_or_create(&EventLabels {
                stream: stream.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// Current value of a cache counter; for tests and readiness reports.
    pub fn cache_count(&self, cache: &str, outcome: &str) -> u64 {
        self.cache
            .get_or_create(&CacheLabels {
                cache: cache.to_owned(),
                outcome: outcome.to_owned(),
            })
            .get()
    }
}
