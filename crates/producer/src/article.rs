//! Articles as they arrive: parsing, validation and the content-hash article id.

use newswire_shared::ArticleMeta;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc2822, Rfc3339};

use crate::html::{Extracted, extract_html};
use crate::markdown::extract_markdown;

/// An article to publish: metadata and its body text.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub meta: ArticleMeta,
    pub body: String,
}

/// How to read an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSON when the input starts with `{`, HTML when it starts with an HTML tag, plain text
    /// otherwise.
    #[default]
    Auto,
    /// The whole input is the article body.
    Text,
    /// One JSON article object, or JSON lines of many.
    Json,
    /// A web page: the readable text is extracted, title, date, outlet, URL and language are
    /// taken from its metadata.
    Html,
    /// Markdown, with optional front matter (title, date, source, url, lang).
    Markdown,
}

impl InputFormat {
    /// The format a file name's extension declares; `Auto` for unknown extensions.
    pub fn from_path(path: &std::path::Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json" | "jsonl" | "ndjson") => Self::Json,
            Some("html" | "htm" | "xhtml") => Self::Html,
            Some("md" | "markdown" | "mdown") => Self::Markdown,
            Some("txt" | "text") => Self::Text,
            _ => Self::Auto,
        }
    }

    /// The format of an HTTP `Content-Type`; `None` for media types that are not articles.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "application/x-ndjson" | "application/jsonl" => Some(Self::Json),
            "text/plain" => Some(Self::Text),
            "text/html" | "application/xhtml+xml" => Some(Self::Html),
            "text/markdown" | "text/x-markdown" => Some(Self::Markdown),
            _ => None,
        }
    }

    /// The format of an input read as `Auto`.
    fn detect(text: &str) -> Self {
        let start = text.trim_start();
        if start.starts_with('{') {
            return Self::Json;
        }
        if start.starts_with('<') {
            let head: String = start
                .chars()
                .take(2048)
                .collect::<String>()
                .to_ascii_lowercase();
            if [
                "<!doctype html",
                "<html",
                "<head",
                "<body",
                "<article",
                "<p>",
                "<p ",
                "<div",
            ]
            .iter()
            .any(|tag| head.contains(tag))
            {
                return Self::Html;
            }
        }
        Self::Text
    }
}

/// Limits on input, checked before anything is published.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted input in bytes.
    pub max_article_bytes: usize,
    /// Longest accepted sentence in bytes (text without sentence punctuation, such as a table,
    /// would otherwise become one huge event).
    pub max_sentence_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_article_bytes: 1024 * 1024,
            max_sentence_bytes: 4096,
        }
    }
}

/// Why an input was refused. Nothing of a refused input is published.
#[derive(Debug, thiserror::Error)]
pub enum ArticleError {
    #[error("input is empty")]
    Empty,
    #[error("input is {size} bytes, more than the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("input looks binary ({0}); expected UTF-8 text or JSON")]
    Binary(&'static str),
    #[error("invalid JSON article at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("article {index} has an empty body")]
    EmptyBody { index: usize },
    #[error("article {index}: published_at {value:?} is neither RFC 3339 nor YYYY-MM-DD")]
    Date { index: usize, value: String },
    #[error("the {0} input has no readable text")]
    NoReadableText(&'static str),
    #[error("article has no sentence to publish")]
    NoSentences,
    #[error("sentence {index} is {size} bytes, more than the limit of {max} bytes")]
    SentenceTooLong { index: u32, size: usize, max: usize },
    #[error(
        "the event of sentence {index} would be {size} bytes, more than the server's max payload of {max} bytes"
    )]
    MessageTooLarge { index: u32, size: usize, max: usize },
}

/// The JSON article format accepted on input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonArticle {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default, alias = "lang")]
    language: Option<String>,
    #[serde(alias = "text")]
    body: String,
}

/// Parses one input (a file, stdin, a request body) into articles, refusing it whole
/// when any part is invalid.
pub fn parse_input(
    bytes: &[u8],
    format: InputFormat,
    limits: &Limits,
) -> Result<Vec<Article>, ArticleError> {
    if bytes.len() > limits.max_article_bytes {
        return Err(ArticleError::TooLarge {
            size: bytes.len(),
            max: limits.max_article_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(ArticleError::Binary("it contains NUL bytes"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ArticleError::Binary("it is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ArticleError::Empty);
    }
    let format = match format {
        InputFormat::Auto => InputFormat::detect(text),
        other => other,
    };
    match format {
        InputFormat::Json => parse_json(text),
        InputFormat::Html => from_extracted(extract_html(text), "HTML"),
        InputFormat::Markdown => from_extracted(extract_markdown(text), "Markdown"),
        InputFormat::Text | InputFormat::Auto => Ok(vec![Article {
            meta: ArticleMeta::default(),
            body: text.to_owned(),
        }]),
    }
}

/// An article from a formatted document. A date the metadata gives in a form we cannot read
/// is dropped rather than refusing the article: the page's text is what matters.
fn from_extracted(extracted: Extracted, kind: &'static str) -> Result<Vec<Article>, ArticleError> {
    if extracted.body.trim().is_empty() {
        return Err(ArticleError::NoReadableText(kind));
    }
    Ok(vec![Article {
        meta: ArticleMeta {
            title: extracted.title,
            source: extracted.source,
            url: extracted.url,
            published_at: extracted.published_at.as_deref().and_then(parse_date),
            language: extracted.language,
        },
        body: extracted.body,
    }])
}

fn parse_json(text: &str) -> Result<Vec<Article>, ArticleError> {
    let mut articles = Vec::new();
    for (index, item) in serde_json::Deserializer::from_str(text)
        .into_iter::<JsonArticle>()
        .enumerate()
    {
        let item = item.map_err(|e| ArticleError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if item.body.trim().is_empty() {
            return Err(ArticleError::EmptyBody { index });
        }
        let published_at = item
            .published_at
            .as_deref()
            .map(|value| {
                parse_date(value).ok_or_else(|| ArticleError::Date {
                    index,
                    value: value.to_owned(),
                })
            })
            .transpose()?;
        articles.push(Article {
            meta: ArticleMeta {
                title: item.title,
                source: item.source,
                url: item.url,
                published_at,
                language: item.language.as_deref().and_then(normalise_language),
            },
            body: item.body,
        });
    }
    if articles.is_empty() {
        return Err(ArticleError::Empty);
    }
    Ok(articles)
}

/// Reads at most `max + 1` bytes: enough for the size check to refuse an oversized input
/// without reading all of it. Every way in (files, stdin, the inbox) reads through it.
pub fn read_limited(reader: impl std::io::Read, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads the dates articles and feeds carry: RFC 3339, RFC 2822 (RSS), other ISO 8601 forms,
/// a date and time without offset (taken as UTC) or a bare `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(t);
    }
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc2822) {
        return Some(t);
    }
    if let Ok(t) = OffsetDateTime::parse(value, &Iso8601::DEFAULT) {
        return Some(t);
    }
    let naive = value.replacen(' ', "T", 1);
    if let Ok(t) = time::PrimitiveDateTime::parse(&naive, &Iso8601::DEFAULT) {
        return Some(t.assume_utc());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// A declared language tag reduced to its lower-case primary subtag (`en-US`, `EN_gb` and
/// `en, fr` are `en`); `None` for an empty or malformed tag, so the language is detected instead.
pub fn normalise_language(declared: &str) -> Option<String> {
    let first = declared.split([',', ';']).next()?.trim();
    let primary = first.split(['-', '_']).next()?.trim();
    let valid =
        (2..=8).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    valid.then(|| primary.to_ascii_lowercase())
}

/// The article id: the first 128 bits of SHA-256 over the body with white space runs
/// collapsed and the ends trimmed, as 32 hex digits. Re-publishing the same text, however
/// re-wrapped, gives the same id.
pub fn article_id(body: &str) -> String {
    let mut hasher = Sha256::new();
    let mut first = true;
    for word in body.split_whitespace() {
        if !first {
            hasher.update(b" ");
        }
        hasher.update(word.as_bytes());
        first = false;
    }
    let digest = hasher.finalize();
    newswire_shared::hex::lower_hex(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_binary_and_oversized_input() {
        let limits = Limits {
            max_article_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            parse_input(b"  \n", InputFormat::Auto, &limits),
            Err(ArticleError::Empty)
        ));
        assert!(matches!(
            parse_input(b"ab\0cd", InputFormat::Auto, &limits),
            Err(ArticleError::Binary(_))
        ));
        assert!(matches!(
            parse_input(b"\xff\xfe", InputFormat::Auto, &limits),
            Err(ArticleError::Binary(_))
        ));
        assert!(matches!(
            parse_input(b"0123456789ab", InputFormat::Auto, &limits),
            Err(ArticleError::TooLarge { size: 12, max: 10 })
        ));
    }

    #[test]
    fn reads_json_articles_and_json_lines() {
        let input = br#"{"title":"T","source":"yonhap","published_at":"2024-06-21","body":"Seoul protested."}
{"body":"Moscow warned.","published_at":"2024-06-21T08:00:00+09:00"}"#;
        let articles = parse_input(input, InputFormat::Auto, &Limits::default()).expect("valid");
        assert_eq!(articles.len(), 2);
        assert_eq!(articles[0].meta.source.as_deref(), Some("yonhap"));
        assert_eq!(
            articles[0].meta.published_at.map(|t| t.date().to_string()),
            Some("2024-06-21".to_owned())
        );
        assert_eq!(articles[1].body, "Moscow warned.");
    }

    #[test]
    fn one_bad_json_line_refuses_the_whole_input() {
        let input = b"{\"body\":\"ok.\"}\n{\"body\": 3}\n";
        assert!(matches!(
            parse_input(input, InputFormat::Auto, &Limits::default()),
            Err(ArticleError::Json { line: 2, .. })
        ));
        let unknown = b"{\"body\":\"ok.\",\"bdy\":\"typo\"}";
        assert!(parse_input(unknown, InputFormat::Json, &Limits::default()).is_err());
        let bad_date = b"{\"body\":\"ok.\",\"published_at\":\"yesterday\"}";
        assert!(matches!(
            parse_input(bad_date, InputFormat::Json, &Limits::default()),
            Err(ArticleError::Date { .. })
        ));
    }

    #[test]
    fn article_id_ignores_wrapping() {
        let a = article_id("Seoul protested.\nMoscow  warned.");
        assert_eq!(a, article_id("  Seoul protested. Moscow warned.\n"));
        assert_ne!(a, article_id("Seoul protested."));
        assert_eq!(a.len(), 32);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::publish::sentence_events;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(articles) = parse_input(&bytes, InputFormat::Auto, &Limits::default()) {
                prop_assert!(articles.iter().all(|a| !a.body.trim().is_empty()));
            }
        }

        #[test]
        fn events_carry_their_exact_text(body in "\\PC{1,400}") {
            let article = Article { meta: ArticleMeta::default(), body };
            if let Ok(events) = sentence_events(&article, OffsetDateTime::UNIX_EPOCH) {
                for e in &events {
                    prop_assert_eq!(&article.body[e.span.start..e.span.end], e.text.as_str());
                    prop_assert!(e.validate().is_ok());
                }
            }
        }
    }
}
