//! Head sampling: whether a request is traced is decided once, where it enters a service,
//! from the standard `OTEL_TRACES_SAMPLER[_ARG]` policy. A request that is not traced gets no
//! spans at all (spans cost every poll of the futures they instrument, exported or not), and
//! forwards a `traceparent` flagged unsampled, so the services it calls agree.

use std::collections::BTreeMap;

use opentelemetry::trace::{
    Link, SamplingDecision, SamplingResult, SpanKind, TraceContextExt, TraceId,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, ShouldSample};

/// The field a span sampled at the head declares (`sampling.head = true`), so the SDK
/// records it as decided.
pub(crate) const HEAD_SAMPLED: &str = "sampling.head";

/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, as the specification defines them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Probability that a trace starting here is sampled.
    pub root_ratio: f64,
    /// Whether a caller's decision (the `traceparent` sampled flag) is followed.
    pub parent_based: bool,
}

impl Default for Policy {
    /// The specification's default: `parentbased_always_on`.
    fn default() -> Self {
        Policy {
            root_ratio: 1.0,
            parent_based: true,
        }
    }
}

impl Policy {
    pub fn from_env(env: &BTreeMap<String, String>) -> Policy {
        let arg = env
            .get("OTEL_TRACES_SAMPLER_ARG")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0);
        let (root_ratio, parent_based) = match env.get("OTEL_TRACES_SAMPLER").map(|v| v.trim()) {
            Some("always_on") => (1.0, false),
            Some("always_off") => (0.0, false),
            Some("traceidratio") => (arg, false),
            Some("parentbased_always_off") => (0.0, true),
            Some("parentbased_traceidratio") => (arg, true),
            _ => (1.0, true),
        };
        Policy {
            root_ratio,
            parent_based,
        }
    }

    /// Whether a span continuing `parent` (which may be empty: a new trace) is sampled.
    pub fn sample(&self, parent: &Context) -> bool {
        let parent = parent.span();
        let parent = parent.span_context();
        if self.parent_based && parent.is_valid() {
            return parent.is_sampled();
        }
        self.root_ratio >= 1.0 || (self.root_ratio > 0.0 && rand::random::<f64>() < self.root_ratio)
    }

    /// The SDK sampler for spans not decided at the head (children and background work):
    /// the same policy, keeping every head decision.
    pub(crate) fn sdk_sampler(&self) -> HeadSampler {
        let root = match self.root_ratio {
            r if r >= 1.0 => Sampler::AlwaysOn,
            r if r <= 0.0 => Sampler::AlwaysOff,
            r => Sampler::TraceIdRatioBased(r),
        };
        let inner = if self.parent_based {
            Sampler::ParentBased(Box::new(root))
        } else {
            root
        };
        HeadSampler(inner)
    }
}

/// Samples what the head decided to sample, and everything else as the policy says.
#[derive(Debug, Clone)]
pub(crate) struct HeadSampler(Sampler);

impl ShouldSample for HeadSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if attributes.iter().any(|kv| kv.key.as_str() == HEAD_SAMPLED) {
            let trace_state = parent_context
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default();
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state,
            };
        }
        self.0
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};

    fn policy(vars: &[(&str, &str)]) -> Policy {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Policy::from_env(&env)
    }

    fn parent(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let ids = SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            flags,
            true,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(ids)
    }

    #[test]
    fn the_policy_follows_the_standard_variables() {
        assert_eq!(policy(&[]), Policy::default());
        let ratio = policy(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
        ]);
        assert_eq!((ratio.root_ratio, ratio.parent_based), (0.01, true));
        let off = policy(&[("OTEL_TRACES_SAMPLER", "always_off")]);
        assert!(
            !off.sample(&parent(true)),
            "not parent-based: the caller is ignored"
        );
        let bad = policy(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "7"),
        ]);
        assert_eq!(bad.root_ratio, 1.0, "an invalid ratio falls back to 1");
    }

    #[test]
    fn parent_based_policies_follow_the_callers_decision_and_roll_for_new_traces() {
        let never = policy(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]);
        assert!(never.sample(&parent(true)));
        assert!(!never.sample(&parent(false)));
        assert!(!never.sample(&Context::new()));
        let tenth = policy(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ]);
        let sampled = (0..10_000)
            .filter(|_| tenth.sample(&Context::new()))
            .count();
        assert!((700..1300).contains(&sampled), "{sampled} of 10000 at 10 %");
    }
}
