//! Turning articles into raw events and publishing them, acks pipelined.

use std::collections::VecDeque;

use async_nats::jetstream::{self, message::PublishMessage};
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind, StreamSettings, ensure_streams};
use newswire_shared::{RawEvent, SCHEMA_VERSION, Subjects};
use time::OffsetDateTime;
use tracing::debug;

use crate::article::{Article, ArticleError, article_id};
use crate::split::split_sentences;

/// Publish acknowledgements awaited at most this far behind the newest publish.
const ACK_WINDOW: usize = 256;

/// Errors of publishing.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error(transparent)]
    Input(#[from] ArticleError),
    #[error(transparent)]
    Nats(#[from] NatsError),
    #[error(
        "publishing event {event_id} failed: {reason}; events of this article already acknowledged are kept, publish it again to complete it (duplicates are dropped)"
    )]
    Publish { event_id: String, reason: String },
}

/// What publishing one article did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub article_id: String,
    /// Events the stream stored.
    pub published: usize,
    /// Events the stream already had (same `Nats-Msg-Id` within its duplicate window).
    pub duplicates: usize,
}

/// Splits an article into its raw sentence events: pure, no I/O.
pub fn sentence_events(
    article: &Article,
    ingested_at: OffsetDateTime,
) -> Result<Vec<RawEvent>, ArticleError> {
    let spans = split_sentences(&article.body);
    if spans.is_empty() {
        return Err(ArticleError::NoSentences);
    }
    let id = article_id(&article.body);
    let count = u32::try_from(spans.len()).map_err(|_| ArticleError::NoSentences)?;
    Ok(spans
        .into_iter()
        .zip(0u32..)
        .map(|(span, index)| RawEvent {
            schema: SCHEMA_VERSION,
            event_id: RawEvent::make_id(&id, index),
            article_id: id.clone(),
            sentence_index: index,
            sentence_count: count,
            text: article.body[span.start..span.end].to_owned(),
            span,
            article: article.meta.clone(),
            ingested_at,
        })
        .collect())
}

/// Publishes articles to the raw stream.
#[derive(Debug, Clone)]
pub struct Publisher {
    js: jetstream::Context,
    subjects: Subjects,
}

impl Publisher {
    /// Connects and makes sure the raw stream exists.
    pub async fn connect(args: &NatsArgs) -> Result<Self, ProducerError> {
        let client = newswire_shared::nats::connect(args, "producer").await?;
        let subjects = args.subjects().map_err(NatsError::from)?;
        Self::new(jetstream::new(client), subjects).await
    }

    pub async fn new(js: jetstream::Context, subjects: Subjects) -> Result<Self, ProducerError> {
        ensure_streams(
            &js,
            &subjects,
            &[StreamKind::Raw],
            &StreamSettings::default(),
        )
        .await?;
        Ok(Self { js, subjects })
    }

    /// Publishes every sentence of `article`, each with `Nats-Msg-Id` set to its event id,
    /// and returns once the stream has acknowledged all of them. The article is split and
    /// checked before the first publish, so a refused article publishes nothing.
    pub async fn publish(&self, article: &Article) -> Result<Published, ProducerError> {
        let events = sentence_events(article, OffsetDateTime::now_utc())?;
        self.publish_events(&events).await
    }

    /// Publishes the sentence events of one article (as made by [`sentence_events`]),
    /// keeping at most [`ACK_WINDOW`] acknowledgements outstanding.
    pub async fn publish_events(&self, events: &[RawEvent]) -> Result<Published, ProducerError> {
        let Some(first) = events.first() else {
            return Err(ArticleError::NoSentences.into());
        };
        let subject = self.subjects.raw(first.article.source.as_deref());
        let mut pending = VecDeque::with_capacity(ACK_WINDOW);
        let mut result = Published {
            article_id: first.article_id.clone(),
            published: 0,
            duplicates: 0,
        };
        for event in events {
            if pending.len() == ACK_WINDOW {
                await_ack(pending.pop_front(), &mut result).await?;
            }
            let ack = self
                .js
                .send_publish(
                    subject.clone(),
                    PublishMessage::build()
                        .message_id(&event.event_id)
                        .payload(event.encode().into()),
                )
                .await
                .map_err(|e| ProducerError::Publish {
                    event_id: event.event_id.clone(),
                    reason: e.to_string(),
                })?;
            pending.push_back((event.event_id.clone(), ack));
        }
        while let Some(next) = pending.pop_front() {
            await_ack(Some(next), &mut result).await?;
        }
        debug!(article_id = %result.article_id, published = result.published, duplicates = result.duplicates, "article published");
        Ok(result)
    }
}

async fn await_ack(
    pending: Option<(String, jetstream::context::PublishAckFuture)>,
    result: &mut Published,
) -> Result<(), ProducerError> {
    let Some((event_id, ack)) = pending else {
        return Ok(());
    };
    let ack = ack.await.map_err(|e| ProducerError::Publish {
        event_id,
        reason: e.to_string(),
    })?;
    if ack.duplicate {
        result.duplicates += 1;
    } else {
        result.published += 1;
    }
    Ok(())
}
