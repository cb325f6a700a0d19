//! The sink service: consume tagged events, store them in batches, and acknowledge each
//! message only after the transaction holding it has committed.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Message;
use newswire_shared::TaggedEvent;
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind};
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Handler, Outcome, Progress, StageConnection,
};
use tracing::{debug, info, warn};

use crate::store::{self, Store, StoreError};

pub const STAGE: &str = "sink";

/// Configuration of the sink service.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub nats: NatsArgs,
    /// Store URL: `sqlite://PATH`.
    pub store: String,
    pub consumer: ConsumerOptions,
}

impl SinkConfig {
    pub fn new(nats: NatsArgs, store: impl Into<String>) -> Self {
        Self {
            nats,
            store: store.into(),
            consumer: ConsumerOptions::new(STAGE),
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
            Self::Nats(NatsError::Url { .. } | NatsError::Prefix(_))
                | Self::Store(StoreError::Url { .. })
        )
    }
}

/// Runs the sink until `shutdown` resolves, then finishes the batch in hand and returns.
pub async fn run(
    config: SinkConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SinkError> {
    let store = store::open(&config.store)?;
    let connection = StageConnection::open(
        STAGE,
        &config.nats,
        &ConsumeFrom {
            input: StreamKind::Tagged,
            streams: vec![StreamKind::Tagged, StreamKind::DeadLetter],
            options: config.consumer.clone(),
        },
    )
    .await?;
    info!(stage = STAGE, store = %config.store, "sink started");
    let handler = StoreBatch {
        store: Arc::new(Mutex::new(store)),
        progress: Progress::new(STAGE, "events stored"),
    };
    connection
        .serve(handler, config.consumer.worker, shutdown)
        .await;
    Ok(())
}

struct StoreBatch {
    store: Arc<Mutex<Box<dyn Store>>>,
    progress: Progress,
}

impl StoreBatch {
    /// Runs a write on the blocking pool: SQLite calls block.
    async fn write(&self, events: Vec<TaggedEvent>) -> Result<crate::StoreReport, StoreError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let mut store = store
                .lock()
                .map_err(|_| StoreError::Permanent("store poisoned by an earlier panic".into()))?;
            store.store(&events)
        })
        .await
        .map_err(|e| StoreError::Transient(format!("store task failed: {e}")))?
    }
}

const RETRY_DELAY: Duration = Duration::from_secs(5);

impl Handler for StoreBatch {
    async fn handle(&mut self, batch: &[Message]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut decoded: Vec<(usize, TaggedEvent)> = Vec::with_capacity(batch.len());
        for (i, message) in batch.iter().enumerate() {
            match TaggedEvent::decode(&message.payload) {
                Ok(event) => decoded.push((i, event)),
                Err(e) => outcomes[i] = Some(Outcome::dead_letter(None, e.to_string())),
            }
        }
        let events: Vec<TaggedEvent> = decoded.iter().map(|(_, e)| e.clone()).collect();
        match self.write(events).await {
            Ok(report) => {
                for (i, event) in &decoded {
                    debug!(stage = STAGE, event_id = %event.event_id, article_id = %event.article_id, category = %event.category, "event stored");
                    outcomes[*i] = Some(Outcome::ack(event.event_id.clone()));
                }
                metrics::counter!("newswire_events_stored_total").increment(report.stored as u64);
                metrics::counter!("newswire_events_duplicate_total")
                    .increment(report.duplicates as u64);
                self.progress.add(report.stored as u64);
            }
            Err(e) if e.is_transient() => {
                for (i, event) in &decoded {
                    outcomes[*i] = Some(Outcome::retry(
                        Some(event.event_id.clone()),
                        RETRY_DELAY,
                        e.to_string(),
                    ));
                }
            }
            Err(e) => {
                // Something in the batch is refused: store one by one to find it.
                warn!(stage = STAGE, error = %e, size = decoded.len(), "batch refused, storing its events one by one");
                for (i, event) in decoded {
                    let event_id = event.event_id.clone();
                    outcomes[i] = Some(match self.write(vec![event]).await {
                        Ok(_) => Outcome::ack(event_id),
                        Err(e) if e.is_transient() => {
                            Outcome::retry(Some(event_id), RETRY_DELAY, e.to_string())
                        }
                        Err(e) => Outcome::dead_letter(Some(event_id), e.to_string()),
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
