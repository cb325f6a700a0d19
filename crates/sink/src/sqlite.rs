//! The SQLite store: embedded, WAL mode, one transaction per batch, migrations at open, the
//! write-ahead log copied into the database by a thread of its own.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use newswire_shared::TaggedEvent;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, TransactionBehavior, params, params_from_iter,
    types::Value,
};
use time::OffsetDateTime;

use crate::store::{
    Dialect, Encoded, Filter, SQLITE_ARTICLE, SqlValue, Store, StoreError, StoreReport, int,
    unix_ms,
};

/// How long a connection waits for another's lock (another replica of the sink sharing the
/// file, `newswire query`, the checkpointer) before the operation fails as transient.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, applied in order, each once.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE articles (
    article_id     TEXT PRIMARY KEY,
    title          TEXT,
    source         TEXT,
    url            TEXT,
    published_at   INTEGER,
    sentence_count INTEGER NOT NULL,
    first_seen     INTEGER NOT NULL
);
CREATE TABLE events (
    event_id           TEXT PRIMARY KEY,
    article_id         TEXT NOT NULL REFERENCES articles(article_id),
    sentence_index     INTEGER NOT NULL,
    text               TEXT NOT NULL,
    category           TEXT NOT NULL,
    event_time         INTEGER NOT NULL,
    ingested_at_ms     INTEGER NOT NULL,
    stored_at_ms       INTEGER NOT NULL,
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
    span_start INTEGER NOT NULL,
    span_end   INTEGER NOT NULL,
    reporter   INTEGER NOT NULL DEFAULT 0,
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
    cue_start  INTEGER NOT NULL,
    cue_end    INTEGER NOT NULL,
    source     TEXT,
    target     TEXT,
    modality   TEXT NOT NULL,
    confidence REAL NOT NULL,
    UNIQUE (event_id, seq)
);
CREATE INDEX event_categories_by_code ON event_categories(code);
CREATE INDEX event_categories_by_root ON event_categories(root);
CREATE INDEX event_categories_by_category ON event_categories(category);
",
    r"
-- Version 2: actor and category rows point at their event by the events table's rowid, which
-- grows with every insert, instead of by the event id, a content hash. Their index on the
-- event then takes appends instead of inserts at random places, which slowed writes as the
-- tables grew. Idempotency stays with the events table's key: rows are written only for an
-- event that was new.
CREATE TABLE event_actors_v2 (
    event_row  INTEGER NOT NULL,
    code       TEXT NOT NULL,
    country    TEXT,
    role       TEXT,
    mention    TEXT NOT NULL,
    span_start INTEGER NOT NULL,
    span_end   INTEGER NOT NULL,
    reporter   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO event_actors_v2
    SELECT e.rowid, a.code, a.country, a.role, a.mention, a.span_start, a.span_end, a.reporter
    FROM event_actors a JOIN events e ON e.event_id = a.event_id ORDER BY e.rowid;
DROP TABLE event_actors;
ALTER TABLE event_actors_v2 RENAME TO event_actors;
CREATE INDEX event_actors_by_event ON event_actors(event_row);
CREATE INDEX event_actors_by_code ON event_actors(code);
CREATE INDEX event_actors_by_country ON event_actors(country);
CREATE TABLE event_categories_v2 (
    event_row  INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    code       TEXT NOT NULL,
    root       TEXT NOT NULL,
    category   TEXT NOT NULL,
    quad_class INTEGER NOT NULL,
    goldstein  REAL NOT NULL,
    plover     TEXT,
    cue        TEXT NOT NULL,
    cue_start  INTEGER NOT NULL,
    cue_end    INTEGER NOT NULL,
    source     TEXT,
    target     TEXT,
    modality   TEXT NOT NULL,
    confidence REAL NOT NULL
);
INSERT INTO event_categories_v2
    SELECT e.rowid, c.seq, c.code, c.root, c.category, c.quad_class, c.goldstein, c.plover,
           c.cue, c.cue_start, c.cue_end, c.source, c.target, c.modality, c.confidence
    FROM event_categories c JOIN events e ON e.event_id = c.event_id ORDER BY e.rowid, c.seq;
DROP TABLE event_categories;
ALTER TABLE event_categories_v2 RENAME TO event_categories;
CREATE INDEX event_categories_by_event ON event_categories(event_row);
CREATE INDEX event_categories_by_code ON event_categories(code);
CREATE INDEX event_categories_by_root ON event_categories(root);
CREATE INDEX event_categories_by_category ON event_categories(category);
",
    r"
-- Version 3: drop the indexes no query uses. Queries reach actor and category rows through
-- their event's rowid (EXPLAIN QUERY PLAN: SEARCH ... USING INDEX event_actors_by_event and
-- event_categories_by_event), never by code, country, root or category, yet every write
-- maintained these five: two per actor row and three per category row.
DROP INDEX IF EXISTS event_actors_by_code;
DROP INDEX IF EXISTS event_actors_by_country;
DROP INDEX IF EXISTS event_categories_by_code;
DROP INDEX IF EXISTS event_categories_by_root;
DROP INDEX IF EXISTS event_categories_by_category;
",
    r"
-- Version 4: drop the events' index by article. An event id is its article id, '-' and the
-- sentence index, so the primary key's own index holds each article's events together, and
-- queries by article search it by that prefix (SEARCH e USING INDEX sqlite_autoindex_events_1).
-- The dropped index was a fifth of the pages each commit wrote to the log: 26 articles of a
-- batch of 256 events land at 26 random places in it.
DROP INDEX IF EXISTS events_by_article;
",
    r"
-- Version 5: drop the events' index by category and time. Only the filter for events that
-- code nothing (category 'none') used it; every other category filter already walks the
-- events by time and looks up each event's category rows. Yet every commit wrote one leaf of
-- it per category in the batch, at a random place: without it the sink writes a quarter fewer
-- bytes per event in batches of 38 events, the size it commits at full load
-- (docs/benchmarks.md, change 44). The 'none' filter now walks the time index like the rest.
DROP INDEX IF EXISTS events_by_category;
",
];

/// Counts one article's events (`?1`), searched in the primary key's index by the id's prefix
/// (migration 4, [`SQLITE_ARTICLE`]). Put together once.
static COUNT_BY_ARTICLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT COUNT(*) FROM events e WHERE 1 = 1{}",
        SQLITE_ARTICLE.replace("{}", "?1")
    )
});

/// SQLite's `synchronous` setting: when a commit is flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit flushed: durable across power loss.
    Full,
    /// WAL flushed at checkpoints: durable across process crashes.
    Normal,
}

/// Tagged events in an SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    /// Set by each commit, taken by the checkpointer.
    written: Arc<AtomicBool>,
    /// Declared after `conn`: dropped (stopped, with a last checkpoint) after it.
    _checkpointer: Checkpointer,
}

/// Pages of write-ahead log (4 KB each) at which the writer checkpoints in its commit.
const WAL_PAGES: i64 = 4_000;

/// How often the checkpointer copies what was committed into the database. Often enough that
/// the writer's own checkpoint, when the log reaches [`WAL_PAGES`], finds little left to copy
/// and to flush: at 10,000 events/s in small batches the log filled every 130-150 ms, and with
/// the checkpointer at 500 ms most of those commits copied what it had not and fsynced the
/// database, a stall that set the p99 (docs/benchmarks.md, change 41).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Copies the write-ahead log into the database (a passive checkpoint, which never blocks the
/// writer) on a thread and connection of its own, every [`CHECKPOINT_EVERY`] after a commit.
/// In the writer, SQLite checkpointed the whole log in the commit that filled 1,000 pages of
/// it: that commit (and the acknowledgements waiting on it) took the copy's time. The writer
/// now finds most pages copied already. Stopped when dropped, after a last checkpoint if
/// anything was committed since the one before.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(
        path: &Path,
        synchronous: Synchronous,
        written: Arc<AtomicBool>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(classify)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(classify)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpoint = move || {
            let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            });
            match result {
                Ok((log, copied)) => {
                    tracing::trace!(stage = "sink", log, copied, "wal checkpointed");
                }
                Err(e) => tracing::warn!(stage = "sink", error = %e, "wal checkpoint failed"),
            }
        };
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    let stopping = !matches!(
                        stopped.recv_timeout(CHECKPOINT_EVERY),
                        Err(mpsc::RecvTimeoutError::Timeout)
                    );
                    if written.swap(false, Ordering::Relaxed) {
                        checkpoint();
                    }
                    if stopping {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Transient(format!("cannot start the checkpointer: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has been reported already; nothing is left to stop.
            let _ = thread.join();
        }
    }
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

fn classify(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::OutOfMemory
                    | ErrorCode::ReadOnly
            ) =>
        {
            StoreError::Transient(e.to_string())
        }
        _ => StoreError::Permanent(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// Opens with an explicit `synchronous` setting.
    pub fn open_with(path: impl AsRef<Path>, synchronous: Synchronous) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Transient(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(classify)?;
        let conn = Self::init(conn, synchronous)?;
        let written = Arc::new(AtomicBool::new(false));
        let checkpointer = Checkpointer::start(path, synchronous, Arc::clone(&written))?;
        Ok(Self {
            conn,
            written,
            _checkpointer: checkpointer,
        })
    }

    fn init(mut conn: Connection, synchronous: Synchronous) -> Result<Connection, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
        // WAL lets `newswire query` read while the sink writes; FULL (the default) makes each
        // commit durable before the messages it holds are acknowledged.
        Self::enter_wal(&conn)?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(classify)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(classify)?;
        // 4 MB of page cache. Every commit walks the cache's hash table (SQLite truncates the
        // cache to the database's size), so a larger cache costs each commit more; over
        // 1,000,000 events 16 MB bought no lower latency (docs/benchmarks.md, change 38).
        conn.pragma_update(None, "cache_size", -4_096)
            .map_err(classify)?;
        // The checkpointer copies the log into the database. The writer still checkpoints when
        // the log reaches 4,000 pages (16 MB), which then costs little, the checkpointer
        // having copied most of it: under a steady stream of commits the checkpointer's copies
        // keep ending behind the last commit, and only a checkpoint between two commits lets
        // the next one start the log afresh. Such a commit waits for the database's fsync
        // too; at SQLite's default of 1,000 pages that was one commit in 25 at 1,000 events/s,
        // enough to set the p99 (docs/benchmarks.md, change 37).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)
            .map_err(classify)?;
        // Opened by a reader (`newswire query`) or a replica of a database already up to date:
        // nothing to write, so no write lock to wait for.
        if Self::schema_version(&conn)? == MIGRATIONS.len() as i64 {
            return Ok(conn);
        }
        // IMMEDIATE: the write lock from the start, waited for under the busy timeout. A deferred
        // transaction reads first and then fails at once (SQLITE_BUSY without waiting) when a
        // replica opening the same file at the same moment commits in between.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(classify)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(classify)?;
        let current = Self::schema_version(&tx)?;
        for (version, sql) in (1i64..).zip(MIGRATIONS) {
            if version > current {
                tx.execute_batch(sql).map_err(classify)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    params![version, OffsetDateTime::now_utc().unix_timestamp()],
                )
                .map_err(classify)?;
            }
        }
        tx.commit().map_err(classify)?;
        Ok(conn)
    }
}

impl SqliteStore {
    /// The last migration applied, 0 for a new file; read without a transaction of its own.
    fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
        let tracked: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
                [],
                |r| r.get(0),
            )
            .map_err(classify)?;
        if !tracked {
            return Ok(0);
        }
        conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(classify)
    }

    /// Puts the database in WAL mode. Turning a new file's journal to WAL takes an exclusive
    /// lock for which SQLite does not call the busy handler: a replica that does so while
    /// another opens the same file fails at once with SQLITE_BUSY. So this waits the busy
    /// timeout itself, trying again every 10 ms.
    fn enter_wal(conn: &Connection) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => return Ok(()),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(classify(e)),
            }
        }
    }
}

impl Store for SqliteStore {
    /// Takes the write lock and lets it go: fails while another process holds the database
    /// locked past the busy timeout, or when the file is read-only.
    fn ready(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(classify)
    }

    fn store_encoded(&mut self, events: &[Encoded]) -> Result<StoreReport, StoreError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        // Deferred: its first statement writes, so it waits for the write lock under the busy
        // timeout like an IMMEDIATE one.
        let tx = self.conn.transaction().map_err(classify)?;
        let mut report = StoreReport::default();
        {
            let mut article = tx
                .prepare_cached(
                    "INSERT INTO articles (article_id, title, source, url, published_at, sentence_count, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(article_id) DO NOTHING",
                )
                .map_err(classify)?;
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO events (event_id, article_id, sentence_index, text, category, event_time,
                                         ingested_at_ms, stored_at_ms, classifier_version, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(event_id) DO NOTHING",
                )
                .map_err(classify)?;
            let mut actor = tx
                .prepare_cached(
                    "INSERT INTO event_actors (event_row, code, country, role, mention, span_start, span_end, reporter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(classify)?;
            let mut category = tx
                .prepare_cached(
                    "INSERT INTO event_categories (event_row, seq, code, root, category, quad_class, goldstein,
                        plover, cue, cue_start, cue_end, source, target, modality, confidence)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .map_err(classify)?;
            // A batch holds runs of sentences of the same article: write each article once.
            let mut last_article: Option<&str> = None;
            for Encoded { event: e, payload } in events {
                if last_article != Some(e.article_id.as_str()) {
                    article
                        .execute(params![
                            e.article_id,
                            e.article.title,
                            e.article.source,
                            e.article.url,
                            e.article.published_at.map(OffsetDateTime::unix_timestamp),
                            e.sentence_count,
                            now,
                        ])
                        .map_err(classify)?;
                    last_article = Some(e.article_id.as_str());
                }
                let inserted = event
                    .execute(params![
                        e.event_id,
                        e.article_id,
                        e.sentence_index,
                        e.text,
                        e.category.as_str(),
                        e.event_time().unix_timestamp(),
                        unix_ms(e.ingested_at),
                        unix_ms(OffsetDateTime::now_utc()),
                        &*e.classifier_version,
                        payload,
                    ])
                    .map_err(classify)?;
                if inserted == 0 {
                    report.duplicates += 1;
                    continue;
                }
                report.stored += 1;
                let row = tx.last_insert_rowid();
                // The reporter is recorded among the actors unless it is one already.
                let reporter = e
                    .reporter
                    .iter()
                    .filter(|r| e.actors.iter().all(|a| a.code != r.code))
                    .map(|a| (a, true));
                for (a, is_reporter) in e.actors.iter().map(|a| (a, false)).chain(reporter) {
                    actor
                        .execute(params![
                            row,
                            a.code.as_str(),
                            a.country.as_deref(),
                            a.role.as_deref(),
                            a.mention.as_str(),
                            int(a.span.start),
                            int(a.span.end),
                            is_reporter,
                        ])
                        .map_err(classify)?;
                }
                for (seq, c) in e.events.iter().enumerate() {
                    category
                        .execute(params![
                            row,
                            int(seq),
                            c.code.as_str(),
                            c.root.as_str(),
                            c.category.as_str(),
                            c.quad_class,
                            c.goldstein,
                            c.plover.as_deref(),
                            c.cue.as_str(),
                            int(c.cue_span.start),
                            int(c.cue_span.end),
                            c.source.as_deref(),
                            c.target.as_deref(),
                            c.modality.as_str(),
                            c.confidence,
                        ])
                        .map_err(classify)?;
                }
            }
        }
        tx.commit().map_err(classify)?;
        self.written.store(true, Ordering::Relaxed);
        Ok(report)
    }

    fn query(&self, filter: &Filter) -> Result<Vec<TaggedEvent>, StoreError> {
        let (sql, values) = filter.clone().normalised()?.to_sql(Dialect::Sqlite);
        let args = values.into_iter().map(|v| match v {
            SqlValue::Text(text) => Value::Text(text),
            SqlValue::Integer(n) => Value::Integer(n),
        });
        let mut statement = self.conn.prepare(&sql).map_err(classify)?;
        let rows = statement
            .query_map(params_from_iter(args), |row| row.get::<_, String>(0))
            .map_err(classify)?;
        let mut events = Vec::new();
        for payload in rows {
            let payload = payload.map_err(classify)?;
            let event = TaggedEvent::decode_str(&payload)
                .map_err(|e| StoreError::Permanent(format!("stored payload unreadable: {e}")))?;
            events.push(event);
        }
        Ok(events)
    }

    fn count(&self, article_id: Option<&str>) -> Result<usize, StoreError> {
        let n: i64 = match article_id {
            Some(id) => self
                .conn
                .query_row(&COUNT_BY_ARTICLE, [id], |r| r.get(0))
                .optional()
                .map_err(classify)?
                .unwrap_or(0),
            None => self
                .conn
                .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
                .map_err(classify)?,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, event};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("sub/events.db")).expect("opens");
        (dir, store)
    }

    /// The checkpointer copies commits into the database file soon after, and under a steady
    /// stream of commits the log still starts afresh: it stays bounded.
    #[test]
    fn the_checkpointer_copies_commits_into_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let mut s = SqliteStore::open(&path).expect("opens");
        let size = || std::fs::metadata(&path).expect("database file").len();
        let before = size();
        let events: Vec<TaggedEvent> = (0..2_000)
            .map(|i| conformance::event(&format!("a{}", i / 10), i % 10, &[("UKR", "UKR")], None))
            .collect();
        s.store(&events).expect("stores");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 10 s: the database file stayed at {before} bytes"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // 120 batches back to back, about 60 MB of log in all: the log file stays near the
        // `WAL_PAGES` (16 MB) at which the writer checkpoints.
        let wal = dir.path().join("events.db-wal");
        for batch in 0..120 {
            let events: Vec<TaggedEvent> = (0..250)
                .map(|i| {
                    let article = format!("b{batch}-{}", i / 10);
                    let mut e = conformance::event(&article, i % 10, &[], None);
                    e.text = "x".repeat(1_000);
                    e
                })
                .collect();
            s.store(&events).expect("stores");
        }
        let wal_size = std::fs::metadata(&wal).expect("log file").len();
        assert!(
            wal_size < (WAL_PAGES as u64 * 4096) * 3 / 2,
            "the log grew to {wal_size} bytes"
        );
        // Dropping the store stops the checkpointer; the data is all there on reopening.
        drop(s);
        let reopened = SqliteStore::open(&path).expect("reopens");
        let filter = Filter {
            limit: Some(100_000),
            ..Filter::default()
        };
        assert_eq!(reopened.query(&filter).expect("queries").len(), 32_000);
    }

    /// Replicas of the sink share one database file: those that open it at once all migrate
    /// it (each migration applied once) and then write into it side by side, none of them
    /// failing on the other's lock. A deferred transaction that read before it wrote failed
    /// at once (SQLite does not wait when a reader's snapshot is stale) and stopped a replica
    /// at its start.
    #[test]
    fn replicas_opening_and_writing_one_file_at_once_wait_for_each_other() {
        const REPLICAS: usize = 4;
        for round in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("events.db");
            let start = Arc::new(std::sync::Barrier::new(REPLICAS));
            let replicas: Vec<_> = (0..REPLICAS)
                .map(|replica| {
                    let path = path.clone();
                    let start = Arc::clone(&start);
                    std::thread::spawn(move || {
                        start.wait();
                        let mut store = SqliteStore::open(&path)
                            .map_err(|e| format!("round {round}, replica {replica} opens: {e}"))?;
                        for batch in 0..20 {
                            let events: Vec<TaggedEvent> = (0..10)
                                .map(|i| {
                                    let article = format!("r{replica}-b{batch}");
                                    conformance::event(&article, i, &[("UKR", "UKR")], None)
                                })
                                .collect();
                            store.store(&events).map_err(|e| {
                                format!("round {round}, replica {replica} stores: {e}")
                            })?;
                        }
                        Ok::<_, String>(())
                    })
                })
                .collect();
            for replica in replicas {
                replica
                    .join()
                    .expect("replica thread")
                    .expect("no lock error");
            }
            let store = SqliteStore::open(&path).expect("reopens");
            let applied: i64 = store
                .conn
                .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
                .expect("counts migrations");
            assert_eq!(applied, MIGRATIONS.len() as i64);
            let filter = Filter {
                limit: Some(10_000),
                ..Filter::default()
            };
            assert_eq!(store.query(&filter).expect("queries").len(), REPLICAS * 200);
        }
    }

    /// `newswire query` (or another replica) opens a database that is up to date while the
    /// sink holds its write lock: it reads without waiting for the lock.
    #[test]
    fn an_up_to_date_database_opens_while_another_connection_holds_the_write_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let mut writer = SqliteStore::open(&path).expect("opens");
        writer
            .store(&[conformance::event("a1", 0, &[("UKR", "UKR")], None)])
            .expect("stores");
        let holder = Connection::open(&path).expect("second connection");
        holder
            .execute_batch("BEGIN IMMEDIATE")
            .expect("takes the write lock");
        let reader = SqliteStore::open(&path).expect("opens without the write lock");
        assert_eq!(reader.count(None).expect("counts"), 1);
        holder.execute_batch("ROLLBACK").expect("lets go");
    }

    #[test]
    fn writes_are_idempotent() {
        let (_dir, mut s) = store();
        conformance::writes_are_idempotent(&mut s);
    }

    #[test]
    fn queries_filter_by_actor_country_category_article_and_time() {
        let (_dir, mut s) = store();
        conformance::queries_filter_by_actor_country_category_article_and_time(&mut s);
    }

    #[test]
    fn articles_whose_ids_prefix_one_another_stay_apart() {
        let (_dir, mut s) = store();
        conformance::articles_whose_ids_prefix_one_another_stay_apart(&mut s);
    }

    /// The steps of SQLite's plan for `sql` with `params` (EXPLAIN QUERY PLAN's detail column).
    fn query_plan(s: &SqliteStore, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        s.conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepares")
            .query_map(params, |r| r.get::<_, String>(3))
            .expect("plans")
            .collect::<Result<_, _>>()
            .expect("reads the plan")
    }

    /// Queries and counts by article search the primary key's index by the id's prefix: the
    /// index by article that migration 4 dropped is not missed.
    #[test]
    fn article_queries_search_the_event_id_index() {
        let (_dir, s) = store();
        let (sql, _) = Filter {
            article_id: Some("aa".into()),
            ..Filter::default()
        }
        .to_sql(Dialect::Sqlite);
        for sql in [sql, COUNT_BY_ARTICLE.clone()] {
            let steps = query_plan(&s, &sql, ["aa"]);
            assert!(
                steps.iter().any(|s| s
                    .contains("USING INDEX sqlite_autoindex_events_1 (event_id>? AND event_id<?)")),
                "{sql}: {steps:?}"
            );
        }
    }

    /// Migration 5 dropped the events' index by category: the events keep their key's index
    /// and the time's, and the filter for events that code nothing walks the time index like
    /// every other filter.
    #[test]
    fn the_none_filter_walks_the_events_by_time() {
        let (_dir, s) = store();
        let indexes: Vec<String> = s
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name",
            )
            .expect("prepares")
            .query_map([], |r| r.get(0))
            .expect("lists")
            .collect::<Result<_, _>>()
            .expect("reads");
        assert_eq!(indexes, ["events_by_time", "sqlite_autoindex_events_1"]);
        let (sql, _) = Filter {
            category: Some(newswire_shared::CATEGORY_NONE.into()),
            ..Filter::default()
        }
        .to_sql(Dialect::Sqlite);
        let steps = query_plan(&s, &sql, [newswire_shared::CATEGORY_NONE]);
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX events_by_time")),
            "{steps:?}"
        );
    }

    /// Every filter reaches actor and category rows through their event's index, never by a
    /// scan of those tables: the indexes migration 3 dropped are not missed.
    #[test]
    fn filters_search_child_rows_by_their_event() {
        let (_dir, s) = store();
        let text = |v: &str| Some(v.to_owned());
        for filter in [
            Filter {
                actor: text("PRK"),
                ..Filter::default()
            },
            Filter {
                country: text("PRK"),
                ..Filter::default()
            },
            Filter {
                category: text("threaten"),
                ..Filter::default()
            },
            Filter {
                category: text("none"),
                ..Filter::default()
            },
            Filter {
                actor: text("RUSGOV"),
                category: text("13"),
                limit: Some(5),
                ..Filter::default()
            },
        ] {
            let (sql, values) = filter.to_sql(Dialect::Sqlite);
            let params: Vec<Value> = values
                .into_iter()
                .map(|v| match v {
                    SqlValue::Text(t) => Value::Text(t),
                    SqlValue::Integer(n) => Value::Integer(n),
                })
                .collect();
            let steps = query_plan(&s, &sql, params_from_iter(params));
            for step in &steps {
                assert!(
                    !(step.starts_with("SCAN a") || step.starts_with("SCAN c")),
                    "{filter:?} scans a child table: {steps:?}"
                );
            }
        }
    }

    #[test]
    fn stored_events_round_trip_and_reopen_keeps_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.db");
        let original = event("cc", 3, &[("UKR", "UKR")], Some(("07", "provide_aid")));
        SqliteStore::open(&path)
            .expect("opens")
            .store(std::slice::from_ref(&original))
            .expect("stores");
        let reopened = SqliteStore::open(&path).expect("reopens");
        assert_eq!(
            reopened.query(&Filter::default()).expect("queries"),
            vec![original]
        );
    }

    #[test]
    fn a_version_one_database_is_migrated_with_its_actor_and_category_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        // A store written by the first schema: event rows keyed by event id.
        {
            let conn = Connection::open(&path).expect("opens");
            conn.execute_batch(MIGRATIONS[0]).expect("version 1");
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
                 INSERT INTO schema_migrations VALUES (1, 0);",
            )
            .expect("recorded");
            let e = event(
                "dd",
                1,
                &[("PRKMIL", "PRK"), ("KORGOV", "KOR")],
                Some(("13", "threaten")),
            );
            let payload = serde_json::to_string(&e).expect("encodes");
            conn.execute(
                "INSERT INTO articles VALUES (?1, NULL, NULL, NULL, 86400, 10, 0)",
                [&e.article_id],
            )
            .expect("article");
            conn.execute(
                "INSERT INTO events VALUES (?1, ?2, 1, 'text', 'threaten', 86400, 0, 0, 'v', ?3)",
                params![e.event_id, e.article_id, payload],
            )
            .expect("event");
            for (code, country) in [("PRKMIL", "PRK"), ("KORGOV", "KOR")] {
                conn.execute(
                    "INSERT INTO event_actors VALUES (?1, ?2, ?3, NULL, ?2, 0, 1, 0)",
                    params![e.event_id, code, country],
                )
                .expect("actor");
            }
            conn.execute(
                "INSERT INTO event_categories VALUES (?1, 0, '130', '13', 'threaten', 3, -4.4, NULL, 'x', 0, 1, NULL, NULL, 'asserted', 0.9)",
                [&e.event_id],
            )
            .expect("category");
        }
        let mut store = SqliteStore::open(&path).expect("migrates");
        let by = |filter: Filter| store.query(&filter).expect("queries").len();
        assert_eq!(
            by(Filter {
                actor: Some("PRK".into()),
                ..Filter::default()
            }),
            1
        );
        assert_eq!(
            by(Filter {
                country: Some("KOR".into()),
                ..Filter::default()
            }),
            1
        );
        assert_eq!(
            by(Filter {
                category: Some("13".into()),
                ..Filter::default()
            }),
            1
        );
        assert_eq!(
            by(Filter {
                country: Some("RUS".into()),
                ..Filter::default()
            }),
            0
        );
        // New events go on after the migrated one.
        let next = event("dd", 2, &[("RUSGOV", "RUS")], Some(("13", "threaten")));
        store.store(std::slice::from_ref(&next)).expect("stores");
        assert_eq!(
            store
                .query(&Filter {
                    country: Some("RUS".into()),
                    ..Filter::default()
                })
                .expect("queries"),
            vec![next]
        );
    }

    #[test]
    fn unsupported_urls_are_refused() {
        assert!(matches!(
            crate::store::open("mysql://x"),
            Err(StoreError::Url { .. })
        ));
    }
}
