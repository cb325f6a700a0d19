//! `newswire publish`: read and check every input first, then publish; a refused input
//! publishes nothing.

use std::io::Read;
use std::path::Path;

use anyhow::Result;
use newswire_producer::{
    Article, InputFormat, Limits, ProducerError, Published, Publisher, check_limits, parse_input,
    sentence_events,
};
use newswire_shared::RawEvent;
use newswire_shared::nats::NatsArgs;
use time::OffsetDateTime;
use tracing::info;

use crate::cli::{InputFormatArg, PublishArgs};
use crate::errors::{DataError, Unavailable, UsageError};

/// Metadata given on the command line, applied to articles that lack it.
#[derive(Debug, Default)]
pub struct Defaults {
    pub source: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<OffsetDateTime>,
}

pub async fn run(args: PublishArgs) -> Result<()> {
    args.nats
        .subjects()
        .map_err(|e| UsageError(e.to_string()))?;
    let published_at = args
        .published_at
        .as_deref()
        .map(|v| {
            newswire_producer::article::parse_date(v).ok_or_else(|| {
                UsageError(format!(
                    "--published-at {v:?} is neither RFC 3339 nor YYYY-MM-DD"
                ))
            })
        })
        .transpose()?;
    let defaults = Defaults {
        source: args.source,
        title: args.title,
        url: args.url,
        published_at,
    };
    let format = match args.format {
        InputFormatArg::Auto => InputFormat::Auto,
        InputFormatArg::Text => InputFormat::Text,
        InputFormatArg::Json => InputFormat::Json,
    };
    let limits = Limits {
        max_article_bytes: args.max_article_bytes,
        max_sentence_bytes: args.max_sentence_bytes,
    };
    let articles = prepare(&args.inputs, format, &limits, &defaults)?;
    let totals = publish_all(&args.nats, &articles, &limits).await?;
    println!(
        "published {} events from {} articles ({} duplicates skipped)",
        totals.published,
        articles.len(),
        totals.duplicates
    );
    Ok(())
}

/// Reads, parses and splits every input; the first refusal aborts before anything is published.
pub fn prepare(
    inputs: &[impl AsRef<Path>],
    format: InputFormat,
    limits: &Limits,
    defaults: &Defaults,
) -> Result<Vec<Vec<RawEvent>>> {
    let now = OffsetDateTime::now_utc();
    let mut prepared = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        let name = input.display().to_string();
        let bytes = if name == "-" {
            let mut buffer = Vec::new();
            std::io::stdin()
                .take(limits.max_article_bytes as u64 + 1)
                .read_to_end(&mut buffer)
                .map_err(|e| DataError(format!("cannot read standard input: {e}")))?;
            buffer
        } else {
            std::fs::read(input).map_err(|e| DataError(format!("cannot read {name}: {e}")))?
        };
        let articles = parse_input(&bytes, format, limits)
            .map_err(|e| DataError(format!("refused {name}: {e}")))?;
        for mut article in articles {
            apply_defaults(&mut article, defaults);
            let events = sentence_events(&article, now)
                .and_then(|events| {
                    check_limits(&events, limits.max_sentence_bytes).map(|()| events)
                })
                .map_err(|e| DataError(format!("refused {name}: {e}")))?;
            prepared.push(events);
        }
    }
    Ok(prepared)
}

fn apply_defaults(article: &mut Article, defaults: &Defaults) {
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
}

/// Publishes prepared articles, summing what the stream stored and dropped as duplicates.
pub async fn publish_all(
    nats: &NatsArgs,
    articles: &[Vec<RawEvent>],
    limits: &Limits,
) -> Result<Published> {
    nats.subjects().map_err(|e| UsageError(e.to_string()))?;
    let publisher = Publisher::connect(nats)
        .await
        .map_err(|e| match e {
            ProducerError::Nats(newswire_shared::nats::NatsError::Connect { .. }) => {
                anyhow::Error::new(Unavailable(e.to_string()))
            }
            e => anyhow::Error::new(e),
        })?
        .with_limits(limits);
    // One pipelined stream of publishes over every article: acks are not awaited per article.
    let all: Vec<RawEvent> = articles.iter().flatten().cloned().collect();
    let totals = publisher.publish_events(&all).await.map_err(|e| match e {
        ProducerError::Input(e) => anyhow::Error::new(DataError(e.to_string())),
        e => anyhow::Error::new(e),
    })?;
    info!(
        articles = articles.len(),
        published = totals.published,
        duplicates = totals.duplicates,
        "articles published"
    );
    Ok(totals)
}
