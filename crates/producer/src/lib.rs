//! newswire's producer: reads articles, splits them into sentence events with provenance and
//! publishes them to the raw stream with JetStream acknowledgements awaited.

pub mod article;
pub mod publish;
pub mod split;

pub use article::{Article, ArticleError, InputFormat, Limits, article_id, parse_input};
pub use publish::{
    ProducerError, Published, Publisher, RetryPolicy, check_limits, sentence_events,
};
pub use split::split_sentences;
