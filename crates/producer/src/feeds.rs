//! RSS and Atom feeds, polled on an interval: new items only.
//!
//! A feed is a URL (`http://`, `https://`) or a local file (a path or `file://`). Each item is
//! published once: its key (feed and item id digests) is recorded in the `SEEN` bucket after
//! the stream has acknowledged its events, so restarts and replicas agree on what is new. HTTP
//! fetches have a timeout and are conditional (`If-None-Match` / `If-Modified-Since` from the
//! validators kept in the same bucket), so an unchanged feed costs a `304` and nothing more.
//! A feed fetched whole again is not looked up item by item: the poller remembers which
//! items its last poll of the feed found recorded.
//! An item with little text (a summary feed) is completed from its linked page when
//! `fetch_pages` is on.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use feed_rs::model::{Entry, Feed};
use newswire_shared::ArticleMeta;
use newswire_shared::shutdown::Shutdown;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::article::{InputFormat, normalise_language, parse_date};
use crate::ingest::Ingestor;
use crate::publish::ProducerError;
use crate::seen::{Seen, digest};

/// Items with less text than this are completed from their page, when allowed.
const SHORT_ITEM_BYTES: usize = 600;

/// Which feeds to poll and how.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub urls: Vec<String>,
    pub interval: Duration,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// Fetch the linked page of items that carry only a summary.
    pub fetch_pages: bool,
}

impl FeedConfig {
    pub fn new(urls: Vec<String>) -> Self {
        Self {
            urls,
            interval: Duration::from_secs(300),
            timeout: Duration::from_secs(20),
            fetch_pages: true,
        }
    }
}

/// HTTP validators of a feed's last full fetch.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
}

/// What one poll of a feed did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// The server answered 304 Not Modified.
    pub not_modified: bool,
    pub items: usize,
    pub published: usize,
    pub already_seen: usize,
    /// Of `already_seen`, the items this poller knew from its previous poll of the feed, not
    /// looked up in the `SEEN` bucket again.
    pub remembered: usize,
    pub rejected: usize,
    /// Items whose linked page could not be fetched for now (a timeout, a 5xx): neither
    /// published nor recorded, and tried again at the next poll.
    pub deferred: usize,
}

/// Polls in a row an item may be deferred because its linked page could not be fetched
/// (timeouts, 5xx, 429): after that it is published from its own text.
const PAGE_ATTEMPTS: u32 = 3;

/// Polls feeds until `shutdown`.
#[derive(Debug, Clone)]
pub struct FeedPoller {
    config: FeedConfig,
    ingestor: Ingestor,
    seen: Seen,
    http: reqwest::Client,
    /// Per feed (by key), the item keys its last full poll found recorded: a feed that keeps
    /// its items (a server without validators, a local file) is not asked about each of them
    /// again at every poll. Holds one poll's items per feed, so it stays as small as the feeds.
    known: Arc<Mutex<HashMap<String, HashSet<String>>>>,
    /// Per item (by key), the polls in a row whose fetch of its linked page failed for now.
    /// Holds only items deferred and not yet published.
    page_failures: Arc<Mutex<HashMap<String, u32>>>,
}

impl FeedPoller {
    pub fn new(config: FeedConfig, ingestor: Ingestor, seen: Seen) -> Result<Self, ProducerError> {
        let http = http_client(config.timeout)?;
        Ok(Self {
            config,
            ingestor,
            seen,
            http,
            known: Arc::default(),
            page_failures: Arc::default(),
        })
    }

    /// Polls every feed now, then every interval, each feed on its own schedule so a slow one
    /// does not hold the others back.
    pub async fn run(self, shutdown: Shutdown) {
        let mut tasks = tokio::task::JoinSet::new();
        for url in self.config.urls.clone() {
            let poller = self.clone();
            let stop = shutdown.clone();
            tasks.spawn(async move {
                info!(stage = "producer", input = "feed", feed = %url, interval_secs = poller.config.interval.as_secs(), "polling feed");
                let stop = stop.wait();
                tokio::pin!(stop);
                loop {
                    // A poll runs to its end: shutdown waits for the item being published.
                    match poller.poll(&url).await {
                        Ok(report) => debug!(feed = %url, ?report, "feed polled"),
                        Err(e) => warn!(stage = "producer", input = "feed", feed = %url, error = %e, "feed poll failed; trying again at the next interval"),
                    }
                    tokio::select! {
                        biased;
                        () = &mut stop => break,
                        () = tokio::time::sleep(poller.config.interval) => {}
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// One poll of one feed: fetch (conditionally), publish the items not seen before.
    pub async fn poll(&self, url: &str) -> Result<PollReport, ProducerError> {
        // A local feed is the same feed whether named by path or by file:// URL.
        let feed_key = digest(url.strip_prefix("file://").unwrap_or(url).as_bytes());
        let state_key = format!("feedstate.{feed_key}");
        let validators: Validators = self
            .seen
            .get(&state_key)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut report = PollReport::default();
        let Some((bytes, fresh)) = self.fetch_feed(url, &validators).await? else {
            report.not_modified = true;
            return Ok(report);
        };
        let feed = feed_rs::parser::parse(bytes.as_slice()).map_err(|e| ProducerError::Feed {
            url: url.to_owned(),
            reason: format!("not an RSS or Atom feed: {e}"),
        })?;
        let mut entries = feed.entries.iter().collect::<Vec<_>>();
        // Oldest first, so the stream's order follows publication.
        entries.sort_by_key(|e| e.published.or(e.updated));
        report.items = entries.len();
        // Items recorded by an earlier poll stay recorded: those this poller saw last time
        // need no lookup. Taken out for the poll; a poll that fails starts afresh next time.
        let known_before = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&feed_key)
            .unwrap_or_default();
        let mut known_now = HashSet::with_capacity(entries.len());
        for entry in entries {
            let key = format!("feed.{feed_key}.{}", digest(entry.id.as_bytes()));
            if known_before.contains(&key) {
                report.already_seen += 1;
                report.remembered += 1;
                known_now.insert(key);
                continue;
            }
            if self.seen.contains(&key).await? {
                report.already_seen += 1;
                known_now.insert(key);
                continue;
            }
            let failures = self.page_failures_of(&key);
            let note = match self
                .publish_entry(&feed, entry, failures < PAGE_ATTEMPTS)
                .await
            {
                Ok(Published::Note(note)) => {
                    report.published += 1;
                    note
                }
                Ok(Published::Deferred(reason)) => {
                    report.deferred += 1;
                    self.page_failures
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key, failures + 1);
                    warn!(stage = "producer", input = "feed", feed = %url, item = %entry.id, outcome = "deferred", attempt = failures + 1, reason = %reason, "feed item's page not fetched; trying again at the next poll");
                    continue;
                }
                Err(ProducerError::Input(e)) => {
                    report.rejected += 1;
                    warn!(stage = "producer", input = "feed", feed = %url, item = %entry.id, outcome = "rejected", reason = %e, "feed item rejected");
                    serde_json::json!({ "rejected": e.to_string() })
                }
                // The broker failed: keep the validators so the next poll tries again.
                Err(e) => return Err(e),
            };
            self.seen.put(&key, note.to_string()).await?;
            if failures > 0 {
                self.page_failures
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
            }
            known_now.insert(key);
        }
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(feed_key, known_now);
        // With an item deferred, the old validators stay: the next poll fetches the feed whole
        // again (not a 304) and so meets the item again.
        if let Some(fresh) = fresh.filter(|_| report.deferred == 0) {
            let value = serde_json::to_vec(&fresh).unwrap_or_default();
            self.seen.put(&state_key, value).await?;
        }
        info!(stage = "producer", input = "feed", feed = %url, items = report.items, published = report.published, seen = report.already_seen, rejected = report.rejected, deferred = report.deferred, "feed polled");
        Ok(report)
    }

    /// The feed's bytes and its new validators; `None` when unchanged since the last fetch.
    async fn fetch_feed(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<Option<(Vec<u8>, Option<Validators>)>, ProducerError> {
        let error = |reason: String| ProducerError::Feed {
            url: url.to_owned(),
            reason,
        };
        if !is_http(url) {
            let path = url.strip_prefix("file://").unwrap_or(url);
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| error(format!("cannot read: {e}")))?;
            return Ok(Some((bytes, None)));
        }
        let mut request = self.http.get(url);
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
        let response = request
            .send()
            .await
            .map_err(|e| error(format!("request failed: {e}")))?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(error(format!("server answered {}", response.status())));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let fresh = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let max = self.ingestor.limits().max_article_bytes.saturating_mul(16);
        let bytes = read_body(response, max)
            .await
            .map_err(|e| error(format!("cannot read the feed: {e}")))?;
        Ok(Some((bytes, Some(fresh))))
    }

    /// The polls in a row in which the item `key`'s page could not be fetched.
    fn page_failures_of(&self, key: &str) -> u32 {
        self.page_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Publishes one item; returns the note recorded for it. When its linked page cannot be
    /// fetched for now and `may_defer`, publishes nothing and says why.
    async fn publish_entry(
        &self,
        feed: &Feed,
        entry: &Entry,
        may_defer: bool,
    ) -> Result<Published, ProducerError> {
        let link = entry.links.first().map(|l| l.href.clone());
        let defaults = ArticleMeta {
            title: entry.title.as_ref().map(|t| t.content.trim().to_owned()),
            source: feed.title.as_ref().map(|t| t.content.trim().to_owned()),
            url: link.clone(),
            published_at: entry
                .published
                .or(entry.updated)
                .and_then(|d| parse_date(&d.to_rfc3339())),
            language: entry
                .language
                .as_deref()
                .or(feed.language.as_deref())
                .and_then(normalise_language),
        };
        let text = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        let format = if text.contains('<') {
            InputFormat::Html
        } else {
            InputFormat::Text
        };
        let page = match (&link, self.config.fetch_pages) {
            (Some(link), true) if readable_len(&text) < SHORT_ITEM_BYTES && is_http(link) => {
                match self.fetch_page(link).await {
                    Page::Fetched(page) => Some(page),
                    Page::Unavailable(reason) if may_defer => {
                        return Ok(Published::Deferred(reason));
                    }
                    Page::Unavailable(reason) | Page::Refused(reason) => {
                        debug!(page = %link, reason = %reason, "page not fetched; publishing the item's text");
                        None
                    }
                }
            }
            _ => None,
        };
        let from_page = match page {
            Some(page) => match self
                .ingestor
                .ingest(&page, InputFormat::Html, &defaults, "feed")
                .await
            {
                // A page we cannot read (no article text in it) leaves the item's own text.
                Err(ProducerError::Input(e)) => {
                    debug!(item = %entry.id, reason = %e, "linked page refused; publishing the item's text");
                    None
                }
                other => Some(other?),
            },
            None => None,
        };
        let receipts = match from_page {
            Some(receipts) => receipts,
            None => {
                self.ingestor
                    .ingest(text.as_bytes(), format, &defaults, "feed")
                    .await?
            }
        };
        for r in &receipts {
            info!(stage = "producer", input = "feed", item = %entry.id, article_id = %r.article_id, events = r.published + r.duplicates, duplicates = r.duplicates, outcome = "published", "feed item published");
        }
        Ok(Published::Note(serde_json::json!({
            "article_ids": receipts.iter().map(|r| r.article_id.as_str()).collect::<Vec<_>>(),
        })))
    }

    /// The linked page of an item.
    async fn fetch_page(&self, link: &str) -> Page {
        let response = match self.http.get(link).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                let status = r.status();
                let reason = format!("the page answered {status}");
                return if status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                {
                    Page::Unavailable(reason)
                } else {
                    Page::Refused(reason)
                };
            }
            Err(e) => return Page::Unavailable(format!("the page could not be fetched: {e}")),
        };
        match read_body(response, self.ingestor.limits().max_article_bytes).await {
            Ok(page) => Page::Fetched(page),
            Err(BodyError::TooLarge(reason)) => Page::Refused(reason),
            Err(BodyError::Read(reason)) => Page::Unavailable(reason),
        }
    }
}

/// What publishing a feed item came to.
enum Published {
    /// Published; the note recorded for it.
    Note(serde_json::Value),
    /// Not published, for this reason: its linked page could not be fetched for now.
    Deferred(String),
}

/// What fetching an item's linked page came to.
enum Page {
    Fetched(Vec<u8>),
    /// Not now (a timeout, a broken connection, a 5xx, 429): worth another try.
    Unavailable(String),
    /// Never (a 404, a page over the size limit): the item's own text is used.
    Refused(String),
}

/// The HTTP client of feeds and pages (and of `newswire bench`, reading the stages' metrics):
/// rustls with the ring provider (the one the NATS client uses), a request timeout, and a user
/// agent naming us.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, ProducerError> {
    // Installing the process-wide provider fails harmlessly when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("newswire/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProducerError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Reads a response body up to `max` bytes; a longer body is an error, not a truncation.
/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Read(String),
}

async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.to_string()))?
    {
        if bytes.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(format!("body larger than {max} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Length of an item's text without its markup.
fn readable_len(text: &str) -> usize {
    let mut inside_tag = false;
    text.chars()
        .filter(|&c| {
            match c {
                '<' => inside_tag = true,
                '>' => {
                    inside_tag = false;
                    return false;
                }
                _ => {}
            }
            !inside_tag
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_items_are_measured_without_markup() {
        assert_eq!(readable_len("<p>Seoul <b>protested</b>.</p>"), 16);
        assert_eq!(readable_len("plain"), 5);
        assert!(is_http("HTTPS://example.org/feed"));
        assert!(!is_http("/var/feeds/yonhap.xml"));
        assert!(!is_http("file:///var/feeds/yonhap.xml"));
    }
}
