//! The inbox folder: every file written or moved into it is published once, then moved to
//! `done/`, or to `rejected/` with the reason beside it (`NAME.reason.txt`).
//!
//! Restart-safe: a file is moved only after the stream has acknowledged all its events and
//! its content digest is recorded in the `SEEN` bucket, so a file found again after a crash
//! (published, not yet moved) is moved without being published twice; files already present
//! at start-up are taken like new ones. Change notifications (inotify) only wake the scanner:
//! a periodic rescan catches anything they miss, and a file is taken only once it has not
//! changed for the settle time, so a writer still writing is not read half-way.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use newswire_shared::ArticleMeta;
use newswire_shared::shutdown::Shutdown;
use notify::{RecursiveMode, Watcher};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::article::{InputFormat, read_limited};
use crate::ingest::Ingestor;
use crate::publish::ProducerError;
use crate::seen::{Seen, digest};

/// Where and how the inbox is watched.
#[derive(Debug, Clone)]
pub struct InboxConfig {
    pub dir: PathBuf,
    /// A full scan runs this often whatever the notifications say.
    pub rescan: Duration,
    /// A file must be unchanged this long before it is read.
    pub settle: Duration,
}

impl InboxConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            rescan: Duration::from_secs(30),
            settle: Duration::from_millis(500),
        }
    }
}

/// What happened to one inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Published {
        articles: usize,
        events: usize,
    },
    /// Published before (a restart between publishing and moving it): moved only.
    AlreadyPublished,
    Rejected {
        reason: String,
    },
}

#[derive(Debug, Serialize)]
struct Record<'a> {
    file: &'a str,
    article_ids: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    published_at: OffsetDateTime,
}

/// Watches the inbox until `shutdown`; returns after the file in hand is finished.
pub async fn watch(
    config: InboxConfig,
    ingestor: Ingestor,
    seen: Seen,
    shutdown: Shutdown,
) -> Result<(), ProducerError> {
    let inbox = Inbox::open(config, ingestor, seen)?;
    let (wake_tx, mut wake) = mpsc::channel::<()>(1);
    let dir = inbox.config.dir.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already holds a wake-up: nothing is lost by dropping this one.
            let _ = wake_tx.try_send(());
        }
    })
    .map_err(|e| watch_error(&dir, &e))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(&dir, &e))?;
    info!(stage = "producer", input = "inbox", dir = %dir.display(), "watching inbox");
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut next_scan = tokio::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            _ = wake.recv() => {
                // Let a burst of notifications (a copy in progress) settle into one scan.
                next_scan = next_scan.min(tokio::time::Instant::now() + Duration::from_millis(50));
            }
            () = tokio::time::sleep_until(next_scan) => {
                let retry_in = inbox.scan().await;
                next_scan = tokio::time::Instant::now() + retry_in.unwrap_or(inbox.config.rescan);
            }
        }
    }
    drop(watcher);
    info!(stage = "producer", input = "inbox", "inbox closed");
    Ok(())
}

fn watch_error(dir: &Path, e: &notify::Error) -> ProducerError {
    ProducerError::Watch {
        path: dir.to_owned(),
        reason: e.to_string(),
    }
}

/// The inbox's folders and the path every file takes.
#[derive(Debug)]
pub struct Inbox {
    config: InboxConfig,
    ingestor: Ingestor,
    seen: Seen,
    done: PathBuf,
    rejected: PathBuf,
}

impl Inbox {
    /// Creates `done/` and `rejected/` inside the inbox folder.
    pub fn open(
        config: InboxConfig,
        ingestor: Ingestor,
        seen: Seen,
    ) -> Result<Self, ProducerError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ProducerError::Io { path, source }
        };
        if !config.dir.is_dir() {
            return Err(ProducerError::Config(format!(
                "inbox {} is not a directory",
                config.dir.display()
            )));
        }
        let done = config.dir.join("done");
        let rejected = config.dir.join("rejected");
        std::fs::create_dir_all(&done).map_err(io(&done))?;
        std::fs::create_dir_all(&rejected).map_err(io(&rejected))?;
        Ok(Self {
            config,
            ingestor,
            seen,
            done,
            rejected,
        })
    }

    /// Takes every settled file, oldest first. Returns when to look again if some file was
    /// still changing or could not be published (NATS down), `None` when the inbox is empty.
    pub async fn scan(&self) -> Option<Duration> {
        let mut files = match self.candidates() {
            Ok(files) => files,
            Err(e) => {
                warn!(stage = "producer", input = "inbox", error = %e, "cannot list the inbox");
                return Some(self.config.settle.max(Duration::from_secs(1)));
            }
        };
        files.sort();
        let mut retry: Option<Duration> = None;
        let now = SystemTime::now();
        for (modified, path) in files {
            let age = now.duration_since(modified).unwrap_or_default();
            if age < self.config.settle {
                let wait = self.config.settle - age + Duration::from_millis(10);
                retry = Some(retry.map_or(wait, |r| r.min(wait)));
                continue;
            }
            if let Err(e) = self.take(&path).await {
                warn!(stage = "producer", input = "inbox", file = %path.display(), outcome = "retry", error = %e, "inbox file left for the next scan");
                let wait = Duration::from_secs(2);
                retry = Some(retry.map_or(wait, |r| r.min(wait)));
            }
        }
        retry
    }

    /// Regular files directly in the inbox, skipping hidden and temporary names that writers
    /// use before renaming a finished file into place.
    fn candidates(&self) -> std::io::Result<Vec<(SystemTime, PathBuf)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.config.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.')
                || name.ends_with('~')
                || [".tmp", ".part", ".partial", ".crdownload", ".swp"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
            {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_file() {
                files.push((meta.modified()?, entry.path()));
            }
        }
        Ok(files)
    }

    /// Publishes one file and moves it. An error means the file stays for a later attempt.
    pub async fn take(&self, path: &Path) -> Result<FileOutcome, ProducerError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let max = self.ingestor.limits().max_article_bytes;
        let bytes = match std::fs::File::open(path).and_then(|file| read_limited(file, max)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileOutcome::AlreadyPublished); // taken by another replica
            }
            Err(source) => {
                return Err(ProducerError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let key = format!("inbox.{}", digest(&bytes));
        if self.seen.contains(&key).await? {
            self.move_to(path, &self.done)?;
            info!(stage = "producer", input = "inbox", file = %name, outcome = "duplicate", "inbox file published before; moved to done");
            return Ok(FileOutcome::AlreadyPublished);
        }
        let defaults = ArticleMeta::default();
        match self
            .ingestor
            .ingest(&bytes, InputFormat::from_path(path), &defaults, "inbox")
            .await
        {
            Ok(receipts) => {
                let record = Record {
                    file: &name,
                    article_ids: receipts.iter().map(|r| r.article_id.clone()).collect(),
                    published_at: OffsetDateTime::now_utc(),
                };
                let note = serde_json::to_vec(&record).unwrap_or_default();
                self.seen.put(&key, note).await?;
                self.move_to(path, &self.done)?;
                let events = receipts.iter().map(|r| r.published + r.duplicates).sum();
                for r in &receipts {
                    info!(stage = "producer", input = "inbox", file = %name, article_id = %r.article_id, events = r.published + r.duplicates, duplicates = r.duplicates, outcome = "published", "inbox file published");
                }
                Ok(FileOutcome::Published {
                    articles: receipts.len(),
                    events,
                })
            }
            Err(ProducerError::Input(e)) => {
                let reason = e.to_string();
                let moved = self.move_to(path, &self.rejected)?;
                let mut reason_path = moved.into_os_string();
                reason_path.push(".reason.txt");
                std::fs::write(&reason_path, format!("{reason}\n")).map_err(|source| {
                    ProducerError::Io {
                        path: reason_path.clone().into(),
                        source,
                    }
                })?;
                warn!(stage = "producer", input = "inbox", file = %name, outcome = "rejected", reason = %reason, "inbox file rejected");
                Ok(FileOutcome::Rejected { reason })
            }
            Err(e) => Err(e),
        }
    }

    /// Moves `path` into `folder`, keeping its name unless one of that name is already there.
    fn move_to(&self, path: &Path, folder: &Path) -> Result<PathBuf, ProducerError> {
        let name = path.file_name().unwrap_or_default();
        let mut target = folder.join(name);
        if target.exists() {
            let stamp = OffsetDateTime::now_utc().unix_timestamp_nanos();
            let mut renamed = name.to_owned();
            renamed.push(format!(".{stamp}"));
            target = folder.join(renamed);
        }
        std::fs::rename(path, &target).map_err(|source| ProducerError::Io {
            path: path.to_owned(),
            source,
        })?;
        debug!(file = %path.display(), to = %target.display(), "moved");
        Ok(target)
    }
}
