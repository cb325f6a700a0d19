//! The classifier service: consume raw events, tag them, publish the tagged events, and only
//! then acknowledge the raw ones.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, Message, context::PublishAckFuture, message::PublishMessage};
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind};
use newswire_shared::trace;
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Finish, Handler, Outcome, Progress, StageConnection,
};
use newswire_shared::{CompactString, Payloads, RawEvent, Subjects, TaggedEvent};
use tracing::{debug, info};

use crate::classify::Classifier;
use crate::dict::{DictErrors, Dictionary, Sources};

pub const STAGE: &str = "classifier";

/// Configuration of the classifier service.
#[derive(Debug, Clone)]
pub struct ClassifierConfig {
    pub nats: NatsArgs,
    /// Directory whose dictionary files replace the built-in ones.
    pub dict_dir: Option<PathBuf>,
    pub consumer: ConsumerOptions,
    /// Longer sentences are dead-lettered rather than coded.
    pub max_sentence_bytes: usize,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl ClassifierConfig {
    pub fn new(nats: NatsArgs) -> Self {
        Self {
            nats,
            dict_dir: None,
            consumer: ConsumerOptions::new(STAGE),
            max_sentence_bytes: 4096,
            metrics_listen: None,
        }
    }
}

/// Errors that stop the classifier from starting.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error("invalid dictionaries:\n{0}")]
    Dictionary(#[from] DictErrors),
    #[error(transparent)]
    DictionaryFiles(#[from] crate::dict::DictError),
    #[error("cannot serve the operator endpoints on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl ClassifierError {
    /// NATS could not be reached: a deployment problem, not a defect.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Nats(e) if e.is_unavailable())
    }

    /// Invalid configuration: a bad URL or prefix, invalid dictionaries.
    pub fn is_invalid_config(&self) -> bool {
        matches!(
            self,
            Self::Nats(NatsError::Url { .. } | NatsError::Prefix(_) | NatsError::Auth(_))
                | Self::Dictionary(_)
                | Self::DictionaryFiles(_)
                | Self::Listen { .. }
        )
    }
}

/// Loads the built-in dictionaries with the overrides of `dir`.
pub fn load_classifier(dir: Option<&std::path::Path>) -> Result<Classifier, ClassifierError> {
    let sources = match dir {
        Some(dir) => Sources::with_overrides(dir)?,
        None => Sources::builtin(),
    };
    Ok(Classifier::new(Dictionary::compile(&sources)?))
}

/// Runs the classifier until `shutdown` resolves, then finishes the batches in hand and returns.
pub async fn run(
    config: ClassifierConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ClassifierError> {
    let classifier = Arc::new(load_classifier(config.dict_dir.as_deref())?);
    let (actor_terms, cues) = classifier.dictionary().sizes();
    let connection = StageConnection::open(
        STAGE,
        &config.nats,
        &ConsumeFrom {
            input: StreamKind::Raw,
            streams: vec![StreamKind::Raw, StreamKind::Tagged, StreamKind::DeadLetter],
            options: config.consumer.clone(),
        },
    )
    .await?
    .monitor(config.metrics_listen, None)
    .await
    .map_err(|(addr, source)| ClassifierError::Listen { addr, source })?;
    info!(
        stage = STAGE,
        version = classifier.version(),
        actor_terms,
        cues,
        "classifier started"
    );
    let handler = TagAndPublish {
        classifier,
        js: connection.js.clone(),
        subjects: connection.subjects.clone(),
        progress: Progress::new(STAGE, "events classified"),
        max_sentence_bytes: config.max_sentence_bytes,
        payloads: Payloads::default(),
    };
    connection
        .serve(handler, config.consumer.worker, shutdown)
        .await;
    Ok(())
}

/// Runs `tag`; a panic in the classifier (a defect some sentence meets) becomes the reason to
/// dead-letter that sentence instead of stopping the stage on it at every redelivery.
fn tag_or_explain(tag: impl FnOnce() -> TaggedEvent) -> Result<TaggedEvent, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(tag)).map_err(|panic| {
        format!(
            "the classifier failed on this sentence: {}",
            newswire_shared::worker::panic_message(panic.as_ref())
        )
    })
}

struct TagAndPublish {
    classifier: Arc<Classifier>,
    js: jetstream::Context,
    subjects: Subjects,
    progress: Progress,
    max_sentence_bytes: usize,
    payloads: Payloads,
}

enum Pending {
    Done(Outcome),
    Publishing(String, CompactString, PublishAckFuture),
}

impl Handler for TagAndPublish {
    async fn start(&mut self, batch: &[Message]) -> Finish {
        // Publish every tagged event of the batch first, then await the acks together:
        // one round trip per batch, not per event, overlapping the next batch's work.
        let mut pending = Vec::with_capacity(batch.len());
        for message in batch {
            let raw = match RawEvent::decode(&message.payload) {
                Ok(raw) => raw,
                Err(e) => {
                    pending.push(Pending::Done(Outcome::dead_letter(None, e.to_string())));
                    continue;
                }
            };
            if raw.text.len() > self.max_sentence_bytes {
                let reason = format!(
                    "sentence of {} bytes exceeds the limit of {} bytes",
                    raw.text.len(),
                    self.max_sentence_bytes
                );
                pending.push(Pending::Done(Outcome::dead_letter(
                    Some(raw.event_id),
                    reason,
                )));
                continue;
            }
            // The article's trace continues with this stage's span.
            let parent = trace::from_headers(message.headers.as_ref());
            let (span, context) =
                trace::event_span(STAGE, &raw.article_id, &raw.event_id, parent.as_ref());
            let entered = span.enter();
            let tagged = match tag_or_explain(|| self.classifier.tag(raw)) {
                Ok(tagged) => tagged,
                Err(reason) => {
                    // A defect met by this sentence: another try would meet it again.
                    let event_id = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                        .map(|id| id.to_string());
                    pending.push(Pending::Done(Outcome::dead_letter(event_id, reason)));
                    continue;
                }
            };
            let subject = self
                .subjects
                .tagged(&tagged.category, tagged.primary_actor_token());
            debug!(
                stage = STAGE,
                event_id = %tagged.event_id,
                article_id = %tagged.article_id,
                category = %tagged.category,
                actors = %tagged.actors.iter().map(|a| a.code.as_str()).collect::<Vec<_>>().join(","),
                events = tagged.events.len(),
                trace_id = context.as_ref().map_or("", |c| c.trace_id.as_str()),
                "event classified"
            );
            let mut publish = PublishMessage::build()
                .message_id(&tagged.event_id)
                .payload(self.payloads.encode(&tagged));
            if let Some(context) = &context {
                publish = publish.header(trace::HEADER, context.header_value());
            }
            drop(entered);
            match self.js.send_publish(subject, publish).await {
                Ok(ack) => pending.push(Pending::Publishing(tagged.event_id, tagged.category, ack)),
                Err(e) => pending.push(Pending::Done(Outcome::retry(
                    Some(tagged.event_id),
                    Duration::from_secs(2),
                    format!("publishing the tagged event failed: {e}"),
                ))),
            }
        }
        self.progress.add(batch.len() as u64);
        // Awaited together: acks lost in a broker restart time out together, not one by one.
        Box::pin(async move {
            let settled = futures::future::join_all(pending.into_iter().map(|p| async move {
                match p {
                    Pending::Done(outcome) => (outcome, None),
                    Pending::Publishing(event_id, category, ack) => match ack.await {
                        Ok(_) => (Outcome::ack(event_id), Some(category)),
                        Err(e) => (
                            Outcome::retry(
                                Some(event_id),
                                Duration::from_secs(2),
                                format!("tagged event not acknowledged by the stream: {e}"),
                            ),
                            None,
                        ),
                    },
                }
            }))
            .await;
            // Published events by category: one counter update per category and batch.
            newswire_shared::ops::count_by(
                "newswire_events_published_total",
                &[("stage", STAGE)],
                "category",
                settled.iter().filter_map(|(_, c)| c.as_deref()),
            );
            settled.into_iter().map(|(outcome, _)| outcome).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_tagging_becomes_the_reason_to_dead_letter_the_sentence() {
        let raw = RawEvent::decode(
            br#"{"schema":1,"event_id":"a-0","article_id":"a","sentence_index":0,"sentence_count":1,
                 "text":"Russia invaded Ukraine.","span":{"start":0,"end":23},"article":{},
                 "ingested_at":"2024-06-21T00:00:00Z"}"#,
        )
        .expect("a raw event");
        let classifier = Classifier::builtin();
        let tagged = tag_or_explain(|| classifier.tag(raw)).expect("tags");
        assert_eq!(tagged.event_id, "a-0");
        let reason =
            tag_or_explain(|| panic!("index out of bounds: the len is 3 but the index is 7"))
                .expect_err("panicked");
        assert_eq!(
            reason,
            "the classifier failed on this sentence: index out of bounds: the len is 3 but the index is 7"
        );
    }
}
