//! Logs and traces for every service of the platform, set up one way.
//!
//! [`init`] installs the `tracing` subscriber: logs (human or JSON) filtered by `RUST_LOG` or
//! the configured level and, when an OTLP endpoint is configured by the standard
//! `OTEL_EXPORTER_OTLP_*` variables, an OpenTelemetry layer exporting spans over gRPC or HTTP.
//! [`propagation`] carries the W3C trace context across HTTP calls and domain events.

mod export;
pub mod propagation;
mod sampling;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

pub use export::ExportSettings;
pub use sampling::Policy;

/// The sampling policy of this process's exporter (the default until [`init`] sets it).
static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();

pub(crate) fn policy() -> Policy {
    POLICY.get().copied().unwrap_or_default()
}

/// Log output format.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    Default,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Whether spans are exported: set once by [`init`]. Hot paths ask it before building spans
/// or trace headers, so a service without tracing pays nothing for them.
static TRACING: AtomicBool = AtomicBool::new(false);

/// True when this process exports traces.
#[inline]
pub fn tracing_enabled() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// Owns the span exporter: [`Telemetry::shutdown`] exports what is still buffered.
#[must_use = "call shutdown() before exiting, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered, then stops the exporter. The SDK waits for its
    /// export task synchronously, so that wait runs off the async workers.
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = stopped {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber for `service` (the OpenTelemetry `service.name` unless
/// `OTEL_SERVICE_NAME` says otherwise), reading the exporter settings from the process
/// environment. `RUST_LOG` wins over `level` for logs. Calling it again (tests, several
/// services in one process) keeps the first subscriber and returns an inert guard.
pub fn init(service: &str, format: LogFormat, level: &str) -> Telemetry {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    init_with(service, format, level, &ExportSettings::from_env(&env))
}

/// [`init`] with explicit exporter settings.
pub fn init_with(
    service: &str,
    format: LogFormat,
    level: &str,
    export: &ExportSettings,
) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs = match format {
        LogFormat::Human => fmt::layer().with_target(true).boxed(),
        LogFormat::Json => fmt::layer().json().flatten_event(true).boxed(),
    };
    let provider = match export::provider(service, export) {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("trace export is off: {error}");
            None
        }
    };
    // Spans are exported at INFO whatever the log level: quiet logs keep whole traces.
    let traces = provider.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        // Only what the spans declare: no per-poll timing (busy/idle), code locations,
        // threads or targets, and no OpenTelemetry context activated on every poll (the
        // platform reads contexts from spans explicitly). Most requests are not sampled;
        // these would cost them all.
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("platform"))
            .with_tracked_inactivity(false)
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_context_activation(false)
            .with_filter(LevelFilter::INFO)
    });
    let installed = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(traces)
        .try_init()
        .is_ok();
    if !installed {
        if let Some(provider) = provider {
            let _ = provider.shutdown();
        }
        return Telemetry { provider: None };
    }
    if let Some(provider) = &provider {
        let _ = POLICY.set(export.policy);
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        opentelemetry::global::set_tracer_provider(provider.clone());
        TRACING.store(true, Ordering::Relaxed);
    }
    Telemetry { provider }
}

/// The process's resident set size in bytes (`VmRSS` of `/proc/self/status`; Linux), for the
/// `platform_process_resident_memory_bytes` gauge every service exports.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Renames `span`'s exported span (`otel.name` recorded late is ignored once the span's
/// context exists, which trace propagation creates at the start).
pub fn rename_span(span: &tracing::Span, name: String) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if tracing_enabled() && !span.is_disabled() {
        span.context().span().update_name(name);
    }
}
