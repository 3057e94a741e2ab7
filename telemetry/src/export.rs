//! The OTLP span exporter, configured by the standard OpenTelemetry variables.

use std::collections::BTreeMap;

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use crate::sampling::Policy;

/// Where and how spans go; read by [`ExportSettings::from_env`] from
/// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` and `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`. Headers,
/// timeouts, compression, batching (`OTEL_BSP_*`) and resource attributes are read by the
/// OpenTelemetry SDK itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExportSettings {
    /// The full URL spans are sent to (`/v1/traces` included for HTTP); `None`: no export.
    pub endpoint: Option<String>,
    pub protocol: ExportProtocol,
    /// `OTEL_SERVICE_NAME`, which wins over the name the service gives itself.
    pub service_name: Option<String>,
    /// `OTEL_TRACES_SAMPLER[_ARG]`.
    pub policy: Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportProtocol {
    Grpc,
    /// `http/protobuf`, the specification's default.
    #[default]
    HttpProtobuf,
    HttpJson,
}

impl ExportSettings {
    /// Export is on when an endpoint is set, unless `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`.
    pub fn from_env(env: &BTreeMap<String, String>) -> ExportSettings {
        let var = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            Some("grpc") => ExportProtocol::Grpc,
            Some("http/json") => ExportProtocol::HttpJson,
            _ => ExportProtocol::HttpProtobuf,
        };
        // A signal's own endpoint is used as given; the shared one gets the signal's path
        // over HTTP (OTLP exporter specification).
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => Some(traces.to_owned()),
            (None, Some(base)) if protocol == ExportProtocol::Grpc => Some(base.to_owned()),
            (None, Some(base)) => Some(format!("{}/v1/traces", base.trim_end_matches('/'))),
            (None, None) => None,
        };
        ExportSettings {
            endpoint: endpoint.filter(|_| !disabled),
            protocol,
            service_name: var("OTEL_SERVICE_NAME").map(str::to_owned),
            policy: Policy::from_env(env),
        }
    }
}

/// The tracer provider exporting to `settings.endpoint`, or `None` when export is off.
pub(crate) fn provider(
    service: &str,
    settings: &ExportSettings,
) -> Result<Option<SdkTracerProvider>, opentelemetry_otlp::ExporterBuildError> {
    let Some(endpoint) = &settings.endpoint else {
        return Ok(None);
    };
    let exporter = match settings.protocol {
        ExportProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?,
        ExportProtocol::HttpProtobuf | ExportProtocol::HttpJson => {
            let protocol = match settings.protocol {
                ExportProtocol::HttpJson => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(endpoint)
                .build()?
        }
    };
    let name = settings.service_name.as_deref().unwrap_or(service);
    let resource = Resource::builder()
        .with_service_name(name.to_owned())
        .build();
    // Exports on the Tokio runtime: both the HTTP (async reqwest) and the gRPC (tonic)
    // clients need one, which the SDK's default thread-based processor does not provide.
    let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_sampler(settings.policy.sdk_sampler())
            .with_span_processor(processor)
            .with_resource(resource)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> ExportSettings {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExportSettings::from_env(&env)
    }

    #[test]
    fn export_is_off_without_an_endpoint_or_when_disabled() {
        assert_eq!(settings(&[]).endpoint, None);
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert_eq!(
            settings(&[base, ("OTEL_SDK_DISABLED", "true")]).endpoint,
            None
        );
        assert_eq!(
            settings(&[base, ("OTEL_TRACES_EXPORTER", "none")]).endpoint,
            None
        );
    }

    #[tokio::test]
    async fn every_protocol_builds_an_exporter_and_shuts_down() {
        for protocol in [
            ExportProtocol::Grpc,
            ExportProtocol::HttpProtobuf,
            ExportProtocol::HttpJson,
        ] {
            let settings = ExportSettings {
                endpoint: Some("http://127.0.0.1:9".into()),
                protocol,
                ..ExportSettings::default()
            };
            let provider = provider("test", &settings)
                .unwrap_or_else(|e| panic!("{protocol:?}: {e}"))
                .expect("an endpoint turns export on");
            let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            assert!(stopped.is_ok(), "{protocol:?}");
        }
        assert!(provider("test", &ExportSettings::default())
            .expect("no endpoint")
            .is_none());
    }

    #[test]
    fn endpoints_follow_the_otlp_exporter_specification() {
        let http = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]);
        assert_eq!(
            http.endpoint.as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(http.protocol, ExportProtocol::HttpProtobuf);
        let own = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ]);
        assert_eq!(own.endpoint.as_deref(), Some("http://c:4318/custom"));
        assert_eq!(own.protocol, ExportProtocol::HttpJson);
        let grpc = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        assert_eq!(grpc.endpoint.as_deref(), Some("http://c:4317"));
        assert_eq!(grpc.protocol, ExportProtocol::Grpc);
    }
}
