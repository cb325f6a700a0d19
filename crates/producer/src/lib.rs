//! newswire's producer: reads articles (files, stdin, HTTP, an inbox folder, RSS and Atom
//! feeds; plain text, Markdown, HTML or JSON), splits them into sentence events with
//! provenance and publishes them to the raw stream with JetStream acknowledgements awaited.

pub mod article;
pub mod dateline;
pub mod dates;
pub mod feeds;
pub mod html;
pub mod http;
pub mod inbox;
pub mod ingest;
pub mod lang;
pub mod markdown;
pub mod publish;
pub mod seen;
pub mod service;
pub mod split;

pub use article::read_limited;
pub use article::{Article, ArticleError, InputFormat, Limits, article_id, parse_input};
pub use ingest::{Ingestor, prepare_input};
pub use publish::{
    ProducerError, Published, Publisher, RetryPolicy, check_limits, sentence_events,
};
pub use service::{HttpConfig, ProducerConfig, run};
pub use split::split_sentences;
