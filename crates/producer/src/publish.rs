//! Turning articles into raw events and publishing them, acks pipelined.

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use newswire_shared::nats::{NatsArgs, NatsError, StreamKind, StreamSettings, setup_streams};
use newswire_shared::trace;
use newswire_shared::{RawEvent, SCHEMA_VERSION, Subjects};
use time::OffsetDateTime;
use tracing::{debug, warn};

use crate::article::{Article, ArticleError, Limits, article_id};
use crate::dateline::dateline;
use crate::dates::event_date;
use crate::lang::detect_language;
use crate::split::{is_credit_line, split_sentences};

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
        "publishing event {event_id} failed: {reason}; events already acknowledged are kept, publish the input again to complete it (duplicates are dropped)"
    )]
    Publish { event_id: String, reason: String },
    #[error("{reason}")]
    Seen { reason: String },
    #[error("feed {url}: {reason}")]
    Feed { url: String, reason: String },
    #[error("invalid producer configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot watch the inbox {path}: {reason}")]
    Watch {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl ProducerError {
    /// NATS could not be reached at start-up, or JetStream did not answer its set-up (the
    /// streams, the `SEEN` bucket) within a minute.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Nats(e) => e.is_unavailable(),
            Self::Seen { .. } => true,
            _ => false,
        }
    }

    pub fn is_invalid_config(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Bind { .. }
                | Self::Nats(NatsError::Url { .. } | NatsError::Prefix(_) | NatsError::Auth(_))
        )
    }
}

/// What publishing one article did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub article_id: String,
    /// Title of the (first) article, when known.
    pub title: Option<String>,
    /// Events the stream stored.
    pub published: usize,
    /// Events the stream already had (same `Nats-Msg-Id` within its duplicate window).
    pub duplicates: usize,
}

/// Splits an article into its raw sentence events: pure, no I/O.
///
/// Beyond splitting, this is where an article's metadata is completed from its text: a
/// dateline ("SEOUL, June 21 (Yonhap) --") is cut from the first sentence and gives the outlet
/// and, when the article has none, the publication date; the language is detected when
/// undeclared; credit lines (bylines, "Reporting by", copyright) are not events and are
/// skipped; and each sentence that names a day ("on Thursday") carries it as `event_date`,
/// resolved against the publication date.
pub fn sentence_events(
    article: &Article,
    ingested_at: OffsetDateTime,
) -> Result<Vec<RawEvent>, ArticleError> {
    let body = article.body.as_str();
    let mut meta = article.meta.clone();
    let mut spans = split_sentences(body);
    // A dateline opens the story, which may follow a headline and a byline.
    if let Some((span, line)) = spans
        .iter_mut()
        .take(4)
        .find_map(|span| dateline(&body[span.start..span.end]).map(|line| (span, line)))
    {
        span.start += line.end;
        if meta.source.is_none() {
            meta.source = line.source;
        }
        if meta.published_at.is_none() {
            meta.published_at = line
                .month_day
                .and_then(|(month, day)| nearest_past_date(month, day, ingested_at.date()))
                .map(|date| date.midnight().assume_utc());
        }
    }
    spans.retain(|span| span.end > span.start && !is_credit_line(&body[span.start..span.end]));
    if spans.is_empty() {
        return Err(ArticleError::NoSentences);
    }
    if meta.language.is_none() {
        meta.language = detect_language(body);
    }
    let anchor = meta.published_at.map(OffsetDateTime::date);
    let id = article_id(body);
    let count = u32::try_from(spans.len()).map_err(|_| ArticleError::NoSentences)?;
    Ok(spans
        .into_iter()
        .zip(0u32..)
        .map(|(span, index)| {
            let text = &body[span.start..span.end];
            RawEvent {
                schema: SCHEMA_VERSION,
                event_id: RawEvent::make_id(&id, index),
                article_id: id.clone(),
                sentence_index: index,
                sentence_count: count,
                text: text.to_owned(),
                span,
                article: meta.clone(),
                event_date: anchor.and_then(|day| event_date(text, day)).map(|d| d.date),
                ingested_at,
            }
        })
        .collect())
}

/// The date of `month` `day` in the year that puts it nearest before `today` (a dateline of
/// "Dec. 30" read on January 2 is last year's); tomorrow's date is allowed for time zones.
fn nearest_past_date(month: time::Month, day: u8, today: time::Date) -> Option<time::Date> {
    let this_year = time::Date::from_calendar_date(today.year(), month, day).ok();
    match this_year {
        Some(date) if date <= today + time::Duration::days(1) => Some(date),
        _ => time::Date::from_calendar_date(today.year() - 1, month, day).ok(),
    }
}

/// How the producer retries publishes the stream did not acknowledge (a broker restarting,
/// a cluster electing a new leader). Retries reuse the event ids, so the stream's duplicate
/// window drops any copy that had in fact been stored.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// Publishes articles to the raw stream.
#[derive(Debug, Clone)]
pub struct Publisher {
    js: jetstream::Context,
    subjects: Subjects,
    retry: RetryPolicy,
    max_sentence_bytes: usize,
}

impl Publisher {
    /// Connects and makes sure the raw stream exists.
    pub async fn connect(args: &NatsArgs) -> Result<Self, ProducerError> {
        let client = newswire_shared::nats::connect(args, "producer").await?;
        let subjects = args.subjects().map_err(NatsError::from)?;
        Self::new(jetstream::new(client), subjects, &args.stream_settings()).await
    }

    pub async fn new(
        js: jetstream::Context,
        subjects: Subjects,
        settings: &StreamSettings,
    ) -> Result<Self, ProducerError> {
        setup_streams(&js, &subjects, &[StreamKind::Raw], settings, "producer").await?;
        Ok(Self {
            js,
            subjects,
            retry: RetryPolicy::default(),
            max_sentence_bytes: Limits::default().max_sentence_bytes,
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_limits(mut self, limits: &Limits) -> Self {
        self.max_sentence_bytes = limits.max_sentence_bytes;
        self
    }

    /// Publishes every sentence of `article`, each with `Nats-Msg-Id` set to its event id,
    /// and returns once the stream has acknowledged all of them. The article is split and
    /// checked before the first publish, so a refused article publishes nothing.
    pub async fn publish(&self, article: &Article) -> Result<Published, ProducerError> {
        let events = sentence_events(article, OffsetDateTime::now_utc())?;
        self.publish_events(&events).await
    }

    /// Publishes sentence events (as made by [`sentence_events`], of one article or many),
    /// keeping [`ACK_WINDOW`] acknowledgements outstanding across articles, retrying the events
    /// the stream did not acknowledge. `article_id` of the result is the first event's.
    pub async fn publish_events(&self, events: &[RawEvent]) -> Result<Published, ProducerError> {
        let mut receipts = self.publish_groups(&[events]).await?;
        Ok(receipts.remove(0))
    }

    /// Publishes the articles of one input (each as made by [`sentence_events`]) through one
    /// window of [`ACK_WINDOW`] acknowledgements, so that many small articles cost no round
    /// trip each; returns a receipt per article, in order. Every event is encoded and checked
    /// before the first publish, so a refused input publishes nothing.
    pub async fn publish_articles(
        &self,
        articles: &[Vec<RawEvent>],
    ) -> Result<Vec<Published>, ProducerError> {
        let groups: Vec<&[RawEvent]> = articles.iter().map(Vec::as_slice).collect();
        self.publish_groups(&groups).await
    }

    /// Publishes `groups` of events, tallied per group.
    async fn publish_groups(
        &self,
        groups: &[&[RawEvent]],
    ) -> Result<Vec<Published>, ProducerError> {
        let mut results = Vec::with_capacity(groups.len());
        // Encoded once: the size check and every publish attempt use the same bytes.
        let mut remaining = Vec::new();
        for (group, events) in groups.iter().enumerate() {
            let Some(first) = events.first() else {
                return Err(ArticleError::NoSentences.into());
            };
            results.push(Published {
                article_id: first.article_id.clone(),
                title: first.article.title.clone(),
                published: 0,
                duplicates: 0,
            });
            remaining.extend(
                self.encode_checked(events)?
                    .into_iter()
                    .map(|(event, payload)| (group, event, payload)),
            );
        }
        let mut delay = self.retry.first_delay;
        for attempt in 1..=self.retry.attempts.max(1) {
            let failed = self.publish_once(&remaining, &mut results).await;
            let Some((event, reason)) = failed.first().map(|(e, r)| (*e, r.clone())) else {
                for result in &results {
                    debug!(article_id = %result.article_id, published = result.published, duplicates = result.duplicates, "article published");
                }
                return Ok(results);
            };
            if attempt == self.retry.attempts.max(1) {
                return Err(ProducerError::Publish {
                    event_id: event.event_id.clone(),
                    reason,
                });
            }
            warn!(article_id = %event.article_id, unacknowledged = failed.len(), attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "publish not acknowledged, retrying");
            let failed_ids: std::collections::HashSet<&str> =
                failed.iter().map(|(e, _)| e.event_id.as_str()).collect();
            remaining.retain(|(_, e, _)| failed_ids.contains(e.event_id.as_str()));
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.retry.max_delay);
        }
        unreachable!("the last attempt returns")
    }

    /// Every event encoded, or the reason the batch must be refused before anything is
    /// published: a sentence over the limit, or an event over the server's max payload.
    fn encode_checked<'a>(
        &self,
        events: &'a [RawEvent],
    ) -> Result<Vec<(&'a RawEvent, bytes::Bytes)>, ArticleError> {
        check_limits(events, self.max_sentence_bytes)?;
        let max_payload = self.js.client().server_info().max_payload;
        events
            .iter()
            .map(|event| {
                let payload = bytes::Bytes::from(event.encode());
                if max_payload > 0 && payload.len() > max_payload {
                    return Err(ArticleError::MessageTooLarge {
                        index: event.sentence_index,
                        size: payload.len(),
                        max: max_payload,
                    });
                }
                Ok((event, payload))
            })
            .collect()
    }

    /// Checks `events` as [`publish_events`](Self::publish_events) would, publishing nothing:
    /// callers that publish in several calls check every input first with it.
    pub fn check(&self, events: &[RawEvent]) -> Result<(), ArticleError> {
        self.encode_checked(events).map(drop)
    }

    /// One pass over `events`: returns those not acknowledged, with why. The outstanding acks
    /// are awaited together, so lost acks time out together rather than one after another.
    async fn publish_once<'a>(
        &self,
        events: &[(usize, &'a RawEvent, bytes::Bytes)],
        results: &mut [Published],
    ) -> Vec<(&'a RawEvent, String)> {
        let mut failed = Vec::new();
        let mut pending = FuturesOrdered::new();
        for &(group, event, ref payload) in events {
            if pending.len() == ACK_WINDOW
                && let Some((group, e, ack)) = pending.next().await
            {
                settle_ack(e, ack, &mut results[group], &mut failed);
            }
            let mut publish = PublishMessage::build()
                .message_id(&event.event_id)
                .payload(payload.clone());
            let (_span, context) =
                trace::event_span("producer", &event.article_id, &event.event_id, None);
            if let Some(context) = context {
                publish = publish.header(trace::HEADER, context.header_value());
            }
            let subject = self.subjects.raw(event.article.source.as_deref());
            match self.js.send_publish(subject, publish).await {
                Ok(ack) => pending.push_back(async move { (group, event, ack.await) }),
                Err(e) => failed.push((event, e.to_string())),
            }
        }
        while let Some((group, e, ack)) = pending.next().await {
            settle_ack(e, ack, &mut results[group], &mut failed);
        }
        failed
    }
}

fn settle_ack<'a, E: std::fmt::Display>(
    event: &'a RawEvent,
    ack: Result<async_nats::jetstream::publish::PublishAck, E>,
    result: &mut Published,
    failed: &mut Vec<(&'a RawEvent, String)>,
) {
    match ack {
        Ok(ack) if ack.duplicate => result.duplicates += 1,
        Ok(_) => result.published += 1,
        Err(e) => failed.push((event, e.to_string())),
    }
}

/// Refuses an article with a sentence over the limit, before anything is published.
pub fn check_limits(events: &[RawEvent], max_sentence_bytes: usize) -> Result<(), ArticleError> {
    match events.iter().find(|e| e.text.len() > max_sentence_bytes) {
        Some(event) => Err(ArticleError::SentenceTooLong {
            index: event.sentence_index,
            size: event.text.len(),
            max: max_sentence_bytes,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newswire_shared::ArticleMeta;
    use time::macros::datetime;

    #[test]
    fn datelines_bylines_and_relative_dates_complete_the_events() {
        let body = "Seoul protests pact\nBy Kim Min-ji\nSEOUL, June 21 (Yonhap) -- South Korea summoned the Russian ambassador on Thursday. The envoy will meet officials on Monday.\n(c) 2024 Yonhap News Agency. All rights reserved.";
        let article = Article {
            meta: ArticleMeta::default(),
            body: body.to_owned(),
        };
        let events = sentence_events(&article, datetime!(2024-06-22 03:00 UTC)).expect("events");
        let texts: Vec<&str> = events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Seoul protests pact",
                "South Korea summoned the Russian ambassador on Thursday.",
                "The envoy will meet officials on Monday."
            ]
        );
        for (index, event) in events.iter().enumerate() {
            assert_eq!(&body[event.span.start..event.span.end], event.text);
            assert_eq!(event.sentence_index as usize, index);
            assert_eq!(event.sentence_count, 3);
            assert_eq!(event.article.source.as_deref(), Some("Yonhap"));
            assert_eq!(
                event.article.published_at.map(|t| t.date().to_string()),
                Some("2024-06-21".to_owned())
            );
            assert_eq!(event.article.language.as_deref(), Some("en"));
        }
        let dates: Vec<Option<String>> = events
            .iter()
            .map(|e| e.event_date.map(|d| d.to_string()))
            .collect();
        assert_eq!(
            dates,
            [
                None,
                Some("2024-06-20".to_owned()),
                Some("2024-06-24".to_owned())
            ]
        );
    }

    #[test]
    fn an_article_of_nothing_but_credits_has_no_sentences() {
        let article = Article {
            meta: ArticleMeta::default(),
            body: "By Jane Doe\nCopyright 2024 Example News. All rights reserved.".to_owned(),
        };
        assert!(matches!(
            sentence_events(&article, OffsetDateTime::UNIX_EPOCH),
            Err(ArticleError::NoSentences)
        ));
    }
}
