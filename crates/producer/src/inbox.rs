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
    let stop = shutdown.clone().wait();
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
                let retry_in = inbox.scan(&shutdown).await;
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

    /// Takes every settled file, oldest first, until `stop` is triggered (the file in hand is
    /// finished). Returns when to look again if some file was still changing or could not be
    /// published (NATS down), `None` when the inbox is empty.
    pub async fn scan(&self, stop: &Shutdown) -> Option<Duration> {
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
            if stop.is_triggered() {
                return None;
            }
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
        let read = std::fs::File::open(path).and_then(|file| {
            let identity = Identity::of(&file.metadata()?);
            Ok((identity, read_limited(file, max)?))
        });
        let (identity, bytes) = match read {
            Ok(read) => read,
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
            self.move_read(path, &identity, &self.done)?;
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
                self.move_read(path, &identity, &self.done)?;
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
                if let Some(moved) = self.move_read(path, &identity, &self.rejected)? {
                    let mut reason_path = moved.into_os_string();
                    reason_path.push(".reason.txt");
                    std::fs::write(&reason_path, format!("{reason}\n")).map_err(|source| {
                        ProducerError::Io {
                            path: reason_path.clone().into(),
                            source,
                        }
                    })?;
                }
                warn!(stage = "producer", input = "inbox", file = %name, outcome = "rejected", reason = %reason, "inbox file rejected");
                Ok(FileOutcome::Rejected { reason })
            }
            Err(e) => Err(e),
        }
    }

    /// Moves the file read from `path` into `folder`: `None` when it is no longer there (another
    /// replica took it) or was written again since it was read, and is then left for the next
    /// scan to take as a new file.
    fn move_read(
        &self,
        path: &Path,
        identity: &Identity,
        folder: &Path,
    ) -> Result<Option<PathBuf>, ProducerError> {
        let moved =
            move_if_unchanged(path, identity, folder).map_err(|source| ProducerError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(match moved {
            Moved::To(target) => {
                debug!(file = %path.display(), to = %target.display(), "moved");
                Some(target)
            }
            Moved::Gone => {
                debug!(file = %path.display(), "moved by another replica");
                None
            }
            Moved::Changed => {
                info!(stage = "producer", input = "inbox", file = %path.display(), "inbox file written again while it was taken: left for the next scan");
                None
            }
        })
    }
}

/// What tells the file a path names from another written under the same name since (in place
/// or by a rename over it).
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
        }
    }
}

/// Where [`move_if_unchanged`] left a file.
#[derive(Debug)]
enum Moved {
    To(PathBuf),
    /// Not there any more.
    Gone,
    /// Another file, or the same one written again, is at the path now: left there.
    Changed,
}

/// Moves the file at `path` into `folder` (keeping its name unless one of that name is there
/// already) if it is still the file `identity` describes. A writer reusing a name (an exporter
/// writing `latest.txt` again) can replace it while it is being published: moving whatever is
/// at the path then would set aside content never published. What is left is the instant
/// between the check and the rename.
fn move_if_unchanged(path: &Path, identity: &Identity, folder: &Path) -> std::io::Result<Moved> {
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    match std::fs::metadata(path) {
        Ok(meta) if Identity::of(&meta) != *identity => return Ok(Moved::Changed),
        Ok(_) => {}
        Err(e) if gone(&e) => return Ok(Moved::Gone),
        Err(e) => return Err(e),
    }
    let name = path.file_name().unwrap_or_default();
    let mut target = folder.join(name);
    if target.exists() {
        let stamp = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let mut renamed = name.to_owned();
        renamed.push(format!(".{stamp}"));
        target = folder.join(renamed);
    }
    match std::fs::rename(path, &target) {
        Ok(()) => Ok(Moved::To(target)),
        Err(e) if gone(&e) => Ok(Moved::Gone),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(path: &Path) -> Identity {
        Identity::of(&std::fs::metadata(path).expect("metadata"))
    }

    #[test]
    fn a_file_is_moved_only_while_it_is_the_one_that_was_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = dir.path().join("done");
        std::fs::create_dir(&done).expect("done folder");
        let path = dir.path().join("latest.txt");

        // Unchanged: moved.
        std::fs::write(&path, "first edition").expect("writes");
        let read = identity(&path);
        let moved = move_if_unchanged(&path, &read, &done).expect("moves");
        assert!(matches!(moved, Moved::To(ref to) if to == &done.join("latest.txt")));
        assert!(!path.exists());

        // Written again in place since it was read: left.
        std::fs::write(&path, "second edition").expect("writes");
        let read = identity(&path);
        std::fs::write(&path, "third edition, longer").expect("writes again");
        assert!(matches!(
            move_if_unchanged(&path, &read, &done).expect("checks"),
            Moved::Changed
        ));
        assert_eq!(
            std::fs::read_to_string(&path).expect("still there"),
            "third edition, longer"
        );

        // Replaced by a rename over it, same length: another file, left.
        let read = identity(&path);
        let staged = dir.path().join(".latest.txt.tmp");
        std::fs::write(&staged, "fourth edition, longer").expect("writes");
        std::fs::rename(&staged, &path).expect("renames over");
        assert!(matches!(
            move_if_unchanged(&path, &read, &done).expect("checks"),
            Moved::Changed
        ));

        // Taken by another replica: gone, no error.
        let read = identity(&path);
        std::fs::remove_file(&path).expect("removes");
        assert!(matches!(
            move_if_unchanged(&path, &read, &done).expect("checks"),
            Moved::Gone
        ));
    }
}
