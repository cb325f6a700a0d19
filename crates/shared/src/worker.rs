//! The consume loop shared by the classifier and the sink: pull in batches from a durable
//! consumer, hand each batch to the stage's handler, settle every message by its decision.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use futures::{FutureExt, StreamExt};
use tracing::{info, warn};

use crate::nats::{Decision, Reconnects, Settler};

/// The decision for one message, with its event id where the payload could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    pub event_id: Option<String>,
}

impl Outcome {
    pub fn ack(event_id: impl Into<String>) -> Self {
        Self {
            decision: Decision::Ack,
            event_id: Some(event_id.into()),
        }
    }

    pub fn dead_letter(event_id: Option<String>, reason: impl Into<String>) -> Self {
        Self {
            decision: Decision::DeadLetter {
                reason: reason.into(),
            },
            event_id,
        }
    }

    pub fn retry(event_id: Option<String>, delay: Duration, reason: impl Into<String>) -> Self {
        Self {
            decision: Decision::Retry {
                delay,
                reason: reason.into(),
            },
            event_id,
        }
    }
}

/// A stage's processing of a batch of messages.
pub trait Handler: Send {
    /// Processes `batch` and returns one outcome per message, in the same order.
    /// An `Ack` must only be returned once the message's result is safely published or stored.
    fn handle(&mut self, batch: &[Message]) -> impl Future<Output = Vec<Outcome>> + Send;
}

/// Batch sizes of the consume loop.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Messages requested from the server per pull.
    pub pull_batch: usize,
    /// Most messages handed to the handler at once. A batch is cut when it is full or when no
    /// further message is ready, so batches grow with load and stay small when it is light.
    pub max_batch: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            pull_batch: 512,
            max_batch: 256,
        }
    }
}

/// Runs until `shutdown` resolves. The batch in hand when it resolves is finished and settled;
/// messages pulled but not yet handed out are left unacked and the server redelivers them.
/// After a reconnect the pull requests are issued again: the server that held them may have
/// restarted and forgotten them.
pub async fn run<H: Handler>(
    stage: &'static str,
    consumer: PullConsumer,
    settler: Settler,
    settings: WorkerSettings,
    mut handler: H,
    mut reconnects: Reconnects,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown.fuse());
    let mut batch: Vec<Message> = Vec::with_capacity(settings.max_batch);
    'connect: loop {
        reconnects.mark_seen();
        let stream = consumer
            .stream()
            .max_messages_per_batch(settings.pull_batch)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await;
        let mut messages = match stream {
            Ok(messages) => messages,
            Err(e) => {
                warn!(stage, error = %e, "cannot pull from consumer, retrying in 1s");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break 'connect,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue 'connect,
                }
            }
        };
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break 'connect,
                () = reconnects.reconnected() => {
                    info!(stage, "reconnected, pulling again");
                    continue 'connect;
                }
                next = messages.next() => next,
            };
            match first {
                Some(Ok(message)) => batch.push(message),
                Some(Err(e)) => {
                    warn!(stage, error = %e, "pull failed, pulling again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue 'connect;
                }
                None => {
                    warn!(stage, "pull stream ended, pulling again");
                    continue 'connect;
                }
            }
            while batch.len() < settings.max_batch {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => batch.push(message),
                    _ => break,
                }
            }
            metrics::histogram!("newswire_batch_size", "stage" => stage).record(batch.len() as f64);
            let outcomes = handler.handle(&batch).await;
            debug_assert_eq!(outcomes.len(), batch.len());
            for (message, outcome) in batch.iter().zip(outcomes) {
                settler
                    .settle(message, outcome.decision, outcome.event_id.as_deref())
                    .await;
            }
            batch.clear();
        }
    }
    info!(stage, "stopped pulling");
}

/// Rate-limited progress summaries: one info line per interval at most, never one per event.
#[derive(Debug)]
pub struct Progress {
    stage: &'static str,
    what: &'static str,
    interval: Duration,
    last: std::time::Instant,
    count: u64,
    total: u64,
}

impl Progress {
    pub fn new(stage: &'static str, what: &'static str) -> Self {
        Self {
            stage,
            what,
            interval: Duration::from_secs(10),
            last: std::time::Instant::now(),
            count: 0,
            total: 0,
        }
    }

    /// Counts `n` more items and logs a summary when the interval has passed.
    pub fn add(&mut self, n: u64) {
        self.count += n;
        self.total += n;
        let elapsed = self.last.elapsed();
        if elapsed >= self.interval && self.count > 0 {
            let rate = self.count as f64 / elapsed.as_secs_f64();
            info!(
                stage = self.stage,
                count = self.count,
                total = self.total,
                per_second = format!("{rate:.0}"),
                "{} {}",
                self.what,
                "in the last interval"
            );
            self.count = 0;
            self.last = std::time::Instant::now();
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}
