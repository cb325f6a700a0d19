//! What operators scrape and probe: each stage's HTTP port with `/metrics` (Prometheus text),
//! `/healthz` (the process answers) and `/readyz` (it can do its work: connected to NATS,
//! its streams present, its store writable — the stage says what ready means).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::{info, warn};

use crate::shutdown::Shutdown;

/// A stage's readiness check: `Ok` when ready, else why not.
pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Latency buckets in seconds: from 100 µs (a classification) to 60 s (a stuck retry).
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Adds `n` to the counter `name` labelled `label` = each value, once per distinct value of
/// `values`: batch-level counting for labels that repeat within a batch (categories), where a
/// labelled counter update per event would cost a registry lookup each.
pub fn count_by<'a>(
    name: &'static str,
    fixed: &[(&'static str, &'static str)],
    label: &'static str,
    values: impl IntoIterator<Item = &'a str>,
) {
    let mut tally: Vec<(&str, u64)> = Vec::new();
    for value in values {
        match tally.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => tally.push((value, 1)),
        }
    }
    for (value, n) in tally {
        let mut labels: Vec<metrics::Label> = fixed
            .iter()
            .map(|&(k, v)| metrics::Label::new(k, v))
            .collect();
        labels.push(metrics::Label::new(label, value.to_owned()));
        metrics::counter!(name, labels).increment(n);
    }
}

/// Installs the process's Prometheus recorder once (several stages in one process share it).
/// `None` if another recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_size".into()), SIZE_BUCKETS)
                });
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

#[derive(Clone)]
struct OpsState {
    metrics: Option<PrometheusHandle>,
    ready: ReadyCheck,
}

/// The routes, for stages that serve them on a port of their own or merge them into theirs.
pub fn router(ready: ReadyCheck) -> Router {
    let state = OpsState {
        metrics: prometheus(),
        ready,
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    match &state.metrics {
        Some(handle) => {
            handle.run_upkeep();
            (
                StatusCode::OK,
                [("content-type", "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n",
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<OpsState>) -> impl IntoResponse {
    match (state.ready)().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// Serves the routes on `addr` until `shutdown`. Binding happens before this returns, so a
/// port already taken is a start-up error.
pub async fn serve(
    addr: SocketAddr,
    ready: ReadyCheck,
    shutdown: Shutdown,
) -> std::io::Result<impl Future<Output = std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!(%local, "serving /metrics, /healthz and /readyz");
    let app = router(ready);
    Ok(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.wait())
            .await
    })
}

/// Serves the routes on `addr` for a stage until `stop`, in a task of `tasks`. Ready means
/// connected to NATS, each of `streams` present, and `extra` (the store, say) fine.
pub async fn start_endpoints(
    addr: SocketAddr,
    stage: &'static str,
    js: async_nats::jetstream::Context,
    streams: Vec<String>,
    extra: Option<ReadyCheck>,
    stop: Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) -> std::io::Result<()> {
    let ready: ReadyCheck = Arc::new(move || {
        let (js, streams, extra) = (js.clone(), streams.clone(), extra.clone());
        Box::pin(async move {
            nats_ready(&js.client(), &js, &streams).await?;
            match extra {
                Some(check) => check().await,
                None => Ok(()),
            }
        })
    });
    let server = serve(addr, ready, stop).await?;
    tasks.spawn(async move {
        if let Err(e) = server.await {
            warn!(stage, error = %e, "operator endpoints stopped");
        }
    });
    Ok(())
}

/// Readiness of a NATS client: connected, and each of `streams` exists.
pub async fn nats_ready(
    client: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    streams: &[String],
) -> Result<(), String> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Err("not connected to NATS".into());
    }
    for stream in streams {
        js.get_stream(stream)
            .await
            .map_err(|e| format!("stream {stream}: {e}"))?;
    }
    Ok(())
}

/// What a stage's NATS service answers on its `status` endpoint.
pub type StatusFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = serde_json::Value> + Send>> + Send + Sync>;

/// Registers the stage as a NATS service `newswire-<stage>` (found by `nats micro list`, with
/// request statistics by `nats micro stats`) with one endpoint, `<prefix>.status.<stage>`
/// (`news.status.classifier`): under the deployment's prefix, so deployments sharing a server
/// do not answer for each other, while replicas of a stage share it. A deployment whose
/// permissions do not allow it runs without, with a warning.
pub async fn start_service(
    client: &async_nats::Client,
    subjects: &crate::Subjects,
    stage: &'static str,
    description: String,
    status: StatusFn,
    stop: Shutdown,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    use async_nats::service::ServiceExt;
    use futures::StreamExt;
    let started = client
        .service_builder()
        .description(description)
        .start(format!("newswire-{stage}"), env!("CARGO_PKG_VERSION"))
        .await;
    let service = match started {
        Ok(service) => service,
        Err(e) => {
            warn!(stage, error = %e, "not registered as a NATS service");
            return;
        }
    };
    let mut endpoint = match service
        .group(format!("{}.status", subjects.prefix()))
        .endpoint(stage)
        .await
    {
        Ok(endpoint) => endpoint,
        Err(e) => {
            warn!(stage, error = %e, "NATS service endpoint not started");
            return;
        }
    };
    tasks.spawn(async move {
        let stopped = stop.wait();
        tokio::pin!(stopped);
        loop {
            let request = tokio::select! {
                () = &mut stopped => break,
                request = endpoint.next() => match request {
                    Some(request) => request,
                    None => break,
                },
            };
            let body = status().await.to_string();
            if let Err(e) = request.respond(Ok(body.into())).await {
                tracing::debug!(stage, error = %e, "status reply not sent");
            }
        }
        if let Err(e) = service.stop().await {
            tracing::debug!(stage, error = %e, "NATS service not stopped cleanly");
        }
    });
}
