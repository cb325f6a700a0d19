//! The one path every input takes, whatever brought it (command line, HTTP, inbox, feed):
//! parse, fill in metadata, split, check limits, publish.

use newswire_shared::{ArticleMeta, RawEvent};
use time::OffsetDateTime;

use crate::article::{Article, ArticleError, InputFormat, Limits, parse_input};
use crate::publish::{ProducerError, Published, Publisher, check_limits, sentence_events};

/// Parses one input and turns each of its articles into sentence events, filling metadata the
/// article lacks from `defaults`. Pure: the first refusal refuses the whole input, and nothing
/// is published.
pub fn prepare_input(
    bytes: &[u8],
    format: InputFormat,
    limits: &Limits,
    defaults: &ArticleMeta,
    now: OffsetDateTime,
) -> Result<Vec<Vec<RawEvent>>, ArticleError> {
    let articles = parse_input(bytes, format, limits)?;
    articles
        .into_iter()
        .map(|mut article| {
            fill_meta(&mut article, defaults);
            let events = sentence_events(&article, now)?;
            check_limits(&events, limits.max_sentence_bytes)?;
            Ok(events)
        })
        .collect()
}

/// Gives `article` whatever metadata it lacks and `defaults` has.
pub fn fill_meta(article: &mut Article, defaults: &ArticleMeta) {
    let meta = &mut article.meta;
    if meta.source.is_none() {
        meta.source.clone_from(&defaults.source);
    }
    if meta.title.is_none() {
        meta.title.clone_from(&defaults.title);
    }
    if meta.url.is_none() {
        meta.url.clone_from(&defaults.url);
    }
    if meta.published_at.is_none() {
        meta.published_at = defaults.published_at;
    }
    if meta.language.is_none() {
        meta.language.clone_from(&defaults.language);
    }
}

/// Prepares and publishes inputs.
#[derive(Debug, Clone)]
pub struct Ingestor {
    publisher: Publisher,
    limits: Limits,
}

impl Ingestor {
    pub fn new(publisher: Publisher, limits: Limits) -> Self {
        Self {
            publisher: publisher.with_limits(&limits),
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Prepares the whole input first (a refused input publishes nothing), then publishes its
    /// articles through one window of publish acks; returns what the stream did with each, in
    /// input order. `input` names the way in (`http`,
    /// `inbox`, `feed`) in the metrics `newswire_articles_total{input,outcome}` and
    /// `newswire_events_published_total{stage="producer"}`.
    pub async fn ingest(
        &self,
        bytes: &[u8],
        format: InputFormat,
        defaults: &ArticleMeta,
        input: &'static str,
    ) -> Result<Vec<Published>, ProducerError> {
        let result = self.ingest_all(bytes, format, defaults).await;
        let (outcome, articles) = match &result {
            Ok(receipts) => ("published", receipts.len()),
            Err(ProducerError::Input(_)) => ("rejected", 1),
            Err(_) => ("failed", 1),
        };
        metrics::counter!("newswire_articles_total", "input" => input, "outcome" => outcome)
            .increment(articles as u64);
        if let Ok(receipts) = &result {
            let events: usize = receipts.iter().map(|r| r.published).sum();
            metrics::counter!("newswire_events_published_total", "stage" => "producer")
                .increment(events as u64);
        }
        result
    }

    async fn ingest_all(
        &self,
        bytes: &[u8],
        format: InputFormat,
        defaults: &ArticleMeta,
    ) -> Result<Vec<Published>, ProducerError> {
        // Parsing (HTML, Markdown), splitting and language detection are CPU work: on the
        // blocking pool, so a large page does not hold up the async workers.
        let (input, limits, defaults) = (bytes.to_vec(), self.limits, defaults.clone());
        let articles = tokio::task::spawn_blocking(move || {
            prepare_input(
                &input,
                format,
                &limits,
                &defaults,
                OffsetDateTime::now_utc(),
            )
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        self.publisher.publish_articles(&articles).await
    }
}
