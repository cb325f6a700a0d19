//! Stream, subject and consumer names, all derived from one configurable prefix.
//!
//! With the default prefix `news`:
//!
//! | stream        | subjects                              | written by          |
//! |---------------|---------------------------------------|---------------------|
//! | `NEWS_RAW`    | `news.raw.<source>`                   | producer            |
//! | `NEWS_TAGGED` | `news.tagged.<category>.<actor>`      | classifier          |
//! | `NEWS_DLQ`    | `news.dlq.<stage>`                    | classifier, sink    |
//!
//! and the key-value bucket `NEWS_SEEN` (stream `KV_NEWS_SEEN`), where producers record the
//! inbox files and feed items they have published.

/// The names of everything a deployment shares on NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
    stream_base: String,
}

/// The error for a prefix that cannot be used as a subject prefix.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid subject prefix {0:?}: use one or more dot-separated tokens of letters, digits, '-' or '_'"
)]
pub struct InvalidPrefix(pub String);

impl Subjects {
    pub const DEFAULT_PREFIX: &'static str = "news";

    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let valid = !prefix.is_empty()
            && prefix.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(InvalidPrefix(prefix.to_owned()));
        }
        let stream_base = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Self {
            prefix: prefix.to_owned(),
            stream_base,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key-value bucket of inputs producers have already published.
    pub fn seen_bucket(&self) -> String {
        format!("{}_SEEN", self.stream_base)
    }

    /// The stream holding the [`seen_bucket`](Self::seen_bucket).
    pub fn seen_stream(&self) -> String {
        format!("KV_{}", self.seen_bucket())
    }

    pub fn raw_stream(&self) -> String {
        format!("{}_RAW", self.stream_base)
    }

    pub fn tagged_stream(&self) -> String {
        format!("{}_TAGGED", self.stream_base)
    }

    pub fn dlq_stream(&self) -> String {
        format!("{}_DLQ", self.stream_base)
    }

    /// Every stream a deployment under this prefix holds: raw, tagged, dead letters, and the
    /// producers' seen bucket.
    pub fn streams(&self) -> [String; 4] {
        [
            self.raw_stream(),
            self.tagged_stream(),
            self.dlq_stream(),
            self.seen_stream(),
        ]
    }

    /// Subject of a raw event from `source` (an outlet name; anything is made a valid token).
    pub fn raw(&self, source: Option<&str>) -> String {
        self.subject("raw", &[source.unwrap_or("unknown")])
    }

    pub fn raw_all(&self) -> String {
        format!("{}.raw.>", self.prefix)
    }

    /// Subject of a tagged event: `<prefix>.tagged.<category>.<actor>`.
    pub fn tagged(&self, category: &str, actor: &str) -> String {
        self.subject("tagged", &[category, actor])
    }

    /// `<prefix>.<kind>.<token>...`, each text made a token, built in one string: the
    /// producer and the classifier make one per event.
    fn subject(&self, kind: &str, texts: &[&str]) -> String {
        let len = texts.iter().map(|t| t.len() + 1).sum::<usize>();
        let mut subject = String::with_capacity(self.prefix.len() + kind.len() + 1 + len);
        subject.push_str(&self.prefix);
        subject.push('.');
        subject.push_str(kind);
        for text in texts {
            subject.push('.');
            push_token(&mut subject, text);
        }
        subject
    }

    /// Filter for tagged events; `None` means any (`*`).
    pub fn tagged_filter(&self, category: Option<&str>, actor: Option<&str>) -> String {
        format!(
            "{}.tagged.{}.{}",
            self.prefix,
            category.map_or_else(|| "*".to_owned(), token),
            actor.map_or_else(|| "*".to_owned(), token),
        )
    }

    pub fn tagged_all(&self) -> String {
        format!("{}.tagged.>", self.prefix)
    }

    pub fn dlq(&self, stage: &str) -> String {
        self.subject("dlq", &[stage])
    }

    pub fn dlq_all(&self) -> String {
        format!("{}.dlq.>", self.prefix)
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self::new(Self::DEFAULT_PREFIX).unwrap_or_else(|e| unreachable!("{e}"))
    }
}

/// Makes any text a single subject token: characters outside `[A-Za-z0-9_-]` become `_`.
pub fn token(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_token(&mut out, text);
    out
}

/// [`token`], appended to `out`.
fn push_token(out: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        out.push_str("unknown");
        return;
    }
    out.extend(text.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let s = Subjects::new("news").expect("valid");
        assert_eq!(s.raw_stream(), "NEWS_RAW");
        assert_eq!(s.tagged_stream(), "NEWS_TAGGED");
        assert_eq!(s.dlq_stream(), "NEWS_DLQ");
        assert_eq!(s.raw(Some("Yonhap News")), "news.raw.Yonhap_News");
        assert_eq!(s.raw(None), "news.raw.unknown");
        assert_eq!(s.tagged("threaten", "PRK"), "news.tagged.threaten.PRK");
        assert_eq!(s.tagged(" a.b ", " "), "news.tagged.a_b.unknown");
        assert_eq!(s.tagged_filter(None, Some("PRK")), "news.tagged.*.PRK");
        assert_eq!(s.dlq("classifier"), "news.dlq.classifier");
        let t = Subjects::new("t-1.x").expect("valid");
        assert_eq!(t.raw_stream(), "T_1_X_RAW");
    }

    #[test]
    fn bad_prefixes_and_tokens() {
        for bad in ["", "a..b", "a.>", "a b", "*"] {
            assert!(Subjects::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(token(" a.b*>c "), "a_b__c");
        assert_eq!(token(""), "unknown");
    }
}
