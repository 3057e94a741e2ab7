//! Federated subscriptions: the root field is subscribed at its owning subgraph over a
//! WebSocket, and every event is completed by the rest of the plan (`_entities` fetches to
//! other subgraphs) before it reaches clients.
//!
//! Identical subscriptions (same normalized operation, variables and forwarded headers, so
//! the same caller) share one upstream subscription and one completion per event; each
//! event is serialized once and fanned out. The upstream closes when its last subscriber
//! leaves.

pub mod upstream;

use crate::edge::headers::Forwarded;
use crate::execute::{
    execute_from, fetch_variables, with_service, ExecutionContext, ExecutionOutput,
};
use crate::metrics::{GaugeGuard, Metrics};
use crate::pipeline::PreparedOperation;
use crate::plan::FetchNode;
use crate::response::write_data;
use crate::response::{executed_text, result_body};
use crate::state::RouterState;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use upstream::{open, websocket_url, Upstream, UpstreamError, UpstreamEvent, UpstreamRequest};

/// Limits and timings of subscriptions.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// Open subscriptions one WebSocket connection may hold.
    pub max_per_connection: usize,
    /// Largest client WebSocket message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Time a WebSocket client has to send `connection_init`.
    pub init_timeout: Duration,
    /// Interval of keep-alive messages, to clients and to subgraphs.
    pub keepalive: Duration,
    /// Events buffered per subscriber; a subscriber further behind gets an error.
    pub buffer: usize,
    /// Reconnection attempts after an upstream drops, with exponential backoff.
    pub reconnect_attempts: u32,
    pub reconnect_base: Duration,
    pub reconnect_max: Duration,
    /// Time to connect to a subgraph and get `connection_ack`.
    pub connect_timeout: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        SubscriptionSettings {
            max_per_connection: 100,
            max_message_bytes: 256 * 1024,
            init_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            buffer: 1024,
            reconnect_attempts: 10,
            reconnect_base: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// What an upstream broadcasts to its subscribers.
#[derive(Debug, Clone)]
enum Delivery {
    /// One execution result, serialized once for every subscriber.
    Next(Arc<str>),
    Complete,
}

/// Identity of an upstream subscription: what the client asked and who asked it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DedupKey {
    operation: String,
    operation_name: Option<String>,
    variables: String,
    headers: Forwarded,
}

type Registry = Mutex<HashMap<DedupKey, (u64, Weak<Shared>)>>;

/// The subscriptions of one router state.
#[derive(Default)]
pub struct SubscriptionHub {
    upstreams: Arc<Registry>,
    next_id: AtomicU64,
    /// Upstream tasks running (connected or reconnecting).
    running: Arc<AtomicUsize>,
    /// Upstream connections opened, reconnections included.
    connections: Arc<AtomicU64>,
}

/// Held by every subscriber of one upstream; the last one dropped stops it.
struct Shared {
    id: u64,
    key: DedupKey,
    sender: broadcast::Sender<Delivery>,
    stop: CancellationToken,
    registry: Weak<Registry>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.cancel();
        unregister(&self.registry, &self.key, self.id);
    }
}

/// Removes upstream `id` from the registry, unless `key` already names a newer upstream.
fn unregister(registry: &Weak<Registry>, key: &DedupKey, id: u64) {
    if let Some(registry) = registry.upgrade() {
        let mut map = registry.lock();
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
        }
    }
}

/// One client's view of a subscription: execution results as JSON text, ending with the
/// subscription.
pub struct EventStream {
    _shared: Arc<Shared>,
    receiver: broadcast::Receiver<Delivery>,
    done: bool,
    metrics: Arc<Metrics>,
    /// Counts this client subscription as open while it lives.
    _open: Option<GaugeGuard>,
}

impl EventStream {
    /// The next result, or `None` once the subscription completed.
    pub async fn next(&mut self) -> Option<Arc<str>> {
        if self.done {
            return None;
        }
        match self.receiver.recv().await {
            Ok(Delivery::Next(payload)) => {
                self.metrics.record_subscription_event();
                Some(payload)
            }
            Ok(Delivery::Complete) | Err(broadcast::error::RecvError::Closed) => {
                self.done = true;
                None
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                self.done = true;
                self.metrics.record_subscription_dropped();
                let error = json!({ "data": null, "errors": [{
                    "message": format!("the client fell {missed} events behind this subscription and was dropped from it"),
                    "extensions": { "code": "SUBSCRIPTION_CLIENT_TOO_SLOW" },
                }]});
                Some(error.to_string().into())
            }
        }
    }

    /// As a `Stream`, for streaming HTTP bodies.
    pub fn into_stream(self) -> impl futures::Stream<Item = Arc<str>> + Send {
        futures::stream::unfold(self, |mut events| async move {
            events.next().await.map(|payload| (payload, events))
        })
    }
}

impl SubscriptionHub {
    /// Upstream subscriptions currently running.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Upstream WebSocket connections opened so far (reconnections included).
    pub fn connections_opened(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Joins the identical running subscription or starts one; `None` when `prepared` is
    /// not a subscription (its plan has no primary fetch). `transport` names the client's
    /// transport in metrics.
    pub fn subscribe(
        &self,
        state: Arc<RouterState>,
        prepared: Arc<PreparedOperation>,
        variables: Map<String, Value>,
        headers: Forwarded,
        request_id: String,
        transport: &'static str,
    ) -> Option<EventStream> {
        let primary = prepared.plan.primary.clone()?;
        let metrics = state.client.metrics.clone();
        let stream = |shared: Arc<Shared>, receiver| EventStream {
            _shared: shared,
            receiver,
            done: false,
            _open: metrics.subscription_opened(transport),
            metrics: metrics.clone(),
        };
        let key = DedupKey {
            operation: prepared.document.normalized.clone(),
            operation_name: prepared.operation.name.as_ref().map(|n| n.to_string()),
            variables: Value::Object(variables.clone()).to_string(),
            headers: headers.clone(),
        };
        let mut map = self.upstreams.lock();
        if let Some(shared) = map.get(&key).and_then(|(_, weak)| weak.upgrade()) {
            let receiver = shared.sender.subscribe();
            return Some(stream(shared, receiver));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = broadcast::channel(state.settings.subscriptions.buffer.max(1));
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            id,
            key: key.clone(),
            sender: sender.clone(),
            stop: stop.clone(),
            registry: Arc::downgrade(&self.upstreams),
        });
        map.insert(key.clone(), (id, Arc::downgrade(&shared)));
        drop(map);
        let task = UpstreamTask {
            state,
            primary,
            prepared,
            variables,
            headers,
            request_id,
            sender,
            stop,
            key,
            id,
            registry: Arc::downgrade(&self.upstreams),
            connections: self.connections.clone(),
            running: self.running.clone(),
            _upstream: metrics.upstream_opened(),
        };
        task.running.fetch_add(1, Ordering::SeqCst);
        // The upstream lives in its own span, a child of the request that opened it: the
        // subgraph's side and every event's completion join that trace.
        let span = if telemetry::propagation::in_traced_span() {
            tracing::info_span!(
                "subscription",
                otel.name = %format_args!("subscription {}", subgraph_name(&task)),
                otel.kind = "client",
            )
        } else {
            tracing::Span::none()
        };
        let run = tracing::Instrument::instrument(task.run(), span);
        tokio::spawn(telemetry::propagation::in_current_trace(run));
        Some(stream(shared, receiver))
    }
}

struct UpstreamTask {
    state: Arc<RouterState>,
    primary: FetchNode,
    prepared: Arc<PreparedOperation>,
    variables: Map<String, Value>,
    headers: Forwarded,
    /// The `x-request-id` of the request that opened the upstream.
    request_id: String,
    sender: broadcast::Sender<Delivery>,
    stop: CancellationToken,
    key: DedupKey,
    id: u64,
    registry: Weak<Registry>,
    connections: Arc<AtomicU64>,
    /// Counts this task while it exists.
    running: Arc<AtomicUsize>,
    _upstream: Option<GaugeGuard>,
}

fn subgraph_name(task: &UpstreamTask) -> &str {
    &task.state.supergraph.subgraphs[task.primary.graph].name
}

impl UpstreamTask {
    async fn run(self) {
        let primary = &self.primary;
        let subgraph = &self.state.supergraph.subgraphs[primary.graph];
        let variables = fetch_variables(primary, &self.variables);
        let settings = &self.state.settings.subscriptions;
        let request = UpstreamRequest {
            service: subgraph.name.clone(),
            url: websocket_url(&subgraph.url),
            payload: json!({ "query": primary.operation, "variables": variables }),
            headers: upgrade_headers(self.headers.for_subgraph(&subgraph.name), &self.request_id),
            connect_timeout: settings.connect_timeout,
            keepalive: settings.keepalive,
        };
        let first = tokio::select! {
            _ = self.stop.cancelled() => return,
            first = open(&request) => first,
        };
        let mut connection = match first {
            Ok(connection) => connection,
            Err(error) => {
                self.finish(vec![upstream_error(&error)]);
                return;
            }
        };
        self.connections.fetch_add(1, Ordering::SeqCst);
        let mut first = true;
        loop {
            let event = tokio::select! {
                _ = self.stop.cancelled() => {
                    connection.close().await;
                    return;
                }
                event = connection.next() => event,
            };
            match event {
                // An error result with no data as the first message is how graphql-js based
                // servers and async-graphql report a refused subscription (an error from the
                // subscribe resolver): end it for everyone, including clients joining now.
                UpstreamEvent::Next(mut payload) if first && is_refusal(&payload) => {
                    self.finish(service_errors(payload.remove("errors"), &subgraph.name));
                    connection.close().await;
                    return;
                }
                UpstreamEvent::Next(payload) => {
                    first = false;
                    let completion = self.complete(payload, &subgraph.name);
                    let result = tracing::Instrument::instrument(completion, event_span()).await;
                    // No receiver means every subscriber just left; `stop` follows.
                    let _ = self.sender.send(Delivery::Next(result.into()));
                }
                UpstreamEvent::Errors(errors) => {
                    self.finish(service_errors(Some(Value::Array(errors)), &subgraph.name));
                    return;
                }
                UpstreamEvent::Complete => {
                    self.unregister();
                    let _ = self.sender.send(Delivery::Complete);
                    return;
                }
                UpstreamEvent::Dropped(error) if !error.retryable() => {
                    self.finish(vec![upstream_error(&error)]);
                    return;
                }
                UpstreamEvent::Dropped(error) => {
                    tracing::warn!(%error, "upstream subscription dropped; reconnecting");
                    match self.reconnect(&request).await {
                        Reconnect::Connected(next) => {
                            connection = *next;
                            self.connections.fetch_add(1, Ordering::SeqCst);
                            // Events published while disconnected are lost: say so.
                            let notice = json!({ "data": null, "errors": [{
                                "message": format!("the subscription to '{}' was interrupted and resumed; events may have been missed", subgraph.name),
                                "extensions": { "code": "SUBSCRIPTION_RESUMED", "serviceName": subgraph.name },
                            }]});
                            let _ = self.sender.send(Delivery::Next(notice.to_string().into()));
                        }
                        Reconnect::Failed(error) => {
                            self.finish(vec![upstream_error(&error)]);
                            return;
                        }
                        Reconnect::Stopped => return,
                    }
                }
            }
        }
    }

    async fn reconnect(&self, request: &UpstreamRequest) -> Reconnect {
        let settings = &self.state.settings.subscriptions;
        let mut delay = settings.reconnect_base;
        let mut last = None;
        for _ in 0..settings.reconnect_attempts {
            tokio::select! {
                _ = self.stop.cancelled() => return Reconnect::Stopped,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(settings.reconnect_max);
            let attempt = tokio::select! {
                _ = self.stop.cancelled() => return Reconnect::Stopped,
                attempt = open(request) => attempt,
            };
            match attempt {
                Ok(connection) => return Reconnect::Connected(Box::new(connection)),
                Err(error) if !error.retryable() => return Reconnect::Failed(error),
                Err(error) => last = Some(error),
            }
        }
        Reconnect::Failed(last.unwrap_or_else(|| UpstreamError::Unreachable {
            service: request.service.clone(),
            message: "no reconnection attempts configured".into(),
        }))
    }

    /// Runs the rest of the plan on one event and shapes it for clients.
    async fn complete(&self, mut payload: Map<String, Value>, service: &str) -> String {
        let errors = service_errors(payload.remove("errors"), service);
        let data = match payload.remove("data") {
            Some(data @ Value::Object(_)) => data,
            // No data (an error result): nothing to complete.
            _ => return result_body(Value::Null, errors).to_string(),
        };
        let ctx = ExecutionContext {
            supergraph: &self.state.supergraph,
            client: &self.state.client,
            variables: &self.variables,
            headers: &self.headers,
            request_id: &self.request_id,
            default_timeout: self.state.settings.subgraph_timeout,
            timeouts: &self.state.settings.subgraph_timeouts,
            cached_reads: false,
        };
        let start = ExecutionOutput::from_value(&data, errors, &self.primary.renames);
        let output = execute_from(&ctx, self.prepared.plan.root.as_ref(), start).await;
        let mut errors = self.prepared.unauthorized.clone();
        errors.extend(output.errors);
        let data = write_data(
            &self.state.supergraph,
            &self.prepared.operation,
            &output.data,
            None,
            &mut errors,
            0,
            None,
        );
        executed_text(data, &errors)
    }

    /// Ends the subscription for every subscriber with `errors`.
    fn finish(&self, errors: Vec<Value>) {
        self.unregister();
        let payload = json!({ "data": null, "errors": errors });
        let _ = self.sender.send(Delivery::Next(payload.to_string().into()));
        let _ = self.sender.send(Delivery::Complete);
    }

    /// Leaves the registry before the terminal message is sent, so that a client joining
    /// later starts a fresh upstream instead of waiting on a finished one.
    fn unregister(&self) {
        unregister(&self.registry, &self.key, self.id);
    }
}

/// However the task ends (returned, panicked, aborted), it leaves the registry and its
/// subscribers see the end instead of waiting on a channel nobody feeds.
impl Drop for UpstreamTask {
    fn drop(&mut self) {
        self.unregister();
        let _ = self.sender.send(Delivery::Complete);
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

enum Reconnect {
    Connected(Box<Upstream>),
    Failed(UpstreamError),
    Stopped,
}

/// A subgraph's `errors` (if any), each tagged with `serviceName`.
fn service_errors(errors: Option<Value>, service: &str) -> Vec<Value> {
    match errors {
        Some(Value::Array(errors)) => errors
            .into_iter()
            .map(|e| with_service(e, service, None))
            .collect(),
        _ => Vec::new(),
    }
}

fn is_refusal(payload: &Map<String, Value>) -> bool {
    payload.get("data").is_none_or(Value::is_null)
        && payload
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty())
}

fn upstream_error(error: &UpstreamError) -> Value {
    let code = if error.retryable() {
        "SUBSCRIPTION_UPSTREAM_UNAVAILABLE"
    } else {
        "SUBSCRIPTION_UPSTREAM_REFUSED"
    };
    let service = match error {
        UpstreamError::Unreachable { service, .. } | UpstreamError::Refused { service, .. } => {
            service
        }
    };
    json!({
        "message": error.to_string(),
        "extensions": { "code": code, "serviceName": service },
    })
}

/// The upgrade request's headers: the forwarded ones, the opener's `x-request-id` and the
/// trace context of the current (subscription) span.
fn upgrade_headers(headers: &[(String, String)], request_id: &str) -> Vec<(String, String)> {
    let mut out = headers.to_vec();
    out.push(("x-request-id".to_owned(), request_id.to_owned()));
    let trace = telemetry::propagation::trace_headers(&tracing::Span::current());
    out.extend(trace.into_iter().map(|(k, v)| (k.to_owned(), v)));
    out
}

/// One event's completion: a span of its own under the subscription's, so it is exported
/// when the event is done rather than when the subscription ends.
fn event_span() -> tracing::Span {
    if !telemetry::propagation::in_traced_span() {
        return tracing::Span::none();
    }
    tracing::info_span!("subscription event", otel.kind = "internal")
}
