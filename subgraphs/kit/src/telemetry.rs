//! Logs and traces: the workspace's `telemetry` crate, plus the spans the kit's own calls make.

use tracing::Span;

pub use telemetry::{init, tracing_enabled, LogFormat, Telemetry};

/// A client span around one call to a backing service (`system`: "mongodb", "sqlite",
/// "redis"), following OpenTelemetry's database conventions; a disabled span when traces are
/// not exported, so the call costs nothing extra. Background loops (consumers polling, sweeps)
/// outside any request or event span get none either: a root span per poll is noise.
pub fn backend_span(system: &str, op: &str) -> Span {
    if !tracing_enabled() || Span::current().is_none() {
        return Span::none();
    }
    tracing::info_span!(
        "backend",
        otel.name = %format_args!("{op} {system}"),
        otel.kind = "client",
        db.system.name = %system,
        db.operation.name = %op,
    )
}
