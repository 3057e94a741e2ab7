//! What one request leaves behind: its span (OpenTelemetry's GraphQL and HTTP conventions,
//! continuing the client's W3C trace) and its metrics. Both are decided here, once, for
//! every transport.

use crate::metrics::{ClientInfo, Metrics, RequestOutcome};
use crate::pipeline::PreparedOperation;
use crate::service::{Outcome, Refusal};
use apollo_compiler::ast::OperationType;
use http::HeaderMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use telemetry::propagation::Head;
use tracing::Span;

/// `[telemetry.tracing]`: what the router's request spans carry beyond the conventions'
/// required attributes. The exporter itself is configured by the `OTEL_*` variables.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// `graphql.document`: the operation's text (off by default: it may hold literals).
    pub include_document: bool,
    /// `router.query_plan`: the plan, as `router plan` prints it.
    pub include_plan: bool,
}

/// How one operation is traced: the head sampling decision and, when traced, its span.
pub struct RequestTrace {
    pub head: Option<Head>,
    pub span: Span,
}

impl Default for RequestTrace {
    fn default() -> Self {
        RequestTrace {
            head: None,
            span: Span::none(),
        }
    }
}

/// The server span of one GraphQL operation, a child of the caller's span when `headers`
/// carry a `traceparent`, when the operation is sampled (see [`telemetry::propagation`]).
pub fn request_span(headers: &HeaderMap, request_id: &str) -> RequestTrace {
    let head = telemetry::propagation::head(headers);
    let span = telemetry::propagation::head_span(&head, || {
        tracing::info_span!(
        "graphql.request",
        sampling.head = true,
        otel.name = "GraphQL Operation",
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
        graphql.document = tracing::field::Empty,
        router.query_plan = tracing::field::Empty,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        )
    });
    RequestTrace { head, span }
}

/// The trace context headers of `headers` alone (a WebSocket keeps them for its operations).
pub fn trace_context(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = headers.get(name) {
            out.insert(name, value.clone());
        }
    }
    out
}

/// Names the span after the operation (`query Name`), as the GraphQL conventions ask.
pub fn record_operation(span: &Span, prepared: &PreparedOperation, config: &TracingConfig) {
    if span.is_disabled() {
        return;
    }
    let kind = match prepared.operation.kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let name = prepared.operation.name.as_deref();
    span.record("graphql.operation.type", kind);
    match name {
        Some(name) => {
            span.record("graphql.operation.name", name);
            telemetry::rename_span(span, format!("{kind} {name}"));
        }
        None => telemetry::rename_span(span, kind.to_owned()),
    }
    if config.include_document {
        span.record("graphql.document", prepared.document.normalized.as_str());
    }
    if config.include_plan {
        span.record("router.query_plan", prepared.plan.to_string());
    }
}

/// What [`observe`] needs to know of a request besides its outcome.
pub struct Observed {
    started: Instant,
    pub client: ClientInfo,
    /// Set once the operation is known.
    pub operation: Option<Arc<PreparedOperation>>,
    /// Whether the executed response carries errors.
    pub errors: bool,
}

impl Observed {
    pub fn start(client: ClientInfo) -> Observed {
        Observed {
            started: Instant::now(),
            client,
            operation: None,
            errors: false,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Counts the request and its refusal's error codes, and marks the span failed when the
/// request was refused.
pub fn observe(metrics: &Metrics, span: &Span, outcome: &Outcome, seen: &Observed) {
    let outcome = match outcome {
        Outcome::Executed(_) if seen.errors => RequestOutcome::Errors,
        Outcome::Executed(_) | Outcome::Subscribed(_) => RequestOutcome::Ok,
        Outcome::Refused(refusal) => {
            count_refusal(metrics, refusal);
            if !span.is_disabled() {
                span.record("otel.status_code", "ERROR");
            }
            match refusal {
                Refusal::Invalid(_) => RequestOutcome::Invalid,
                _ => RequestOutcome::Refused,
            }
        }
    };
    let operation = seen
        .operation
        .as_ref()
        .map(|prepared| prepared.operation.name.as_deref());
    metrics.record_request(operation, outcome, &seen.client, seen.elapsed());
}

fn count_refusal(metrics: &Metrics, refusal: &Refusal) {
    match refusal {
        Refusal::Invalid(errors) | Refusal::Edge { errors, .. } => metrics.count_errors(errors),
        Refusal::MutationOverGet => metrics.count_code("METHOD_NOT_ALLOWED"),
        Refusal::StreamingRequired => metrics.count_code("STREAMING_TRANSPORT_REQUIRED"),
    }
}
