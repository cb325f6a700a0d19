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

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
/// Logs go to stderr so that commands can print results on stdout.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already installed: keep the first one.
    drop(result);
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
