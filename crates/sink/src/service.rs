//! The sink service: consume tagged events, store them in batches, and acknowledge each
//! message only after the transaction holding it has committed.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Message;
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind};
use newswire_shared::trace;
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Handler, Outcome, Progress, StageConnection,
};
use tracing::{debug, info, warn};

use crate::store::{self, Encoded, Store, StoreError};

pub const STAGE: &str = "sink";

/// Configuration of the sink service.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub nats: NatsArgs,
    /// Store URL: `sqlite://PATH` or `postgres://USER@HOST/DB` (see `store::open`).
    pub store: String,
    pub consumer: ConsumerOptions,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl SinkConfig {
    pub fn new(nats: NatsArgs, store: impl Into<String>) -> Self {
        Self {
            nats,
            store: store.into(),
            consumer: ConsumerOptions::new(STAGE),
            metrics_listen: None,
        }
    }
}

/// Errors that stop the sink from starting.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot serve the operator endpoints on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl SinkError {
    /// NATS or the store could not be reached: a deployment problem, not a defect.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Nats(NatsError::Connect { .. }) | Self::Store(StoreError::Transient(_))
        )
    }

    /// Invalid configuration: a bad URL, prefix or store URL.
    pub fn is_invalid_config(&self) -> bool {
        matches!(
            self,
            Self::Nats(NatsError::Url { .. } | NatsError::Prefix(_) | NatsError::Auth(_))
                | Self::Store(StoreError::Url { .. })
                | Self::Listen { .. }
        )
    }
}

/// Runs the sink until `shutdown` resolves, then finishes the batch in hand and returns.
pub async fn run(
    config: SinkConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SinkError> {
    // Opening may wait on a database (connect timeouts): off the async workers.
    let url = config.store.clone();
    let opened = tokio::task::spawn_blocking(move || store::open(&url))
        .await
        .map_err(|e| StoreError::Transient(format!("opening the store failed: {e}")))??;
    let store = Arc::new(Mutex::new(opened));
    let connection = StageConnection::open(
        STAGE,
        &config.nats,
        &ConsumeFrom {
            input: StreamKind::Tagged,
            streams: vec![StreamKind::Tagged, StreamKind::DeadLetter],
            options: config.consumer.clone(),
        },
    )
    .await?
    .monitor(config.metrics_listen, Some(store_ready(Arc::clone(&store))))
    .await
    .map_err(|(addr, source)| SinkError::Listen { addr, source })?;
    info!(stage = STAGE, store = %crate::store::redact(&config.store), "sink started");
    let handler = StoreBatch {
        store,
        progress: Progress::new(STAGE, "events stored"),
    };
    connection
        .serve(handler, config.consumer.worker, shutdown)
        .await;
    Ok(())
}

/// Ready when the store takes a write (checked on the blocking pool, after any batch in hand).
fn store_ready(store: Arc<Mutex<Box<dyn Store>>>) -> newswire_shared::ops::ReadyCheck {
    Arc::new(move || {
        let store = Arc::clone(&store);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                store
                    .lock()
                    .map_err(|_| "store poisoned by an earlier panic".to_owned())?
                    .ready()
                    .map_err(|e| format!("store: {e}"))
            })
            .await
            .map_err(|e| format!("store check failed: {e}"))?
        })
    })
}

struct StoreBatch {
    store: Arc<Mutex<Box<dyn Store>>>,
    progress: Progress,
}

impl StoreBatch {
    /// Runs a write on the blocking pool (SQLite calls block) and hands the events back for a
    /// retry one by one. Fails only when the task itself failed.
    async fn write(
        &self,
        events: Vec<Encoded>,
    ) -> Result<(Vec<Encoded>, Result<crate::StoreReport, StoreError>), StoreError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let result = match store.lock() {
                Ok(mut store) => store.store_encoded(&events),
                Err(_) => Err(StoreError::Permanent(
                    "store poisoned by an earlier panic".into(),
                )),
            };
            (events, result)
        })
        .await
        .map_err(|e| StoreError::Transient(format!("store task failed: {e}")))
    }
}

const RETRY_DELAY: Duration = Duration::from_secs(5);

impl Handler for StoreBatch {
    async fn handle(&mut self, batch: &[Message]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        // Each event is decoded once; its received bytes are what the store keeps.
        let mut indexes: Vec<usize> = Vec::with_capacity(batch.len());
        let mut events: Vec<Encoded> = Vec::with_capacity(batch.len());
        for (i, message) in batch.iter().enumerate() {
            match Encoded::decode(&message.payload) {
                Ok(event) => {
                    indexes.push(i);
                    events.push(event);
                }
                Err(e) => outcomes[i] = Some(Outcome::dead_letter(None, e.to_string())),
            }
        }
        let ids: Vec<String> = events.iter().map(|e| e.event.event_id.clone()).collect();
        let (events, result) = match self.write(events).await {
            Ok(written) => written,
            Err(e) => (Vec::new(), Err(e)),
        };
        match result {
            Ok(report) => {
                self.record_stored(batch, &indexes, &events, &report);
                for (&i, id) in indexes.iter().zip(ids) {
                    outcomes[i] = Some(Outcome::ack(id));
                }
            }
            Err(e) if e.is_transient() => {
                for (&i, id) in indexes.iter().zip(ids) {
                    outcomes[i] = Some(Outcome::retry(Some(id), RETRY_DELAY, e.to_string()));
                }
            }
            Err(e) => {
                // Something in the batch is refused: store one by one to find it.
                warn!(stage = STAGE, error = %e, size = events.len(), "batch refused, storing its events one by one");
                for (i, event) in indexes.into_iter().zip(events) {
                    let event_id = event.event.event_id.clone();
                    outcomes[i] = Some(match self.write(vec![event]).await {
                        Ok((written, Ok(report))) => {
                            self.record_stored(batch, &[i], &written, &report);
                            Outcome::ack(event_id)
                        }
                        Ok((_, Err(e))) | Err(e) if e.is_transient() => {
                            Outcome::retry(Some(event_id), RETRY_DELAY, e.to_string())
                        }
                        Ok((_, Err(e))) | Err(e) => {
                            Outcome::dead_letter(Some(event_id), e.to_string())
                        }
                    });
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::retry(None, RETRY_DELAY, "not processed")))
            .collect()
    }
}

impl StoreBatch {
    /// Metrics and debug lines of a written batch: `events[k]` came from `batch[indexes[k]]`.
    /// Counters by category are added once per category and batch, not once per event.
    fn record_stored(
        &mut self,
        batch: &[Message],
        indexes: &[usize],
        events: &[Encoded],
        report: &crate::StoreReport,
    ) {
        let now = time::OffsetDateTime::now_utc();
        metrics::histogram!("newswire_store_batch_size").record(events.len() as f64);
        let end_to_end = metrics::histogram!("newswire_end_to_end_seconds");
        let debug = tracing::enabled!(tracing::Level::DEBUG) || trace::EXPORTS;
        for (&i, Encoded { event, .. }) in indexes.iter().zip(events) {
            let latency = (now - event.ingested_at).as_seconds_f64().max(0.0);
            end_to_end.record(latency);
            if !debug {
                continue;
            }
            // The sink sends nothing onward: it needs a span only to export one.
            let parent = trace::from_headers(batch[i].headers.as_ref());
            let (span, context) = if trace::EXPORTS {
                trace::event_span(STAGE, &event.article_id, &event.event_id, parent.as_ref())
            } else {
                (tracing::Span::none(), None)
            };
            let trace_id = context
                .as_ref()
                .or(parent.as_ref())
                .map_or(event.article_id.as_str(), |t| t.trace_id.as_str());
            let _entered = span.enter();
            debug!(
                stage = STAGE,
                event_id = %event.event_id,
                article_id = %event.article_id,
                category = %event.category,
                actors = %event.actors.iter().map(|a| a.code.as_str()).collect::<Vec<_>>().join(","),
                latency_ms = (latency * 1000.0).round() as u64,
                trace_id,
                "event stored"
            );
        }
        newswire_shared::ops::count_by(
            "newswire_events_in_store_total",
            &[],
            "category",
            events.iter().map(|e| e.event.category.as_str()),
        );
        metrics::counter!("newswire_events_stored_total").increment(report.stored as u64);
        metrics::counter!("newswire_events_duplicate_total").increment(report.duplicates as u64);
        self.progress.add(report.stored as u64);
    }
}
