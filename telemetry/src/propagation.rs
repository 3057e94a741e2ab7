//! W3C trace context (`traceparent`, `tracestate`) in and out: HTTP headers between services,
//! a string map inside domain events. Without trace export every function here is a no-op,
//! so callers need not check.
//!
//! Work that enters at the head (the router's requests) is sampled there ([`head`]): a traced
//! request gets spans, an untraced one none, only a `traceparent` flagged unsampled that its
//! calls forward ([`trace_headers`]) so the services downstream do not trace it either.

use std::collections::BTreeMap;
use std::future::Future;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{policy, tracing_enabled};

tokio::task_local! {
    /// What an untraced request forwards as its unsampled `traceparent`.
    static UNSAMPLED: Option<Unsampled>;
}

/// An untraced request's trace: the caller's ids, when it sent some. The `traceparent` is
/// only written when a call is made (most deduplicated requests make none).
#[derive(Clone, Copy)]
pub struct Unsampled(Option<(TraceId, SpanId)>);

impl Unsampled {
    fn traceparent(self) -> String {
        let (trace, span) = self.0.unwrap_or_else(|| {
            (
                TraceId::from(rand::random::<u128>()),
                SpanId::from(rand::random::<u64>()),
            )
        });
        format!("00-{trace}-{span}-00")
    }
}

/// Whether work entering here is traced: its parent context, or what it forwards instead.
pub enum Head {
    Traced(opentelemetry::Context),
    Untraced(Unsampled),
}

/// The head sampling decision for a request with `headers` (a caller's trace context, if
/// any); `None` without trace export.
pub fn head(headers: &http::HeaderMap) -> Option<Head> {
    if !tracing_enabled() {
        return None;
    }
    static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
    let parent = if headers.contains_key(&TRACEPARENT) {
        TraceContextPropagator::new().extract(&HeaderExtractor(headers))
    } else {
        opentelemetry::Context::new()
    };
    if policy().sample(&parent) {
        return Some(Head::Traced(parent));
    }
    let ids = parent.span().span_context().clone();
    let caller = ids.is_valid().then(|| (ids.trace_id(), ids.span_id()));
    Some(Head::Untraced(Unsampled(caller)))
}

/// The span `make` builds, when `head` says the request is traced (a disabled span
/// otherwise), continuing the caller's trace. `make` declares `sampling.head = true`, so the
/// exporter keeps what the head decided.
pub fn head_span(head: &Option<Head>, make: impl FnOnce() -> Span) -> Span {
    let Some(Head::Traced(parent)) = head else {
        return Span::none();
    };
    let span = make();
    adopt(&span, parent.clone());
    span
}

/// Runs `work` in `span`, or, for an untraced request, with its unsampled `traceparent`
/// available to [`trace_headers`].
pub async fn within<F: Future>(head: Option<Head>, span: Span, work: F) -> F::Output {
    use tracing::Instrument;
    match head {
        None => work.await,
        Some(Head::Traced(_)) => UNSAMPLED.scope(None, work.instrument(span)).await,
        Some(Head::Untraced(marker)) => UNSAMPLED.scope(Some(marker), work).await,
    }
}

/// `work` carrying the current request's trace (span or unsampled marker) onto another task.
pub fn in_current_trace<F: Future>(work: F) -> impl Future<Output = F::Output> {
    if !tracing_enabled() {
        return within(None, Span::none(), work);
    }
    let carried = match UNSAMPLED.try_with(|m| *m).ok().flatten() {
        Some(marker) => Head::Untraced(marker),
        None => Head::Traced(opentelemetry::Context::new()),
    };
    within(Some(carried), Span::current(), work)
}

/// True inside a traced request (the current span exports): where child spans are made.
pub fn in_traced_span() -> bool {
    tracing_enabled() && !Span::current().is_none()
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MapExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct PairInjector(Vec<(&'static str, String)>);

impl Injector for PairInjector {
    fn set(&mut self, key: &str, value: String) {
        // TraceContextPropagator only ever writes these two.
        let key = match key {
            "traceparent" => "traceparent",
            "tracestate" => "tracestate",
            _ => return,
        };
        self.0.push((key, value));
    }
}

/// Makes `span` a child of the caller's span named by `headers`, when there is one, and
/// records the ids in the span's `trace_id` and `span_id` fields (so logs carry them).
pub fn continue_from_headers(span: &Span, headers: &http::HeaderMap) {
    if !tracing_enabled() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    adopt(span, parent);
}

/// [`continue_from_headers`] for a trace context carried in a string map (a domain event).
pub fn continue_from_map(span: &Span, carrier: &BTreeMap<String, String>) {
    if !tracing_enabled() || carrier.is_empty() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&MapExtractor(carrier));
    adopt(span, parent);
}

fn adopt(span: &Span, parent: opentelemetry::Context) {
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    record_ids(span);
}

/// Records `span`'s OpenTelemetry ids in its `trace_id` and `span_id` fields, when declared.
pub fn record_ids(span: &Span) {
    if !tracing_enabled() || span.is_disabled() {
        return;
    }
    let context = span.context();
    let ids = context.span().span_context().clone();
    // An unsampled trace is exported nowhere: its ids would lead a log reader nowhere.
    if ids.is_valid() && ids.is_sampled() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// The headers that make a request's handler continue `span`'s trace, or, in an untraced
/// request, its unsampled `traceparent`; empty without export.
pub fn trace_headers(span: &Span) -> Vec<(&'static str, String)> {
    if !tracing_enabled() {
        return Vec::new();
    }
    if span.is_disabled() {
        let marker = UNSAMPLED.try_with(|m| *m).ok().flatten();
        return marker.map_or_else(Vec::new, |m| vec![("traceparent", m.traceparent())]);
    }
    let mut out = PairInjector(Vec::with_capacity(2));
    TraceContextPropagator::new().inject_context(&span.context(), &mut out);
    out.0
}

/// `span`'s trace context as a string map, to store inside a domain event.
pub fn carrier(span: &Span) -> BTreeMap<String, String> {
    trace_headers(span)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}
