//! The PostgreSQL store: the SQLite store's tables and semantics on a PostgreSQL server, one
//! transaction per batch, each table written by one statement per batch, migrations at open.
//!
//! The synchronous `postgres` client drives a Tokio runtime of its own: it must not be used or
//! dropped on a thread that runs async code. So a store keeps its client on a thread of its own
//! and hands it work over a channel; the store itself can be opened, used and dropped anywhere,
//! in `spawn_blocking` or straight from async code.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ::postgres::config::SslMode;
use ::postgres::types::ToSql;
use ::postgres::{Client, Config, NoTls, Statement};
use newswire_shared::TaggedEvent;
use time::OffsetDateTime;

use crate::store::{
    Dialect, Encoded, Filter, SqlValue, Store, StoreError, StoreReport, int, redact, unix_ms,
};

/// Schema migrations, applied in order, each once: the SQLite schema in PostgreSQL types.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE articles (
    article_id     TEXT PRIMARY KEY,
    title          TEXT,
    source         TEXT,
    url            TEXT,
    published_at   BIGINT,
    sentence_count BIGINT NOT NULL,
    first_seen     BIGINT NOT NULL
);
CREATE TABLE events (
    event_id           TEXT PRIMARY KEY,
    article_id         TEXT NOT NULL REFERENCES articles(article_id),
    sentence_index     BIGINT NOT NULL,
    text               TEXT NOT NULL,
    category           TEXT NOT NULL,
    event_time         BIGINT NOT NULL,
    ingested_at_ms     BIGINT NOT NULL,
    stored_at_ms       BIGINT NOT NULL,
    classifier_version TEXT NOT NULL,
    payload            TEXT NOT NULL
);
CREATE INDEX events_by_article ON events(article_id, sentence_index);
CREATE INDEX events_by_time ON events(event_time);
CREATE INDEX events_by_category ON events(category, event_time);
CREATE TABLE event_actors (
    event_id   TEXT NOT NULL REFERENCES events(event_id),
    code       TEXT NOT NULL,
    country    TEXT,
    role       TEXT,
    mention    TEXT NOT NULL,
    span_start BIGINT NOT NULL,
    span_end   BIGINT NOT NULL,
    reporter   BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (event_id, code)
);
CREATE INDEX event_actors_by_code ON event_actors(code);
CREATE INDEX event_actors_by_country ON event_actors(country);
CREATE TABLE event_categories (
    event_id   TEXT NOT NULL REFERENCES events(event_id),
    seq        INTEGER NOT NULL,
    code       TEXT NOT NULL,
    root       TEXT NOT NULL,
    category   TEXT NOT NULL,
    quad_class INTEGER NOT NULL,
    goldstein  REAL NOT NULL,
    plover     TEXT,
    cue        TEXT NOT NULL,
    cue_start  BIGINT NOT NULL,
    cue_end    BIGINT NOT NULL,
    source     TEXT,
    target     TEXT,
    modality   TEXT NOT NULL,
    confidence REAL NOT NULL,
    UNIQUE (event_id, seq)
);
CREATE INDEX event_categories_by_code ON event_categories(code);
CREATE INDEX event_categories_by_root ON event_categories(root);
CREATE INDEX event_categories_by_category ON event_categories(category);
"];

/// The advisory lock that serialises migrations of one database ("newswire" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e65_7773_7769_7265;

// Each batch statement takes one array per column and inserts the rows in array order (sorted
// by key, so concurrent sinks writing overlapping batches lock rows in the same order).
const INSERT_ARTICLES: &str = "
INSERT INTO articles (article_id, title, source, url, published_at, sentence_count, first_seen)
SELECT a.article_id, a.title, a.source, a.url, a.published_at, a.sentence_count, $7::int8
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[])
     WITH ORDINALITY AS a(article_id, title, source, url, published_at, sentence_count, ord)
ORDER BY a.ord
ON CONFLICT (article_id) DO NOTHING";

const INSERT_EVENTS: &str = "
INSERT INTO events (event_id, article_id, sentence_index, text, category, event_time,
                    ingested_at_ms, stored_at_ms, classifier_version, payload)
SELECT e.event_id, e.article_id, e.sentence_index, e.text, e.category, e.event_time,
       e.ingested_at_ms, $10::int8, e.classifier_version, e.payload
FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::int8[],
            $8::text[], $9::text[])
     WITH ORDINALITY AS e(event_id, article_id, sentence_index, text, category, event_time,
                          ingested_at_ms, classifier_version, payload, ord)
ORDER BY e.ord
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id";

const INSERT_ACTORS: &str = "
INSERT INTO event_actors (event_id, code, country, role, mention, span_start, span_end, reporter)
SELECT a.event_id, a.code, a.country, a.role, a.mention, a.span_start, a.span_end, a.reporter
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[],
            $8::bool[])
     WITH ORDINALITY AS a(event_id, code, country, role, mention, span_start, span_end, reporter, ord)
ORDER BY a.ord
ON CONFLICT DO NOTHING";

const INSERT_CATEGORIES: &str = "
INSERT INTO event_categories (event_id, seq, code, root, category, quad_class, goldstein, plover,
                              cue, cue_start, cue_end, source, target, modality, confidence)
SELECT c.event_id, c.seq, c.code, c.root, c.category, c.quad_class, c.goldstein, c.plover,
       c.cue, c.cue_start, c.cue_end, c.source, c.target, c.modality, c.confidence
FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::float4[],
            $8::text[], $9::text[], $10::int8[], $11::int8[], $12::text[], $13::text[],
            $14::text[], $15::float4[])
     WITH ORDINALITY AS c(event_id, seq, code, root, category, quad_class, goldstein, plover,
                          cue, cue_start, cue_end, source, target, modality, confidence, ord)
ORDER BY c.ord";

/// How long opening waits for a server that does not answer, unless the URL says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sent data may stay unacknowledged before the connection counts as lost.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle time before TCP keepalives probe a silent server.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
/// How long dropping a store waits for its session to end cleanly.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// An error's message: for a server error its message, SQLSTATE and detail on one line.
fn describe(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                message.push_str(": ");
                message.push_str(detail);
            }
            message
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Permanent only when the data is at fault: a data exception (SQLSTATE class 22, such as a NUL
/// byte in a text), a constraint violation (23) or a value beyond a limit (54). Everything else
/// (connection refused or lost, serialization failure, deadlock, shutdown, lock or resource
/// shortage, a read-only standby, even a missing table or privilege) is about the server, so it
/// is transient: the events are retried, not dead-lettered.
fn classify(e: ::postgres::Error) -> StoreError {
    let data_at_fault = e
        .code()
        .is_some_and(|code| matches!(code.code().get(..2), Some("22" | "23" | "54")));
    if data_at_fault {
        StoreError::Permanent(describe(&e))
    } else {
        StoreError::Transient(describe(&e))
    }
}

/// The connection settings of a `postgres://` URL, with newswire's defaults for what it leaves
/// out. `target` is the URL without its password, for messages.
fn config(url: &str, target: &str) -> Result<Config, StoreError> {
    let invalid = |reason: String| StoreError::Url {
        url: target.to_owned(),
        reason,
    };
    let mut config: Config = url.parse().map_err(|e| invalid(describe(&e)))?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(invalid(
            "sslmode=require: this build connects to PostgreSQL without TLS".into(),
        ));
    }
    let named = |key: &str| {
        url.split_once('?').is_some_and(|(_, options)| {
            options
                .split('&')
                .any(|pair| pair.split_once('=').is_some_and(|(k, _)| k == key))
        })
    };
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    if !named("keepalives_idle") {
        config.keepalives_idle(KEEPALIVES_IDLE);
    }
    if config.get_application_name().is_none() {
        config.application_name("newswire-sink");
    }
    // Server notices ("relation already exists, skipping") into our logs, not the `log` crate's.
    config.notice_callback(|notice| {
        tracing::debug!(
            severity = notice.severity(),
            "postgres: {}",
            notice.message()
        );
    });
    Ok(config)
}

fn connect(config: &Config, target: &str) -> Result<Client, StoreError> {
    config
        .connect(NoTls)
        .map_err(|e| StoreError::Transient(format!("cannot connect to {target}: {}", describe(&e))))
}

/// Applies pending migrations in one transaction, holding the database's migration lock so two
/// sinks starting at once apply each migration once.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(classify)?;
    tx.execute("SELECT pg_advisory_xact_lock($1::int8)", &[&MIGRATION_LOCK])
        .map_err(classify)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .map_err(classify)?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(classify)?;
    for (version, sql) in (1i32..).zip(MIGRATIONS) {
        if version > current {
            tx.batch_execute(sql).map_err(classify)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &OffsetDateTime::now_utc().unix_timestamp()],
            )
            .map_err(classify)?;
        }
    }
    tx.commit().map_err(classify)
}

/// Work for the connection thread.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// Tagged events in a PostgreSQL database.
pub struct PostgresStore {
    /// The URL without its password.
    target: String,
    jobs: Option<mpsc::Sender<Job>>,
    /// Disconnected once the connection thread has ended its session.
    finished: mpsc::Receiver<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.target)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database a `postgres://` or `postgresql://` URL names and applies
    /// pending migrations. A server that cannot be reached (or refuses the login) is a
    /// [`StoreError::Transient`]; a malformed URL a [`StoreError::Url`].
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let target = redact(url);
        let mut session = Session {
            config: config(url, &target)?,
            target: target.clone(),
            live: None,
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (done, finished) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("newswire-postgres".into())
            .spawn(move || {
                for job in inbox {
                    job(&mut session);
                }
                // Ends the session (the client's runtime lives on this thread), then says so.
                drop(session);
                drop(done);
            })
            .map_err(|e| StoreError::Transient(format!("cannot start a connection thread: {e}")))?;
        let store = Self {
            target,
            jobs: Some(jobs),
            finished,
        };
        store.call(|_| Ok(()))?;
        Ok(store)
    }

    /// Runs `job` on the connection thread (see [`Session::run`]) and waits for its result.
    fn call<T: Send + 'static>(
        &self,
        job: impl FnMut(&mut Live) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let stopped = || {
            StoreError::Transient(format!(
                "the connection thread of {} has stopped",
                self.target
            ))
        };
        let (reply, answer) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Box::new(move |session: &mut Session| {
            // The caller may have gone (a panic on its side): nobody to tell.
            let _ = reply.send(session.run(job));
        }))
        .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing the channel ends the thread; wait a little for it to end the session cleanly.
        drop(self.jobs.take());
        let _ = self.finished.recv_timeout(CLOSE_WAIT);
    }
}

/// The connection thread's state: how to connect, and the connection while it lives.
struct Session {
    config: Config,
    target: String,
    live: Option<Live>,
}

impl Session {
    /// Runs `job` on the live connection, connecting (and migrating) first if there is none.
    /// When a connection that had been idle fails, `job` runs once more on a new one: the server
    /// may have closed it in between (a restart, a failover, an idle timeout). Writes are
    /// idempotent, so a batch whose commit was lost with the connection is safe to run again.
    fn run<T>(
        &mut self,
        mut job: impl FnMut(&mut Live) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reused = self
            .live
            .as_ref()
            .is_some_and(|live| !live.client.is_closed());
        match self.attempt(&mut job) {
            Err(StoreError::Transient(first)) if reused => {
                tracing::debug!(store = %self.target, error = %first, "postgres connection lost, retrying on a new one");
                self.attempt(&mut job)
            }
            result => result,
        }
    }

    fn attempt<T>(
        &mut self,
        job: &mut impl FnMut(&mut Live) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let live = match self.live.take() {
            Some(live) if !live.client.is_closed() => live,
            _ => Live::connect(&self.config, &self.target)?,
        };
        let result = job(self.live.insert(live));
        if matches!(result, Err(StoreError::Transient(_))) {
            // The connection may be what failed: the next attempt starts with a new one.
            self.live = None;
        }
        result
    }
}

/// A connection, migrated, with the batch statements prepared on it.
struct Live {
    client: Client,
    articles: Statement,
    events: Statement,
    actors: Statement,
    categories: Statement,
}

impl Live {
    fn connect(config: &Config, target: &str) -> Result<Self, StoreError> {
        let mut client = connect(config, target)?;
        migrate(&mut client)?;
        let mut prepare = |sql: &str| client.prepare(sql).map_err(classify);
        let (articles, events) = (prepare(INSERT_ARTICLES)?, prepare(INSERT_EVENTS)?);
        let (actors, categories) = (prepare(INSERT_ACTORS)?, prepare(INSERT_CATEGORIES)?);
        Ok(Self {
            client,
            articles,
            events,
            actors,
            categories,
        })
    }

    /// Writes distinct events (sorted by id) in one transaction: articles first seen, then the
    /// events with their payloads, then actors and categories of the events that were new.
    fn store(&mut self, batch: &[Encoded], received: usize) -> Result<StoreReport, StoreError> {
        let now = OffsetDateTime::now_utc();
        let events: Vec<&TaggedEvent> = batch.iter().map(|e| &e.event).collect();
        let mut tx = self.client.transaction().map_err(classify)?;

        let mut seen = HashSet::new();
        let mut articles: Vec<&TaggedEvent> = events
            .iter()
            .copied()
            .filter(|e| seen.insert(e.article_id.as_str()))
            .collect();
        articles.sort_by(|a, b| a.article_id.cmp(&b.article_id));
        let column = |f: fn(&TaggedEvent) -> Option<&str>| -> Vec<Option<&str>> {
            articles.iter().map(|e| f(e)).collect()
        };
        let article_ids: Vec<&str> = articles.iter().map(|e| e.article_id.as_str()).collect();
        let titles = column(|e| e.article.title.as_deref());
        let sources = column(|e| e.article.source.as_deref());
        let urls = column(|e| e.article.url.as_deref());
        let published: Vec<Option<i64>> = articles
            .iter()
            .map(|e| e.article.published_at.map(OffsetDateTime::unix_timestamp))
            .collect();
        let sentence_counts: Vec<i64> = articles
            .iter()
            .map(|e| i64::from(e.sentence_count))
            .collect();
        tx.execute(
            &self.articles,
            &[
                &article_ids,
                &titles,
                &sources,
                &urls,
                &published,
                &sentence_counts,
                &now.unix_timestamp(),
            ],
        )
        .map_err(classify)?;

        let strs =
            |f: fn(&TaggedEvent) -> &str| -> Vec<&str> { events.iter().map(|e| f(e)).collect() };
        let ints =
            |f: fn(&TaggedEvent) -> i64| -> Vec<i64> { events.iter().map(|e| f(e)).collect() };
        let payloads: Vec<&str> = batch.iter().map(|e| e.payload.as_str()).collect();
        let new: HashSet<String> = tx
            .query(
                &self.events,
                &[
                    &strs(|e| &e.event_id),
                    &strs(|e| &e.article_id),
                    &ints(|e| i64::from(e.sentence_index)),
                    &strs(|e| &e.text),
                    &strs(|e| &e.category),
                    &ints(|e| e.event_time().unix_timestamp()),
                    &ints(|e| unix_ms(e.ingested_at)),
                    &strs(|e| &e.classifier_version),
                    &payloads,
                    &unix_ms(now),
                ],
            )
            .map_err(classify)?
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<_, _>>()
            .map_err(classify)?;
        let fresh: Vec<&TaggedEvent> = events
            .iter()
            .copied()
            .filter(|e| new.contains(&e.event_id))
            .collect();

        let mut actors = ActorColumns::default();
        let mut categories = CategoryColumns::default();
        for &e in &fresh {
            let reporter = e.reporter.iter().map(|a| (a, true));
            for (a, is_reporter) in e.actors.iter().map(|a| (a, false)).chain(reporter) {
                actors.push(e, a, is_reporter);
            }
            for (seq, c) in e.events.iter().enumerate() {
                categories.push(e, seq, c);
            }
        }
        if !actors.event_id.is_empty() {
            tx.execute(&self.actors, &actors.params())
                .map_err(classify)?;
        }
        if !categories.event_id.is_empty() {
            tx.execute(&self.categories, &categories.params())
                .map_err(classify)?;
        }
        tx.commit().map_err(classify)?;
        Ok(StoreReport {
            stored: new.len(),
            duplicates: received - new.len(),
        })
    }
}

/// The `event_actors` rows of a batch, column by column.
#[derive(Default)]
struct ActorColumns<'a> {
    event_id: Vec<&'a str>,
    code: Vec<&'a str>,
    country: Vec<Option<&'a str>>,
    role: Vec<Option<&'a str>>,
    mention: Vec<&'a str>,
    span_start: Vec<i64>,
    span_end: Vec<i64>,
    reporter: Vec<bool>,
}

impl<'a> ActorColumns<'a> {
    fn push(&mut self, e: &'a TaggedEvent, a: &'a newswire_shared::Actor, reporter: bool) {
        self.event_id.push(&e.event_id);
        self.code.push(&a.code);
        self.country.push(a.country.as_deref());
        self.role.push(a.role.as_deref());
        self.mention.push(&a.mention);
        self.span_start.push(int(a.span.start));
        self.span_end.push(int(a.span.end));
        self.reporter.push(reporter);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.event_id,
            &self.code,
            &self.country,
            &self.role,
            &self.mention,
            &self.span_start,
            &self.span_end,
            &self.reporter,
        ]
    }
}

/// The `event_categories` rows of a batch, column by column.
#[derive(Default)]
struct CategoryColumns<'a> {
    event_id: Vec<&'a str>,
    seq: Vec<i32>,
    code: Vec<&'a str>,
    root: Vec<&'a str>,
    category: Vec<&'a str>,
    quad_class: Vec<i32>,
    goldstein: Vec<f32>,
    plover: Vec<Option<&'a str>>,
    cue: Vec<&'a str>,
    cue_start: Vec<i64>,
    cue_end: Vec<i64>,
    source: Vec<Option<&'a str>>,
    target: Vec<Option<&'a str>>,
    modality: Vec<&'a str>,
    confidence: Vec<f32>,
}

impl<'a> CategoryColumns<'a> {
    fn push(&mut self, e: &'a TaggedEvent, seq: usize, c: &'a newswire_shared::CodedEvent) {
        self.event_id.push(&e.event_id);
        self.seq.push(i32::try_from(seq).unwrap_or(i32::MAX));
        self.code.push(&c.code);
        self.root.push(&c.root);
        self.category.push(&c.category);
        self.quad_class.push(i32::from(c.quad_class));
        self.goldstein.push(c.goldstein);
        self.plover.push(c.plover.as_deref());
        self.cue.push(&c.cue);
        self.cue_start.push(int(c.cue_span.start));
        self.cue_end.push(int(c.cue_span.end));
        self.source.push(c.source.as_deref());
        self.target.push(c.target.as_deref());
        self.modality.push(c.modality.as_str());
        self.confidence.push(c.confidence);
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        [
            &self.event_id,
            &self.seq,
            &self.code,
            &self.root,
            &self.category,
            &self.quad_class,
            &self.goldstein,
            &self.plover,
            &self.cue,
            &self.cue_start,
            &self.cue_end,
            &self.source,
            &self.target,
            &self.modality,
            &self.confidence,
        ]
    }
}

/// A bound query parameter.
type Param = Box<dyn ToSql + Sync + Send>;

impl Store for PostgresStore {
    /// Reaches the server (reconnecting if need be) and checks it takes writes: a standby, or a
    /// database made read-only, does not.
    fn ready(&mut self) -> Result<(), StoreError> {
        self.call(|live| {
            let read_only: String = live
                .client
                .query_one("SHOW transaction_read_only", &[])
                .and_then(|row| row.try_get(0))
                .map_err(classify)?;
            match read_only.as_str() {
                "off" => Ok(()),
                _ => Err(StoreError::Transient(
                    "the server takes no writes (transaction_read_only is on)".into(),
                )),
            }
        })
    }

    fn store_encoded(&mut self, events: &[Encoded]) -> Result<StoreReport, StoreError> {
        if events.is_empty() {
            return Ok(StoreReport::default());
        }
        // A repeat within the batch is a duplicate like any other: the first copy is written.
        let mut seen = HashSet::new();
        let mut distinct: Vec<&Encoded> = events
            .iter()
            .filter(|e| seen.insert(e.event.event_id.as_str()))
            .collect();
        distinct.sort_by(|a, b| a.event.event_id.cmp(&b.event.event_id));
        // Owned: the connection thread runs the write, again after a reconnect.
        let distinct: Vec<Encoded> = distinct.into_iter().cloned().collect();
        let received = events.len();
        self.call(move |live| live.store(&distinct, received))
    }

    fn query(&self, filter: &Filter) -> Result<Vec<TaggedEvent>, StoreError> {
        let (sql, values) = filter.clone().normalised()?.to_sql(Dialect::Postgres);
        let params: Vec<Param> = values
            .into_iter()
            .map(|v| -> Param {
                match v {
                    SqlValue::Text(text) => Box::new(text),
                    SqlValue::Integer(n) => Box::new(n),
                }
            })
            .collect();
        let payloads: Vec<String> = self.call(move |live| {
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            live.client
                .query(&sql, &params)
                .map_err(classify)?
                .iter()
                .map(|row| row.try_get::<_, String>(0).map_err(classify))
                .collect()
        })?;
        payloads
            .iter()
            .map(|payload| {
                TaggedEvent::decode_str(payload)
                    .map_err(|e| StoreError::Permanent(format!("stored payload unreadable: {e}")))
            })
            .collect()
    }

    fn count(&self, article_id: Option<&str>) -> Result<usize, StoreError> {
        let article_id = article_id.map(str::to_owned);
        let n: i64 = self.call(move |live| {
            match &article_id {
                Some(id) => live.client.query_one(
                    "SELECT COUNT(*) FROM events WHERE article_id = $1::text",
                    &[id],
                ),
                None => live.client.query_one("SELECT COUNT(*) FROM events", &[]),
            }
            .and_then(|row| row.try_get(0))
            .map_err(classify)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// A database of its own for a test or a trial run: created empty, with a name unique to this
/// process, through an administrative URL (a role allowed to `CREATE DATABASE`); dropped with
/// everything in it, sessions included, when this value is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `newswire_t<pid>_<n>` on the server `admin_url` connects to.
    pub fn create(admin_url: &str) -> Result<Self, StoreError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "newswire_t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = with_database(admin_url, &name).ok_or_else(|| StoreError::Url {
            url: redact(admin_url),
            reason: "not a postgres://USER@HOST/DB URL".into(),
        })?;
        // A database left behind by a killed run whose process id this one reuses goes first.
        // (A name of ASCII letters, digits and '_': an identifier as it stands.)
        administer(
            admin_url,
            &[
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ],
        )?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// The URL of the scratch database (the administrative URL with its database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let drop_it = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = administer(&self.admin_url, &[drop_it]) {
            tracing::warn!(database = %self.name, error = %e, "scratch database not dropped");
        }
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "postgres" | "postgresql") {
        return None;
    }
    // As tokio-postgres reads it: user info to the first '@', host to the first '/' or '?'.
    let host_start = rest.find('@').map_or(0, |at| at + 1);
    let host_end = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| host_start + i);
    let options = rest[host_end..]
        .find('?')
        .map_or("", |i| &rest[host_end + i..]);
    Some(format!(
        "{scheme}://{}/{database}{options}",
        &rest[..host_end]
    ))
}

/// Runs statements one by one over a connection of their own, on a thread of their own (so
/// from async code too).
fn administer(url: &str, statements: &[String]) -> Result<(), StoreError> {
    let target = redact(url);
    let config = config(url, &target)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = connect(&config, &target)?;
                for statement in statements {
                    client.batch_execute(statement).map_err(classify)?;
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(StoreError::Permanent(
                    "administration thread panicked".into(),
                ))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, event};

    /// The server the tests use: a role that may create databases, on a database that exists.
    fn admin_url() -> String {
        std::env::var("NEWSWIRE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    fn scratch() -> ScratchDatabase {
        ScratchDatabase::create(&admin_url()).unwrap_or_else(|e| {
            panic!(
                "cannot create a scratch database through {} (set NEWSWIRE_TEST_POSTGRES): {e}",
                redact(&admin_url())
            )
        })
    }

    fn open(db: &ScratchDatabase) -> PostgresStore {
        PostgresStore::open(db.url()).expect("opens")
    }

    /// A plain client on `url`, for looking behind the store (run on a thread with no runtime).
    fn sql_client(url: &str) -> Client {
        url.parse::<Config>()
            .expect("parses")
            .connect(NoTls)
            .expect("connects")
    }

    #[test]
    fn writes_are_idempotent() {
        let db = scratch();
        conformance::writes_are_idempotent(&mut open(&db));
    }

    #[test]
    fn queries_filter_by_actor_country_category_article_and_time() {
        let db = scratch();
        conformance::queries_filter_by_actor_country_category_article_and_time(&mut open(&db));
    }

    #[test]
    fn articles_whose_ids_prefix_one_another_stay_apart() {
        let db = scratch();
        conformance::articles_whose_ids_prefix_one_another_stay_apart(&mut open(&db));
    }

    #[test]
    fn stored_events_round_trip_and_reopen_keeps_them() {
        let db = scratch();
        let mut original = event("cc", 3, &[("UKR", "UKR")], Some(("07", "provide_aid")));
        original.reporter = original.actors.first().cloned();
        original.actors.push(newswire_shared::Actor {
            code: "RUSGOV".into(),
            country: Some("RUS".into()),
            role: Some("GOV".into()),
            mention: "Moscow".into(),
            span: newswire_shared::Span::new(2, 8),
            entry: "test".into(),
        });
        open(&db)
            .store(std::slice::from_ref(&original))
            .expect("stores");
        // Through the URL dispatch, with the other scheme spelling.
        let url = db.url().replacen("postgres://", "postgresql://", 1);
        let reopened = crate::store::open(&url).expect("reopens");
        assert_eq!(
            reopened.query(&Filter::default()).expect("queries"),
            vec![original.clone()]
        );
        assert_eq!(reopened.count(Some("cc")).expect("counts"), 1);

        // The rows behind it: the JSON exactly as serde writes it, an actor row per code (the
        // reporter's code once, as an actor), one category row.
        let mut sql = sql_client(db.url());
        let payload: String = sql
            .query_one("SELECT payload FROM events", &[])
            .and_then(|r| r.try_get(0))
            .expect("payload");
        assert_eq!(payload, serde_json::to_string(&original).expect("encodes"));
        let actors: Vec<(String, bool)> = sql
            .query("SELECT code, reporter FROM event_actors ORDER BY code", &[])
            .expect("actors")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            actors,
            [("RUSGOV".to_owned(), false), ("UKR".to_owned(), false)]
        );
        let categories: i64 = sql
            .query_one(
                "SELECT COUNT(*) FROM event_categories WHERE root = '07'",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .expect("categories");
        assert_eq!(categories, 1);
    }

    #[test]
    fn migrations_are_idempotent_and_recorded_once() {
        let db = scratch();
        for _ in 0..3 {
            drop(open(&db));
        }
        let versions: Vec<i32> = sql_client(db.url())
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .expect("versions")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
    }

    #[test]
    fn sinks_opening_a_new_database_at_once_migrate_it_once() {
        let db = scratch();
        let start = std::sync::Barrier::new(4);
        let stores: Vec<PostgresStore> = std::thread::scope(|scope| {
            let opening: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        PostgresStore::open(db.url())
                    })
                })
                .collect();
            opening
                .into_iter()
                .map(|t| t.join().expect("joins").expect("opens"))
                .collect()
        });
        assert_eq!(stores.len(), 4);
        let versions: i64 = sql_client(db.url())
            .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
            .and_then(|r| r.try_get(0))
            .expect("versions");
        assert_eq!(versions, MIGRATIONS.len() as i64);
    }

    #[test]
    fn sinks_writing_the_same_events_at_once_store_each_once() {
        let db = scratch();
        let events: Vec<TaggedEvent> = (0..200)
            .map(|i| {
                event(
                    &format!("a{}", i % 7),
                    i,
                    &[("PRKMIL", "PRK")],
                    Some(("13", "threaten")),
                )
            })
            .collect();
        let start = std::sync::Barrier::new(2);
        let reports: Vec<StoreReport> = std::thread::scope(|scope| {
            let writers: Vec<_> = [false, true]
                .into_iter()
                .map(|reversed| {
                    let (start, events) = (&start, &events);
                    let db = &db;
                    scope.spawn(move || {
                        let mut store = open(db);
                        let mut batches: Vec<&[TaggedEvent]> = events.chunks(50).collect();
                        if reversed {
                            batches.reverse();
                        }
                        start.wait();
                        let mut total = StoreReport::default();
                        for batch in batches {
                            // A deadlock or serialization failure is transient: retry as the
                            // service would.
                            let mut attempts = 0;
                            let report = loop {
                                attempts += 1;
                                match store.store(batch) {
                                    Err(e) if e.is_transient() && attempts < 5 => continue,
                                    other => break other.expect("stores"),
                                }
                            };
                            total.stored += report.stored;
                            total.duplicates += report.duplicates;
                        }
                        total
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|t| t.join().expect("joins"))
                .collect()
        });
        assert_eq!(reports.iter().map(|r| r.stored).sum::<usize>(), 200);
        assert_eq!(reports.iter().map(|r| r.duplicates).sum::<usize>(), 200);
        let store = open(&db);
        assert_eq!(store.count(None).expect("counts"), 200);
        let mut sql = sql_client(db.url());
        let mut rows = |table: &str| -> i64 {
            sql.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .and_then(|r| r.try_get(0))
                .expect("counts rows")
        };
        assert_eq!(
            (
                rows("articles"),
                rows("event_actors"),
                rows("event_categories")
            ),
            (7, 200, 200)
        );
    }

    #[test]
    fn data_the_server_refuses_is_permanent_and_writes_nothing() {
        let db = scratch();
        let mut store = open(&db);
        let mut bad = event("dd", 1, &[("KOR", "KOR")], None);
        bad.text = "a NUL \0 byte".into();
        let batch = [event("dd", 0, &[], None), bad];
        let err = store
            .store(&batch)
            .expect_err("a NUL byte in text is refused");
        assert!(matches!(err, StoreError::Permanent(_)), "{err}");
        assert_eq!(
            store.count(None).expect("counts"),
            0,
            "the batch rolled back"
        );
        // The connection is still good: the rest of the batch, alone, goes in.
        assert_eq!(store.store(&batch[..1]).expect("stores").stored, 1);
    }

    #[test]
    fn lost_connections_are_replaced_and_an_unreachable_database_is_transient() {
        let db = scratch();
        let mut store = open(&db);
        store.store(&[event("ee", 0, &[], None)]).expect("stores");
        let mut admin = sql_client(&admin_url());
        let mut sessions = || -> Vec<i32> {
            admin
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                    &[&db.name()],
                )
                .expect("sessions")
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        let before = sessions();
        assert_eq!(before.len(), 1, "the store's one session");
        let mut sql = sql_client(&admin_url());
        let terminate = |sql: &mut Client| {
            sql.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name()],
            )
            .expect("terminates the store's session");
        };

        // The server ends the session (as a restart or an idle timeout would): the next batch
        // goes through on a new connection.
        terminate(&mut sql);
        assert_eq!(
            store
                .store(&[event("ee", 1, &[], None)])
                .expect("stores on a new connection")
                .stored,
            1
        );
        let after = sessions();
        assert_eq!(after.len(), 1);
        assert_ne!(after, before, "a new session");

        // While the database takes no connections, batches fail retryably and the store is not
        // ready; once it takes them again, both recover without reopening the store.
        sql.batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            db.name()
        ))
        .expect("closes the database");
        terminate(&mut sql);
        let batch = [event("ee", 2, &[], None)];
        let err = store.store(&batch).expect_err("no connection to be had");
        eprintln!("while the database takes no connections: {err}");
        assert!(err.is_transient(), "{err}");
        let err = store.ready().expect_err("not ready");
        assert!(err.is_transient(), "{err}");
        sql.batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            db.name()
        ))
        .expect("opens the database");
        store.ready().expect("ready again");
        assert_eq!(store.store(&batch).expect("stores again").stored, 1);
        assert_eq!(store.count(None).expect("counts"), 3);
    }

    #[test]
    fn unreachable_servers_are_transient_and_passwords_stay_out_of_messages() {
        let err = PostgresStore::open("postgres://newswire:s3cret-pw@127.0.0.1:1/newswire")
            .expect_err("nothing listens on port 1");
        assert!(err.is_transient(), "{err}");
        let message = err.to_string();
        assert!(!message.contains("s3cret-pw"), "{message}");
        assert!(message.contains("newswire:***@127.0.0.1:1"), "{message}");

        let Err(err) =
            crate::store::open("postgres://newswire:s3cret-pw@127.0.0.1:5432/x?sslmode=require")
        else {
            panic!("sslmode=require must be refused: no TLS in this build");
        };
        assert!(matches!(err, StoreError::Url { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
        let Err(err) = crate::store::open("postgres://newswire:s3cret-pw@127.0.0.1:5432/x?bogus=1")
        else {
            panic!("an unknown option must be refused");
        };
        assert!(matches!(err, StoreError::Url { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    }

    /// The service opens, uses and drops its store on async threads and the blocking pool:
    /// none of it may trip over the client's own runtime.
    #[test]
    fn works_from_async_code_and_the_blocking_pool() {
        let db = scratch();
        let url = db.url().to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let mut store = PostgresStore::open(&url).expect("opens in async code");
            store
                .store(&[event("ff", 0, &[], None)])
                .expect("stores in async code");
            let store = tokio::task::spawn_blocking(move || {
                store
                    .store(&[event("ff", 1, &[], None)])
                    .map(|report| (report, store))
            })
            .await
            .expect("joins")
            .map(|(report, store)| {
                assert_eq!(report.stored, 1);
                store
            })
            .expect("stores on the blocking pool");
            assert_eq!(store.count(Some("ff")).expect("counts"), 2);
            drop(store);
            let reopened = tokio::task::spawn_blocking(move || crate::store::open(&url))
                .await
                .expect("joins")
                .expect("reopens on the blocking pool");
            assert_eq!(reopened.count(None).expect("counts"), 2);
        });
    }

    #[test]
    fn a_thousand_event_batch_is_stored_then_found_duplicate() {
        let db = scratch();
        let mut store = open(&db);
        let events: Vec<TaggedEvent> = (0..1000)
            .map(|i| {
                event(
                    &format!("g{}", i / 20),
                    i,
                    &[("PRKMIL", "PRK"), ("KOR", "KOR")],
                    Some(("13", "threaten")),
                )
            })
            .collect();
        let started = std::time::Instant::now();
        let report = store.store(&events).expect("stores");
        let first = started.elapsed();
        let started = std::time::Instant::now();
        let again = store.store(&events).expect("stores again");
        let second = started.elapsed();
        eprintln!("1000-event batch: {first:?} new, {second:?} all duplicates");
        assert_eq!((report.stored, report.duplicates), (1000, 0));
        assert_eq!((again.stored, again.duplicates), (0, 1000));
        assert_eq!(
            store
                .query(&Filter {
                    actor: Some("PRK".into()),
                    ..Filter::default()
                })
                .expect("queries")
                .len(),
            1000
        );
    }

    #[test]
    fn scratch_database_urls_keep_user_host_and_options() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/test?sslmode=disable", "n").as_deref(),
            Some("postgres://u:p@h:5432/n?sslmode=disable")
        );
        assert_eq!(
            with_database("postgresql://h", "n").as_deref(),
            Some("postgresql://h/n")
        );
        assert_eq!(with_database("sqlite://x", "n"), None);
    }
}
