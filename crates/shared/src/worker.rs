//! The consume loop shared by the classifier and the sink: pull in batches from a durable
//! consumer, hand each batch to the stage's handler, settle every message by its decision.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{Message, consumer::PullConsumer};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use tracing::{error, info, warn};

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

/// The rest of a batch's processing, begun by [`Handler::start`]: it resolves to one outcome per
/// message of the batch, in the same order.
pub type Finish = futures::future::BoxFuture<'static, Vec<Outcome>>;

/// A stage's processing of batches of messages, in two steps so that batches overlap: `start`
/// does the work that needs the handler (decoding, classifying, sending publishes, handing a
/// write to the store) and returns what is left to wait for (publish acks, a commit) as a
/// [`Finish`]. While one batch's `Finish` waits, the worker starts the next batch.
pub trait Handler: Send {
    /// Begins processing `batch`. The returned future must resolve to one outcome per message;
    /// an `Ack` only once the message's result is safely published or stored.
    fn start(&mut self, batch: &[Message]) -> impl Future<Output = Finish> + Send;

    /// How long a batch that is not full may wait for more messages once no further message
    /// is ready, judged by its first message (at most [`MAX_LINGER`]). Finished batches are
    /// settled meanwhile; a shutdown ends the wait and leaves the batch for redelivery. Zero,
    /// the default, starts every batch at once.
    fn linger(&self, _first: &Message) -> Duration {
        Duration::ZERO
    }
}

/// Batch sizes of the consume loop.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Messages requested from the server per pull.
    pub pull_batch: usize,
    /// Most messages handed to the handler at once. A batch is cut when it is full or when no
    /// further message is ready (and the handler's [`Handler::linger`] has passed), so batches
    /// grow with load and stay small when it is light.
    pub max_batch: usize,
    /// Batches started and not yet settled: with 2, a batch is worked on while the one before
    /// it waits for its publish acks or its commit. 1 works batch by batch. A replica holds up
    /// to `in_flight × max_batch` messages in work plus `pull_batch` pulled ahead.
    pub in_flight: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            pull_batch: 512,
            max_batch: 256,
            in_flight: 2,
        }
    }
}

/// What ended a pull stream's run of messages.
enum PullEnd<E> {
    Failed(E),
    Ended,
}

/// Puts a pulled message into `batch`; anything else the pull stream yields is what ended it.
fn take<E>(batch: &mut Vec<Message>, next: Option<Result<Message, E>>) -> Option<PullEnd<E>> {
    match next {
        Some(Ok(message)) => {
            batch.push(message);
            None
        }
        Some(Err(e)) => Some(PullEnd::Failed(e)),
        None => Some(PullEnd::Ended),
    }
}

/// The longest a batch lingers, whatever its handler asks.
pub const MAX_LINGER: Duration = Duration::from_secs(1);

/// A started batch: its messages, the rest of its processing, and when it was started.
type Started = (Vec<Message>, Vec<Outcome>, std::time::Instant);

/// Runs until `shutdown` resolves. Batches already started when it resolves are finished and
/// settled within `grace` (the consumer's ack wait: after it the server redelivers their
/// messages anyway); messages pulled but not yet started, or in a batch being started, are
/// left unacked and the server redelivers them. Batches are settled in the order they were
/// started. After a reconnect the pull requests are issued again: the server that held them
/// may have restarted and forgotten them.
#[allow(clippy::too_many_arguments)]
pub async fn run<H: Handler>(
    stage: &'static str,
    consumer: PullConsumer,
    settler: Settler,
    settings: WorkerSettings,
    mut handler: H,
    mut reconnects: Reconnects,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown.fuse());
    let in_flight_limit = settings.in_flight.max(1);
    let mut in_flight = FuturesOrdered::new();
    let mut batch: Vec<Message> = Vec::with_capacity(settings.max_batch);
    // Settled batches' lists, emptied, for the next batches: a list of `max_batch` messages is
    // some 100 KB, and allocating one per batch made glibc consolidate its free lists.
    let mut spare: Vec<Vec<Message>> = Vec::new();
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
                    Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                        spare.push(settle(stage, &settler, done).await);
                        continue 'connect;
                    }
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue 'connect,
                }
            }
        };
        loop {
            // Settle what has finished first; take a new message only while there is room.
            let room = in_flight.len() < in_flight_limit;
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break 'connect,
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    spare.push(settle(stage, &settler, done).await);
                    continue;
                }
                () = reconnects.reconnected() => {
                    info!(stage, "reconnected, pulling again");
                    continue 'connect;
                }
                next = messages.next(), if room => next,
            };
            // A pull error or the stream's end, met before the batch is full: answered once the
            // batch in hand is started.
            let mut end = take(&mut batch, first);
            let started = std::time::Instant::now();
            // What is ready now; then, if the handler asks, what arrives within its linger of
            // the first message, settling the batches that finish meanwhile.
            let mut until = None;
            while end.is_none() && batch.len() < settings.max_batch {
                let next = match messages.next().now_or_never() {
                    Some(next) => next,
                    None => {
                        let until = *until.get_or_insert_with(|| {
                            let linger = handler.linger(&batch[0]).min(MAX_LINGER);
                            tokio::time::Instant::from_std(started) + linger
                        });
                        if until <= tokio::time::Instant::now() {
                            break;
                        }
                        tokio::select! {
                            biased;
                            // Pulled and not started: left for redelivery, as below.
                            () = &mut shutdown => break 'connect,
                            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                                spare.push(settle(stage, &settler, done).await);
                                continue;
                            }
                            next = tokio::time::timeout_at(until, messages.next()) => match next {
                                Ok(next) => next,
                                Err(_) => break,
                            },
                        }
                    }
                };
                end = take(&mut batch, next);
            }
            // Delivered more often than the stage allows: the stage that held it died on it
            // (killed, out of memory, aborted) at each try, or its dead letter could not be
            // written. Dead-lettered without another try.
            for message in batch.extract_if(.., |m| settler.overdelivered(m).is_some()) {
                let deliveries = settler.overdelivered(&message).unwrap_or_default();
                let reason = format!(
                    "delivered {deliveries} times without being settled: the stage that held it may have died on it"
                );
                settler
                    .settle(&message, Decision::DeadLetter { reason }, None)
                    .await;
            }
            if !batch.is_empty() {
                metrics::histogram!("newswire_batch_size", "stage" => stage)
                    .record(batch.len() as f64);
                // The rest runs as a task of its own: publish acks are taken as they arrive, even
                // while the next batch is being started (the client holds a bounded number).
                // Starting may wait on the connection (the classifier queues its publishes):
                // a shutdown meanwhile leaves the batch for redelivery.
                // A panic in it (a defect met by some message) fails this batch, as one in its
                // rest does below, instead of the stage.
                let starting = std::panic::AssertUnwindSafe(handler.start(&batch)).catch_unwind();
                let finish = tokio::select! {
                    biased;
                    started = starting => started.unwrap_or_else(|panic| {
                        let reason = format!("starting the batch panicked: {}", panic_message(panic.as_ref()));
                        error!(stage, size = batch.len(), reason = %reason, "batch processing failed, redelivering the batch");
                        let outcomes = vec![Outcome::retry(None, Duration::from_secs(1), reason); batch.len()];
                        Box::pin(std::future::ready(outcomes))
                    }),
                    () = &mut shutdown => {
                        info!(stage, size = batch.len(), "stopped while starting a batch, left for redelivery");
                        break 'connect;
                    }
                };
                let finish = tokio::spawn(finish);
                let next = spare
                    .pop()
                    .unwrap_or_else(|| Vec::with_capacity(settings.max_batch));
                let messages_of_batch = std::mem::replace(&mut batch, next);
                in_flight.push_back(async move {
                    let outcomes = finish.await.unwrap_or_else(|e| {
                        warn!(stage, error = %e, "batch processing failed, redelivering the batch");
                        let outcome = Outcome::retry(
                            None,
                            Duration::from_secs(1),
                            format!("batch processing failed: {e}"),
                        );
                        vec![outcome; messages_of_batch.len()]
                    });
                    (messages_of_batch, outcomes, started)
                });
            }
            match end {
                None => {}
                Some(PullEnd::Failed(e)) => {
                    warn!(stage, error = %e, "pull failed, pulling again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue 'connect;
                }
                Some(PullEnd::Ended) => {
                    warn!(stage, "pull stream ended, pulling again");
                    continue 'connect;
                }
            }
        }
    }
    info!(stage, in_flight = in_flight.len(), "stopped pulling");
    let drain = async {
        while let Some(done) = in_flight.next().await {
            settle(stage, &settler, done).await;
        }
    };
    if tokio::time::timeout(grace, drain).await.is_err() {
        warn!(
            stage,
            grace_secs = grace.as_secs(),
            "batches in flight not settled within the grace period, left for redelivery"
        );
    }
}

/// What a panic said, when it said it with a string.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Settles every message of a finished batch by its outcome; returns the batch's list, emptied.
async fn settle(
    stage: &'static str,
    settler: &Settler,
    (mut batch, outcomes, started): Started,
) -> Vec<Message> {
    debug_assert_eq!(outcomes.len(), batch.len());
    for (message, outcome) in batch.iter().zip(outcomes) {
        settler
            .settle(message, outcome.decision, outcome.event_id.as_deref())
            .await;
    }
    // Each message of the batch waited for the whole batch: its processing time.
    metrics::histogram!("newswire_processing_seconds", "stage" => stage)
        .record(started.elapsed().as_secs_f64());
    batch.clear();
    batch
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

/// A stage's connection to NATS: its streams declared, its durable consumer bound, ready to
/// serve a [`Handler`]. The classifier and the sink differ only in their handlers.
#[derive(Debug)]
pub struct StageConnection {
    pub stage: &'static str,
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub subjects: crate::Subjects,
    consumer: PullConsumer,
    reconnects: Reconnects,
    max_deliver: i64,
    /// The consumer's ack wait, and so the grace a stopping stage gives its batches in flight.
    ack_wait: Duration,
    stream: String,
    durable: String,
    monitors: Option<Monitors>,
}

/// The tasks that watch a stage for operators, stopped with it.
#[derive(Debug)]
struct Monitors {
    trigger: crate::shutdown::Trigger,
    tasks: tokio::task::JoinSet<()>,
}

/// How long a stopping stage waits to write its last acks and drain its connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the consumer's backlog is read from JetStream into gauges.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// How a consuming stage uses its durable consumer: the part of its configuration every
/// consuming stage shares.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Durable consumer name shared by all replicas.
    pub durable: String,
    pub worker: WorkerSettings,
    /// Deliveries of a failing message before it is dead-lettered.
    pub max_deliver: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Messages delivered and not yet acknowledged, across all replicas: the backpressure
    /// bound. Each replica holds up to `(in_flight + 2) × max_batch` (1,024 by default), so
    /// raise it with the replicas.
    pub max_ack_pending: i64,
}

impl ConsumerOptions {
    /// The defaults, with the stage's name as the durable name.
    pub fn new(durable: impl Into<String>) -> Self {
        Self {
            durable: durable.into(),
            worker: WorkerSettings::default(),
            max_deliver: 10,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 1024,
        }
    }
}

/// Where a stage consumes from and how.
#[derive(Debug, Clone)]
pub struct ConsumeFrom {
    /// The stream the stage reads.
    pub input: crate::nats::StreamKind,
    /// Every stream the stage uses (created if missing).
    pub streams: Vec<crate::nats::StreamKind>,
    pub options: ConsumerOptions,
}

impl StageConnection {
    /// Connects, declares the streams and binds the durable consumer (with patience while
    /// JetStream is not ready).
    pub async fn open(
        stage: &'static str,
        nats: &crate::nats::NatsArgs,
        from: &ConsumeFrom,
    ) -> Result<Self, crate::nats::NatsError> {
        use crate::nats::StreamKind;
        let subjects = nats.subjects()?;
        let (client, reconnects) = crate::nats::connect_watched(nats, stage).await?;
        let js = async_nats::jetstream::new(client.clone());
        let (stream, filter) = match from.input {
            StreamKind::Raw => (subjects.raw_stream(), subjects.raw_all()),
            StreamKind::Tagged => (subjects.tagged_stream(), subjects.tagged_all()),
            StreamKind::DeadLetter => (subjects.dlq_stream(), subjects.dlq_all()),
        };
        let mut settings = crate::nats::ConsumerSettings::new(&from.options.durable, filter);
        settings.ack_wait = from.options.ack_wait;
        settings.max_deliver = from.options.max_deliver;
        settings.max_ack_pending = from.options.max_ack_pending;
        let consumer = crate::nats::setup_consumer(
            &js,
            &subjects,
            &from.streams,
            &nats.stream_settings(),
            &stream,
            &settings,
            stage,
        )
        .await?;
        info!(stage, stream = %stream, durable = %from.options.durable, "consumer ready");
        Ok(Self {
            stage,
            client,
            js,
            subjects,
            consumer,
            reconnects,
            max_deliver: from.options.max_deliver,
            ack_wait: from.options.ack_wait,
            stream,
            durable: from.options.durable.clone(),
            monitors: None,
        })
    }

    /// Starts watching the stage for operators, until it stops:
    /// - the consumer's backlog as gauges `newswire_consumer_pending{stage}` and
    ///   `newswire_consumer_ack_pending{stage}`, read every few seconds;
    /// - a NATS service `newswire-<stage>` (`nats micro list`) whose `status` endpoint answers
    ///   with the consumer's state;
    /// - with `listen`, `/metrics`, `/healthz` and `/readyz` on that address; ready means
    ///   connected, the input stream present, and `extra_ready` (the store, say) fine.
    pub async fn monitor(
        mut self,
        listen: Option<std::net::SocketAddr>,
        extra_ready: Option<crate::ops::ReadyCheck>,
    ) -> Result<Self, (std::net::SocketAddr, std::io::Error)> {
        let (trigger, stop) = crate::shutdown::channel();
        let mut tasks = tokio::task::JoinSet::new();
        let stage = self.stage;
        let consumer = self.consumer.clone();
        let lag_stop = stop.clone();
        tasks.spawn(async move {
            let mut consumer = consumer;
            let stopped = lag_stop.wait();
            tokio::pin!(stopped);
            loop {
                if let Ok(info) = consumer.info().await {
                    metrics::gauge!("newswire_consumer_pending", "stage" => stage)
                        .set(info.num_pending as f64);
                    metrics::gauge!("newswire_consumer_ack_pending", "stage" => stage)
                        .set(info.num_ack_pending as f64);
                }
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(LAG_INTERVAL) => {}
                }
            }
        });
        self.start_service(&mut tasks, stop.clone()).await;
        if let Some(addr) = listen {
            crate::ops::start_endpoints(
                addr,
                stage,
                self.js.clone(),
                vec![self.stream.clone()],
                extra_ready,
                stop,
                &mut tasks,
            )
            .await
            .map_err(|e| (addr, e))?;
        }
        self.monitors = Some(Monitors { trigger, tasks });
        Ok(self)
    }

    /// The stage as a NATS service whose `status` endpoint answers with the consumer's state.
    async fn start_service(
        &self,
        tasks: &mut tokio::task::JoinSet<()>,
        stop: crate::shutdown::Shutdown,
    ) {
        let stage = self.stage;
        let consumer = self.consumer.clone();
        let (stream, durable) = (self.stream.clone(), self.durable.clone());
        let status: crate::ops::StatusFn = Arc::new(move || {
            let mut consumer = consumer.clone();
            let (stream, durable) = (stream.clone(), durable.clone());
            Box::pin(async move {
                match consumer.info().await {
                    Ok(info) => serde_json::json!({
                        "stage": stage,
                        "stream": stream,
                        "consumer": durable,
                        "pending": info.num_pending,
                        "ack_pending": info.num_ack_pending,
                        "redelivered": info.num_redelivered,
                        "waiting": info.num_waiting,
                    }),
                    Err(e) => serde_json::json!({ "stage": stage, "error": e.to_string() }),
                }
            })
        });
        let description = format!(
            "newswire {stage}: consumer {} on {}",
            self.durable, self.stream
        );
        crate::ops::start_service(
            &self.client,
            &self.subjects,
            stage,
            description,
            status,
            stop,
            tasks,
        )
        .await;
    }

    /// Serves `handler` until `shutdown`, then flushes and drains the connection so the last
    /// batches' acks leave before it closes.
    pub async fn serve<H: Handler>(
        self,
        handler: H,
        settings: WorkerSettings,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let settler = Settler::new(
            self.js.clone(),
            &self.subjects,
            self.stage,
            self.max_deliver,
        );
        run(
            self.stage,
            self.consumer,
            settler,
            settings,
            handler,
            self.reconnects,
            self.ack_wait,
            shutdown,
        )
        .await;
        if let Some(mut monitors) = self.monitors {
            monitors.trigger.trigger();
            while monitors.tasks.join_next().await.is_some() {}
        }
        // The last acks sit in the client's write buffer: written out before the drain,
        // since the connection closes without writing once the client is dropped. Both wait
        // for a connection: not for long during an outage.
        match tokio::time::timeout(CLOSE_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(stage = self.stage, error = %e, "flushing the last acks failed, their messages will be redelivered")
            }
            Err(_) => warn!(
                stage = self.stage,
                "flushing the last acks timed out, their messages will be redelivered"
            ),
        }
        if let Ok(Err(e)) = tokio::time::timeout(CLOSE_TIMEOUT, self.client.drain()).await {
            warn!(stage = self.stage, error = %e, "draining the NATS connection failed");
        }
        info!(stage = self.stage, "stopped");
    }
}
