//! Logging set-up: human-readable by default, JSON on request, levels from `RUST_LOG`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Levels when `RUST_LOG` is not set: the client library's own connection chatter is left to
/// newswire's single disconnect/reconnect lines.
pub const DEFAULT_FILTER: &str = "info,async_nats=warn";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Keeps trace export alive; dropping it flushes the spans not yet exported. Hold it in `main`
/// for as long as the program runs.
#[must_use = "dropping the guard stops trace export"]
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {e}");
        }
    }
}

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
/// Logs go to stderr so that commands can print results on stdout. Built with the `otel`
/// feature and with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
/// set, spans are also exported over OTLP/HTTP.
pub fn init(format: LogFormat) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    #[cfg(feature = "otel")]
    let (otel, telemetry) = match otel::tracer() {
        Some((tracer, provider)) => (
            Some(tracing_opentelemetry::layer().with_tracer(tracer)),
            Telemetry {
                provider: Some(provider),
            },
        ),
        None => (None, Telemetry::default()),
    };
    #[cfg(not(feature = "otel"))]
    let (otel, telemetry) = (
        None::<tracing_subscriber::layer::Identity>,
        Telemetry::default(),
    );
    // RUST_LOG filters the log lines only: the per-event spans reach the exporter at `info`
    // whatever level the logs are kept at.
    let otel = otel.map(|layer| layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let registry = tracing_subscriber::registry().with(otel);
    let result = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_target(false)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
    // Already installed: keep the first one.
    drop(result);
    telemetry
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

    /// The OTLP/HTTP exporter configured by the standard `OTEL_EXPORTER_OTLP_*` variables, or
    /// `None` when no endpoint is set (nothing to export to).
    pub(super) fn tracer() -> Option<(SdkTracer, SdkTracerProvider)> {
        let configured = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if !configured {
            return None;
        }
        // The exporter's HTTP client uses rustls; ring is the provider the NATS client uses.
        // Installing fails harmlessly when one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(exporter) => exporter,
            Err(e) => {
                eprintln!("warning: traces not exported: {e}");
                return None;
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("newswire")
                    .build(),
            )
            .build();
        Some((provider.tracer("newswire"), provider))
    }
}

/// Logging for tests: captured by the test harness (shown for failing tests only), `info`
/// unless `RUST_LOG` says otherwise. Later calls do nothing.
pub fn init_for_tests() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    drop(
        tracing_subscriber::registry()
            .with(filter)
            .with(
                fmt::layer()
                    .with_test_writer()
                    .with_ansi(false)
                    .with_target(false),
            )
            .try_init(),
    );
}
