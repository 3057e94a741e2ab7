//! W3C trace context (`traceparent`, `tracestate`) in and out: HTTP headers between services,
//! a string map inside domain events. Without trace export every function here is a no-op,
//! so callers need not check.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::tracing_enabled;

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
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// The headers that make a request's handler continue `span`'s trace; empty without export.
pub fn trace_headers(span: &Span) -> Vec<(&'static str, String)> {
    if !tracing_enabled() || span.is_disabled() {
        return Vec::new();
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

/// Adds [`trace_headers`] to `headers`.
pub fn inject_headers(span: &Span, headers: &mut http::HeaderMap) {
    for (name, value) in trace_headers(span) {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}
