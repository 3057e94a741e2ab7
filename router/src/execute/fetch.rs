//! HTTP calls to subgraphs: pooled keep-alive connections, per-subgraph timeouts, and
//! coalescing of identical in-flight requests.

use super::doc::{Doc, Node, NodeId};
use super::inflight::{InFlight, WriteEpoch};
use crate::metrics::Metrics;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Why a subgraph request produced no usable response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP fetch failed from '{service}': {status}")]
    Status { service: String, status: u16 },
    #[error("HTTP fetch failed from '{service}': request timed out after {millis}ms")]
    Timeout { service: String, millis: u128 },
    #[error("HTTP fetch failed from '{service}': {message}")]
    Transport { service: String, message: String },
    #[error("HTTP fetch failed from '{service}': invalid GraphQL response: {message}")]
    Malformed { service: String, message: String },
}

impl FetchError {
    /// Stable error code for `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Timeout { .. } => "SUBREQUEST_TIMEOUT",
            _ => "SUBREQUEST_HTTP_ERROR",
        }
    }

    pub fn service(&self) -> &str {
        match self {
            FetchError::Status { service, .. }
            | FetchError::Timeout { service, .. }
            | FetchError::Transport { service, .. }
            | FetchError::Malformed { service, .. } => service,
        }
    }
}

/// A subgraph's GraphQL response: the parsed body, where its `data` is, and its errors.
#[derive(Debug, Clone)]
pub struct SubgraphResponse {
    pub doc: Doc,
    /// The `data` node, when present and not `null`.
    pub data: Option<NodeId>,
    pub errors: Vec<Value>,
    /// The body as received (what the entity cache stores).
    pub raw: Bytes,
    /// The subgraph's `Cache-Control` header.
    pub cache_control: Option<Box<str>>,
}

/// One request to a subgraph: everything that is forwarded is part of the coalescing key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubgraphRequest {
    pub url: String,
    pub body: Bytes,
    /// Forwarded headers (`Authorization` and configured ones), sorted by name.
    pub headers: Vec<(String, String)>,
}

type Outcome = Result<Arc<SubgraphResponse>, FetchError>;

/// Client shared by all requests of one router instance (it outlives supergraph reloads).
pub struct SubgraphClient {
    http: reqwest::Client,
    /// Identical read requests in flight, per write epoch.
    in_flight: InFlight<(SubgraphRequest, u64), Outcome>,
    /// Mutations answered through this router (see [`WriteEpoch`]).
    pub writes: WriteEpoch,
    /// The router instance's metrics: like the pools, they outlive supergraph reloads.
    pub metrics: Arc<Metrics>,
    /// Subgraph responses cached in Redis, when configured.
    pub cache: Option<Arc<crate::entity_cache::EntityCache>>,
}

impl Default for SubgraphClient {
    fn default() -> Self {
        Self::new()
    }
}

impl SubgraphClient {
    /// A client counting in `metrics`.
    pub fn with_metrics(metrics: Metrics) -> SubgraphClient {
        SubgraphClient {
            metrics: Arc::new(metrics),
            ..SubgraphClient::new()
        }
    }

    pub fn new() -> SubgraphClient {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        SubgraphClient {
            http,
            in_flight: InFlight::default(),
            writes: WriteEpoch::default(),
            metrics: Arc::default(),
            cache: None,
        }
    }

    /// Sends `request`, or, when `coalesce` is set, joins an identical request already in
    /// flight in the same write epoch. Only reads may coalesce: two identical mutations are
    /// two writes. The `request_id` is not part of the request's identity: a coalesced
    /// request carries the id of the request that started it.
    pub async fn fetch(
        &self,
        service: &str,
        request: SubgraphRequest,
        timeout: Duration,
        coalesce: bool,
        request_id: &str,
    ) -> Outcome {
        let span = fetch_span(service);
        let sent = |request: SubgraphRequest| Sent {
            http: self.http.clone(),
            service: service.to_owned(),
            request,
            timeout,
            metrics: self.metrics.clone(),
        };
        if !coalesce {
            let call = send(sent(request), request_id, &span);
            return call.instrument(span).await;
        }
        let key = (request, self.writes.current());
        let call =
            |(request, _): &(SubgraphRequest, u64)| send(sent(request.clone()), request_id, &span);
        let (outcome, joined) = self.in_flight.run(key, call).instrument(span.clone()).await;
        if joined {
            self.metrics.record_coalesced(service);
        }
        outcome
    }
}

impl SubgraphClient {
    /// Whether the subgraph at `url` answers a GraphQL request (`{ __typename }`) with a
    /// GraphQL response within `timeout`.
    pub async fn probe(&self, url: &str, timeout: Duration) -> Result<(), String> {
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(r#"{"query":"{ __typename }"}"#)
            .timeout(timeout)
            .send();
        let response = request.await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        parse_response("probe", status, body)
            .map(|_| ())
            .map_err(|_| format!("HTTP {status} without a GraphQL response"))
    }
}

/// The client span of one subgraph fetch, when traces are exported.
fn fetch_span(service: &str) -> tracing::Span {
    if !telemetry::propagation::in_traced_span() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "subgraph",
        otel.name = %format_args!("subgraph {service}"),
        otel.kind = "client",
        subgraph.name = %service,
        http.request.method = "POST",
    )
}

/// One request about to be sent and what it is measured with.
struct Sent {
    http: reqwest::Client,
    service: String,
    request: SubgraphRequest,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// Builds the request now (so the returned future borrows nothing) and sends it, carrying
/// `span`'s trace context.
fn send(
    sent: Sent,
    request_id: &str,
    span: &tracing::Span,
) -> impl std::future::Future<Output = Outcome> + Send + 'static {
    let Sent {
        http,
        service,
        request,
        timeout,
        metrics,
    } = sent;
    let mut builder = http
        .post(&request.url)
        .header("content-type", "application/json")
        .header(
            "accept",
            "application/graphql-response+json, application/json",
        )
        .header("x-request-id", request_id)
        .body(request.body);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    for (name, value) in telemetry::propagation::trace_headers(span) {
        builder = builder.header(name, value);
    }
    async move {
        let started = Instant::now();
        let call = async {
            let response = builder.send().await.map_err(|e| FetchError::Transport {
                service: service.clone(),
                message: e.to_string(),
            })?;
            let status = response.status();
            let cache_control = response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(Box::from);
            let body = response.bytes().await.map_err(|e| FetchError::Transport {
                service: service.clone(),
                message: e.to_string(),
            })?;
            let mut parsed = parse_response(&service, status.as_u16(), body)?;
            parsed.cache_control = cache_control;
            Ok(parsed)
        };
        let outcome = match tokio::time::timeout(timeout, call).await {
            Ok(outcome) => outcome.map(Arc::new),
            Err(_) => Err(FetchError::Timeout {
                service: service.clone(),
                millis: timeout.as_millis(),
            }),
        };
        let failure = match &outcome {
            Ok(response) if response.errors.is_empty() => None,
            Ok(_) => Some("graphql"),
            Err(FetchError::Timeout { .. }) => Some("timeout"),
            Err(_) => Some("http"),
        };
        metrics.record_fetch(&service, started.elapsed(), failure);
        outcome
    }
}

/// A non-2xx status is an error unless the body is a GraphQL response (per GraphQL over
/// HTTP, `application/graphql-response+json` may carry one with a 4xx/5xx status).
pub fn parse_response(
    service: &str,
    status: u16,
    body: Bytes,
) -> Result<SubgraphResponse, FetchError> {
    let error = |message: String| {
        if (200..300).contains(&status) {
            FetchError::Malformed {
                service: service.to_owned(),
                message,
            }
        } else {
            FetchError::Status {
                service: service.to_owned(),
                status,
            }
        }
    };
    let doc = Doc::parse(body.clone()).map_err(|e| error(e.to_string()))?;
    let data = doc.get(0, "data");
    let errors = doc.get(0, "errors");
    if !matches!(doc.node(0), Node::Object { .. }) || (data.is_none() && errors.is_none()) {
        return Err(error("expected an object with `data` or `errors`".into()));
    }
    let errors = errors.map_or_else(Vec::new, |e| {
        doc.items(e).map(|e| doc.to_value(e)).collect()
    });
    let data = data.filter(|&d| doc.node(d) != Node::Null);
    Ok(SubgraphResponse {
        doc,
        data,
        errors,
        raw: body,
        cache_control: None,
    })
}
