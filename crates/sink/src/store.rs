//! The storage contract: idempotent batch writes keyed by event id, and queries.

use newswire_shared::TaggedEvent;
use time::OffsetDateTime;

/// What a batch write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreReport {
    /// Events written for the first time.
    pub stored: usize,
    /// Events the store already had (same event id): nothing written.
    pub duplicates: usize,
}

/// A store failure, with whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is busy, locked, full or unreachable: retry later, the event is fine.
    #[error("store temporarily unavailable: {0}")]
    Transient(String),
    /// The store refuses this data: retrying cannot help.
    #[error("store rejected the data: {0}")]
    Permanent(String),
    #[error("invalid store URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("invalid query: {0}")]
    Query(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Which stored events a query returns. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Actor code or code prefix: `PRK` matches PRK, PRKGOV, PRKMIL; `RUSGOV` matches RUSGOV.
    pub actor: Option<String>,
    /// Country of any actor (ISO alpha-3 or an IGO code).
    pub country: Option<String>,
    /// Category token (`threaten`, `none`), CAMEO root (`13`) or CAMEO code (`138`).
    pub category: Option<String>,
    pub article_id: Option<String>,
    /// Event time (article publication, else ingest time) at or after this.
    pub since: Option<OffsetDateTime>,
    /// Event time before this.
    pub until: Option<OffsetDateTime>,
    /// At most this many: the latest (by event time) of those matching.
    pub limit: Option<usize>,
}

impl Filter {
    /// Checks the codes are plain tokens, upper-casing actor and country codes.
    pub fn normalised(mut self) -> Result<Self, StoreError> {
        let token = |name: &str, v: &mut Option<String>, upper: bool| {
            if let Some(value) = v {
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(StoreError::Query(format!(
                        "{name} {value:?} must be letters, digits, '_' or '-'"
                    )));
                }
                if upper {
                    *value = value.to_ascii_uppercase();
                }
            }
            Ok(())
        };
        token("actor", &mut self.actor, true)?;
        token("country", &mut self.country, true)?;
        token("category", &mut self.category, false)?;
        token("article", &mut self.article_id, false)?;
        Ok(self)
    }
}

/// Milliseconds since the Unix epoch, as both stores keep times.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Offsets and counts as SQL integers (they are far below `i64::MAX`).
pub(crate) fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A value bound to a filter query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlValue {
    Text(String),
    Integer(i64),
}

/// SQLite's condition for one article's events, `{}` standing for the article id. SQLite has
/// no index by article: an event id is the article id, '-' and the sentence index, so the
/// article's events are the ids from "ID-" up to "ID." ('.' follows '-'; hex digits sort after
/// both), a range of the primary key's index under SQLite's binary collation.
pub(crate) const SQLITE_ARTICLE: &str =
    " AND e.event_id >= {} || '-' AND e.event_id < {} || '.' AND e.article_id = {}";

/// What differs between the stores' SQL in the filter query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?1` placeholders, prefix match with `substr`.
    Sqlite,
    /// `$1::text` placeholders, prefix match with `starts_with`.
    Postgres,
}

impl Filter {
    /// The query selecting the stored payloads this filter matches (with a limit, the latest
    /// ones), in event time, article and sentence order: fixed fragments with numbered
    /// placeholders, never a value in the text, and the values to bind in order. Call it on a
    /// [`normalised`](Self::normalised) filter.
    pub(crate) fn to_sql(&self, dialect: Dialect) -> (String, Vec<SqlValue>) {
        // The conditions; what is selected and in which order is put around them at the end.
        let mut sql = String::from(" FROM events e WHERE 1 = 1");
        let mut values: Vec<SqlValue> = Vec::new();
        // `{}` in a fragment stands for the value just added, as often as it appears.
        let mut bind = |sql: &mut String, fragment: &str, value: SqlValue| {
            let placeholder = match (dialect, &value) {
                (Dialect::Sqlite, _) => format!("?{}", values.len() + 1),
                (Dialect::Postgres, SqlValue::Text(_)) => format!("${}::text", values.len() + 1),
                (Dialect::Postgres, SqlValue::Integer(_)) => format!("${}::int8", values.len() + 1),
            };
            values.push(value);
            sql.push_str(&fragment.replace("{}", &placeholder));
        };
        // SQLite's actor and category rows point at their event's rowid, PostgreSQL's at its id.
        let (actors_of, categories_of) = match dialect {
            Dialect::Sqlite => (
                "SELECT 1 FROM event_actors a WHERE a.event_row = e.rowid",
                "SELECT 1 FROM event_categories c WHERE c.event_row = e.rowid",
            ),
            Dialect::Postgres => (
                "SELECT 1 FROM event_actors a WHERE a.event_id = e.event_id",
                "SELECT 1 FROM event_categories c WHERE c.event_id = e.event_id",
            ),
        };
        if let Some(actor) = &self.actor {
            let prefix = match dialect {
                Dialect::Sqlite => "substr(a.code, 1, length({})) = {}",
                Dialect::Postgres => "starts_with(a.code, {})",
            };
            bind(
                &mut sql,
                &format!(" AND EXISTS ({actors_of} AND {prefix})"),
                SqlValue::Text(actor.clone()),
            );
        }
        if let Some(country) = &self.country {
            bind(
                &mut sql,
                &format!(" AND EXISTS ({actors_of} AND a.country = {{}})"),
                SqlValue::Text(country.clone()),
            );
        }
        if let Some(category) = &self.category {
            let fragment = if category == newswire_shared::CATEGORY_NONE {
                " AND e.category = {}".to_owned()
            } else {
                format!(" AND EXISTS ({categories_of} AND {{}} IN (c.category, c.root, c.code))")
            };
            bind(&mut sql, &fragment, SqlValue::Text(category.clone()));
        }
        if let Some(article) = &self.article_id {
            let fragment = match dialect {
                Dialect::Sqlite => SQLITE_ARTICLE,
                // PostgreSQL's text collation may ignore punctuation, so it keeps its index
                // by article.
                Dialect::Postgres => " AND e.article_id = {}",
            };
            bind(&mut sql, fragment, SqlValue::Text(article.clone()));
        }
        if let Some(since) = self.since {
            bind(
                &mut sql,
                " AND e.event_time >= {}",
                SqlValue::Integer(since.unix_timestamp()),
            );
        }
        if let Some(until) = self.until {
            bind(
                &mut sql,
                " AND e.event_time < {}",
                SqlValue::Integer(until.unix_timestamp()),
            );
        }
        let Some(limit) = self.limit else {
            let sql = format!(
                "SELECT e.payload{sql} ORDER BY e.event_time, e.article_id, e.sentence_index"
            );
            return (sql, values);
        };
        // The latest `limit` (walking the time index backwards), then in order.
        sql.push_str(" ORDER BY e.event_time DESC, e.article_id DESC, e.sentence_index DESC");
        bind(
            &mut sql,
            " LIMIT {}",
            SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
        );
        let sql = format!(
            "SELECT payload FROM (SELECT e.payload, e.event_time, e.article_id, e.sentence_index{sql}) \
             AS latest ORDER BY event_time, article_id, sentence_index"
        );
        (sql, values)
    }
}

/// A tagged event with its JSON encoding, which is stored as the event's payload. The sink
/// stores the bytes the classifier published, so an event is decoded once and never
/// re-encoded on its way in (and fields a newer classifier adds survive an older sink).
#[derive(Debug, Clone)]
pub struct Encoded {
    pub event: TaggedEvent,
    pub payload: String,
}

impl Encoded {
    /// Encodes an event.
    pub fn new(event: TaggedEvent) -> Self {
        let payload = String::from_utf8(event.encode()).unwrap_or_default();
        Self { event, payload }
    }

    /// Decodes a received message, keeping its bytes as the payload.
    pub fn decode(payload: &[u8]) -> Result<Self, newswire_shared::DecodeError> {
        // JSON is UTF-8, but a decoder of bytes does not look inside fields it skips: the
        // payload is checked whole, so what is stored is exactly what was received, and once,
        // so the decoder need not check each string again.
        let payload = std::str::from_utf8(payload).map_err(|_| {
            newswire_shared::DecodeError::Invalid("payload is not valid UTF-8".into())
        })?;
        let event = TaggedEvent::decode_str(payload)?;
        Ok(Self {
            event,
            payload: payload.to_owned(),
        })
    }
}

/// A place tagged events are kept.
pub trait Store: Send {
    /// Writes a batch in one transaction, each event with its payload as given; events
    /// already stored are skipped. Returns only once the transaction is durable.
    fn store_encoded(&mut self, events: &[Encoded]) -> Result<StoreReport, StoreError>;

    /// [`Store::store_encoded`] for events not yet encoded.
    fn store(&mut self, events: &[TaggedEvent]) -> Result<StoreReport, StoreError> {
        let encoded: Vec<Encoded> = events.iter().cloned().map(Encoded::new).collect();
        self.store_encoded(&encoded)
    }

    /// Stored events matching `filter`, by event time, article and sentence.
    fn query(&self, filter: &Filter) -> Result<Vec<TaggedEvent>, StoreError>;

    /// Number of stored events, overall or of one article.
    fn count(&self, article_id: Option<&str>) -> Result<usize, StoreError>;

    /// Whether the store takes writes now (for `/readyz`).
    fn ready(&mut self) -> Result<(), StoreError>;
}

/// Opens the store a URL names: `sqlite://PATH` (or a bare path) for SQLite,
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or `postgresql://`) for PostgreSQL.
///
/// SQLite takes one option, `?synchronous=full|normal`: `full` (the default) makes every
/// committed batch durable before its messages are acked, even across a power loss; `normal`
/// keeps committed batches across a crash of the process but may lose the last ones on a power
/// loss or OS crash, for fewer disk flushes.
///
/// PostgreSQL takes the connection options of libpq's URLs that tokio-postgres knows
/// (`?connect_timeout=`, `application_name=`, `sslmode=disable|prefer`, ...); this build has no
/// TLS, so `sslmode=require` is refused when connecting.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    let Some((path, query)) = sqlite_location(url)? else {
        return Ok(Box::new(crate::postgres::PostgresStore::open(url)?));
    };
    let mut synchronous = crate::sqlite::Synchronous::Full;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        synchronous = match pair {
            "synchronous=full" => crate::sqlite::Synchronous::Full,
            "synchronous=normal" => crate::sqlite::Synchronous::Normal,
            other => {
                return Err(StoreError::Url {
                    url: url.to_owned(),
                    reason: format!(
                        "unknown option {other:?}; sqlite takes synchronous=full|normal"
                    ),
                });
            }
        };
    }
    Ok(Box::new(crate::sqlite::SqliteStore::open_with(
        path,
        synchronous,
    )?))
}

/// A SQLite store URL's path and options (`sqlite://PATH?OPTIONS` or a bare path); `None` for
/// a PostgreSQL URL; an error for any other scheme.
fn sqlite_location(url: &str) -> Result<Option<(&str, &str)>, StoreError> {
    if let Some(("postgres" | "postgresql", _)) = url.split_once("://") {
        return Ok(None);
    }
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    match location.split_once("://") {
        Some(("sqlite", path)) => Ok(Some((path, query))),
        None => Ok(Some((location, query))),
        Some((scheme, _)) => Err(StoreError::Url {
            url: redact(url),
            reason: format!(
                "unsupported scheme {scheme:?}; this build stores to sqlite://PATH or postgres://USER@HOST/DB"
            ),
        }),
    }
}

/// [`open`] for a reader (`newswire query`): a SQLite file that is not there is an error, where
/// opening it would create an empty database and answer with no events (a mistyped `--store`,
/// or a relative path run from another folder).
pub fn open_existing(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if let Some((path, _)) = sqlite_location(url)?
        && !std::path::Path::new(path).exists()
    {
        return Err(StoreError::Url {
            url: redact(url),
            reason: format!(
                "there is no database at {path}: the sink creates it; check --store and the folder this runs in"
            ),
        });
    }
    open(url)
}

/// The URL with its password (in the user info or a `password=` option) replaced by `***`: the
/// form a store URL may take in messages and logs. When in doubt it hides more (an '@' after the
/// user info hides everything up to it), never less.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // `password=` options: their values run to the next '&'.
    let mut masked = String::with_capacity(rest.len());
    let mut pieces = rest.split('&').peekable();
    let mut first = true;
    while let Some(piece) = pieces.next() {
        let option_start = if first {
            piece.rfind('?').map(|i| i + 1)
        } else {
            Some(0)
        };
        match option_start {
            Some(start) if piece[start..].to_ascii_lowercase().starts_with("password=") => {
                masked.push_str(&piece[..start]);
                masked.push_str("password=***");
            }
            _ => masked.push_str(piece),
        }
        if pieces.peek().is_some() {
            masked.push('&');
        }
        first = false;
    }
    // The user info's password: from the first ':' to the last '@'.
    if let Some(at) = masked.rfind('@')
        && let Some(colon) = masked[..at].find(':')
    {
        masked.replace_range(colon + 1..at, "***");
    }
    format!("{scheme}://{masked}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_event_keeps_the_received_bytes_and_refuses_invalid_text() {
        let event = crate::conformance::event("aa", 1, &[("RUS", "RUS")], None);
        let received = event.encode();
        let encoded = Encoded::decode(&received).expect("decodes");
        assert_eq!(encoded.payload.as_bytes(), received.as_slice());
        assert_eq!(encoded.event, event);
        // Invalid UTF-8 in a field the decoder skips would otherwise be stored altered.
        let mut bad = b"{\"unknown\":\"\xff\",".to_vec();
        bad.extend_from_slice(&received[1..]);
        let err = Encoded::decode(&bad).expect_err("not UTF-8");
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://news:s3cr:et@db.example:5432/newswire?sslmode=disable"),
            "postgres://news:***@db.example:5432/newswire?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://news@db/newswire?password=s3cret&application_name=sink"),
            "postgresql://news@db/newswire?password=***&application_name=sink"
        );
        assert_eq!(
            redact("postgres://news:p/a?ss@db/x"),
            "postgres://news:***@db/x"
        );
        assert_eq!(
            redact("postgres://db/x?password=a@b&user=me"),
            "postgres://db/x?password=***&user=me"
        );
        assert_eq!(
            redact("postgres://u:p@ss@db:5432/x?PassWord=z"),
            "postgres://u:***@db:5432/x?password=***"
        );
        assert_eq!(redact("sqlite://dir/events.db"), "sqlite://dir/events.db");
        assert_eq!(redact("events.db"), "events.db");
    }

    #[test]
    fn unsupported_schemes_are_refused_without_their_password() {
        let Err(e) = open("mysql://root:s3cret@db/x") else {
            panic!("mysql:// must be refused");
        };
        assert!(matches!(e, StoreError::Url { .. }), "{e}");
        let message = e.to_string();
        assert!(message.contains("postgres://"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
