//! The sink service: consume tagged events, store them in batches, and acknowledge each
//! message only after the transaction holding it has committed.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Message;
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind};
use newswire_shared::trace;
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Finish, Handler, Outcome, Progress, StageConnection,
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
    /// How long a batch of events from a backlog waits to fill (see [`BEHIND`]); zero writes
    /// every batch at once.
    pub linger: Duration,
}

impl SinkConfig {
    pub fn new(nats: NatsArgs, store: impl Into<String>) -> Self {
        Self {
            nats,
            store: store.into(),
            consumer: ConsumerOptions::new(STAGE),
            metrics_listen: None,
            linger: LINGER,
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
        match self {
            Self::Nats(e) => e.is_unavailable(),
            Self::Store(e) => e.is_transient(),
            Self::Listen { .. } => false,
        }
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

/// Runs the sink until `shutdown` resolves, then finishes the batches in hand and returns.
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
        progress: Arc::new(Mutex::new(Progress::new(STAGE, "events stored"))),
        linger: config.linger,
    };
    connection
        .serve(handler, config.consumer.worker, shutdown)
        .await;
    Ok(())
}

/// Ready when the store takes a write (checked on the blocking pool, between batch writes).
fn store_ready(store: Arc<Mutex<Box<dyn Store>>>) -> newswire_shared::ops::ReadyCheck {
    Arc::new(move || {
        let store = Arc::clone(&store);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                lock(&store).ready().map_err(|e| format!("store: {e}"))
            })
            .await
            .map_err(|e| format!("store check failed: {e}"))?
        })
    })
}

/// The store, even after a panic while another thread held it. A panic in a write (a defect
/// met by one batch) unwinds through its transaction, which rolls back: the store is as it was
/// before that batch. Refusing it from then on would dead-letter every later event; the batch
/// that panicked is redelivered instead, and dead-lettered alone after `max_deliver` tries.
fn lock(store: &Mutex<Box<dyn Store>>) -> std::sync::MutexGuard<'_, Box<dyn Store>> {
    store.lock().unwrap_or_else(|poisoned| {
        store.clear_poison();
        poisoned.into_inner()
    })
}

struct StoreBatch {
    store: Arc<Mutex<Box<dyn Store>>>,
    progress: Arc<Mutex<Progress>>,
    linger: Duration,
}

const RETRY_DELAY: Duration = Duration::from_secs(5);

/// What the write of a batch's events came to.
struct Written {
    /// One outcome per event, in order.
    outcomes: Vec<Outcome>,
    /// The events written (or found already stored), in order.
    stored: Vec<usize>,
    report: crate::StoreReport,
}

/// Writes `events` in one transaction; when the store refuses the batch, writes them one by
/// one so that only the event at fault is dead-lettered. The store is taken for each write,
/// so a check of the store or another batch can go between. Blocks: run it off the async
/// workers.
fn write_events(store: &Mutex<Box<dyn Store>>, events: &[Encoded]) -> Written {
    let id = |k: usize| Some(events[k].event.event_id.clone());
    let write = |events: &[Encoded]| lock(store).store_encoded(events);
    match write(events) {
        Ok(report) => Written {
            outcomes: (0..events.len())
                .map(|k| Outcome::ack(events[k].event.event_id.clone()))
                .collect(),
            stored: (0..events.len()).collect(),
            report,
        },
        Err(e) if e.is_transient() => Written {
            outcomes: (0..events.len())
                .map(|k| Outcome::retry(id(k), RETRY_DELAY, e.to_string()))
                .collect(),
            stored: Vec::new(),
            report: crate::StoreReport::default(),
        },
        Err(e) => {
            // Something in the batch is refused: store one by one to find it.
            warn!(stage = STAGE, error = %e, size = events.len(), "batch refused, storing its events one by one");
            let mut written = Written {
                outcomes: Vec::with_capacity(events.len()),
                stored: Vec::new(),
                report: crate::StoreReport::default(),
            };
            for (k, event) in events.iter().enumerate() {
                written
                    .outcomes
                    .push(match write(std::slice::from_ref(event)) {
                        Ok(report) => {
                            written.stored.push(k);
                            written.report.stored += report.stored;
                            written.report.duplicates += report.duplicates;
                            Outcome::ack(event.event.event_id.clone())
                        }
                        Err(e) if e.is_transient() => {
                            Outcome::retry(id(k), RETRY_DELAY, e.to_string())
                        }
                        Err(e) => Outcome::dead_letter(id(k), e.to_string()),
                    });
            }
            written
        }
    }
}

/// Events made longer ago than this reach the sink from a backlog upstream: the pipeline is
/// saturated, and each of them has already waited far longer than a linger. The age is the
/// sink's clock against the producer's `ingested_at`: it relies on the two agreeing (NTP keeps
/// them within milliseconds; `newswire_end_to_end_seconds` shows a skew).
const BEHIND: time::Duration = time::Duration::milliseconds(100);

/// How long a batch of such events waits to fill before it is written, by default
/// (`--linger-ms`). Each commit costs the sink some 200 µs of CPU whatever its size (the log
/// pages every commit rewrites, its fsync): fewer, larger commits leave that CPU to the stages
/// ahead (docs/benchmarks.md, change 45).
pub const LINGER: Duration = Duration::from_millis(10);

/// `linger` when the event `payload` was made more than [`BEHIND`] before `now`; zero for a
/// fresh event, so latency below saturation does not change, and for a payload whose time
/// does not read (its batch is written at once, and the event dead-lettered).
fn linger_for(payload: &[u8], now: time::OffsetDateTime, linger: Duration) -> Duration {
    match newswire_shared::event::EventTimes::read(payload) {
        Ok(times) if now - times.ingested_at > BEHIND => linger,
        _ => Duration::ZERO,
    }
}

impl Handler for StoreBatch {
    fn linger(&self, first: &Message) -> Duration {
        if self.linger.is_zero() {
            return Duration::ZERO;
        }
        linger_for(&first.payload, time::OffsetDateTime::now_utc(), self.linger)
    }

    async fn start(&mut self, batch: &[Message]) -> Finish {
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
        // The trace context of each message, read only when a debug line or span needs it.
        let parents: Vec<Option<trace::TraceParent>> =
            if tracing::enabled!(tracing::Level::DEBUG) || trace::EXPORTS {
                indexes
                    .iter()
                    .map(|&i| trace::from_headers(batch[i].headers.as_ref()))
                    .collect()
            } else {
                Vec::new()
            };
        // The write runs on the blocking pool (SQLite calls block) while the worker starts the
        // next batch. Two batches' writes may take the store in either order: the store is
        // idempotent and order is not promised (docs/guarantees.md).
        // The events stay here too: if the write task fails, their ids go with the retries.
        let events = Arc::new(events);
        let store = Arc::clone(&self.store);
        let progress = Arc::clone(&self.progress);
        let write = tokio::task::spawn_blocking({
            let events = Arc::clone(&events);
            move || write_events(&store, &events)
        });
        Box::pin(async move {
            match write.await {
                Ok(written) => {
                    record_stored(&events, &written, &parents, &progress);
                    for (&i, outcome) in indexes.iter().zip(written.outcomes) {
                        outcomes[i] = Some(outcome);
                    }
                }
                Err(e) => {
                    let reason = format!("store task failed: {e}");
                    for (&i, event) in indexes.iter().zip(events.iter()) {
                        let id = Some(event.event.event_id.clone());
                        outcomes[i] = Some(Outcome::retry(id, RETRY_DELAY, reason.clone()));
                    }
                }
            }
            outcomes
                .into_iter()
                .map(|o| o.unwrap_or_else(|| Outcome::retry(None, RETRY_DELAY, "not processed")))
                .collect()
        })
    }
}

/// Metrics and debug lines of a written batch; `parents[k]`, where present, is the trace
/// context `events[k]` arrived with. Counters by category are added once per category and
/// batch, not once per event.
fn record_stored(
    events: &[Encoded],
    written: &Written,
    parents: &[Option<trace::TraceParent>],
    progress: &Mutex<Progress>,
) {
    if written.stored.is_empty() {
        return;
    }
    let now = time::OffsetDateTime::now_utc();
    metrics::histogram!("newswire_store_batch_size").record(written.stored.len() as f64);
    let end_to_end = metrics::histogram!("newswire_end_to_end_seconds");
    let debug = !parents.is_empty();
    for &k in &written.stored {
        let event = &events[k].event;
        let latency = (now - event.ingested_at).as_seconds_f64().max(0.0);
        end_to_end.record(latency);
        if !debug {
            continue;
        }
        // The sink sends nothing onward: it needs a span only to export one.
        let parent = parents[k].as_ref();
        let (span, context) = if trace::EXPORTS {
            trace::event_span(STAGE, &event.article_id, &event.event_id, parent)
        } else {
            (tracing::Span::none(), None)
        };
        let trace_id = context
            .as_ref()
            .or(parent)
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
        written
            .stored
            .iter()
            .map(|&k| events[k].event.category.as_str()),
    );
    let report = &written.report;
    metrics::counter!("newswire_events_stored_total").increment(report.stored as u64);
    metrics::counter!("newswire_events_duplicate_total").increment(report.duplicates as u64);
    if let Ok(mut progress) = progress.lock() {
        progress.add(report.stored as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that panics in its first write, then writes into SQLite.
    struct PanicsOnce {
        inner: crate::SqliteStore,
        panicked: bool,
    }

    impl Store for PanicsOnce {
        fn store_encoded(&mut self, events: &[Encoded]) -> Result<crate::StoreReport, StoreError> {
            if !self.panicked {
                self.panicked = true;
                panic!("a defect met by one batch");
            }
            self.inner.store_encoded(events)
        }
        fn query(
            &self,
            filter: &store::Filter,
        ) -> Result<Vec<newswire_shared::TaggedEvent>, StoreError> {
            self.inner.query(filter)
        }
        fn count(&self, article_id: Option<&str>) -> Result<usize, StoreError> {
            self.inner.count(article_id)
        }
        fn ready(&mut self) -> Result<(), StoreError> {
            self.inner.ready()
        }
    }

    /// A panic in one batch's write leaves the store usable for the batches after it (they
    /// were all dead-lettered once the lock was poisoned).
    #[test]
    fn a_panic_in_one_write_does_not_refuse_the_writes_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = crate::SqliteStore::open(dir.path().join("events.db")).expect("opens");
        let store: Mutex<Box<dyn Store>> = Mutex::new(Box::new(PanicsOnce {
            inner,
            panicked: false,
        }));
        let batch: Vec<Encoded> = (0..3)
            .map(|i| Encoded::new(crate::conformance::event("a1", i, &[("UKR", "UKR")], None)))
            .collect();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_events(&store, &batch)
        }));
        assert!(panicked.is_err(), "the first write panics");
        let written = write_events(&store, &batch);
        assert_eq!(written.stored, vec![0, 1, 2]);
        assert!(
            written
                .outcomes
                .iter()
                .all(|o| matches!(o.decision, newswire_shared::nats::Decision::Ack)),
            "every event acked"
        );
        assert_eq!(lock(&store).count(None).expect("counts"), 3);
        assert!(lock(&store).ready().is_ok());
    }

    #[test]
    fn a_batch_lingers_only_for_events_made_long_ago() {
        let made = time::macros::datetime!(2026-12-01 12:00:00 UTC);
        let payload = br#"{"event_id":"x","ingested_at":"2026-12-01T12:00:00Z","text":"..."}"#;
        let linger = |payload: &[u8], ms: i64| {
            linger_for(payload, made + time::Duration::milliseconds(ms), LINGER)
        };
        assert_eq!(
            linger(payload, -5_000),
            Duration::ZERO,
            "made in the future"
        );
        assert_eq!(linger(payload, 5), Duration::ZERO);
        assert_eq!(linger(payload, 100), Duration::ZERO);
        assert_eq!(linger(payload, 101), LINGER);
        assert_eq!(linger(payload, 60_000), LINGER);
        assert_eq!(linger(b"not json", 60_000), Duration::ZERO);
        assert_eq!(linger(br#"{"text":"no time"}"#, 60_000), Duration::ZERO);
    }
}
