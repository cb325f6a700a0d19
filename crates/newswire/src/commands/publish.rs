//! `newswire publish`: files, folders (recursively), globs and standard input, in any input
//! format. Every input is checked before the first publish (events against the limits and
//! the server's max payload); a refused input publishes nothing unless `--keep-going` is given,
//! which publishes the rest and reports the refused ones.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use newswire_producer::{
    InputFormat, Limits, ProducerError, Published, Publisher, prepare_input, read_limited,
};
use newswire_shared::nats::NatsArgs;
use newswire_shared::{ArticleMeta, RawEvent};
use time::OffsetDateTime;
use tracing::info;

use crate::cli::{InputFormatArg, PublishArgs};
use crate::errors::{DataError, Unavailable, UsageError};

/// Prepared events kept between the check and the publishing pass, in bytes (about).
const KEEP_BYTES: usize = 64 * 1024 * 1024;

/// What the check pass found of one input.
#[derive(Debug)]
enum Verdict {
    Refused,
    /// Accepted, its prepared events kept for the publishing pass.
    Kept(Vec<Vec<RawEvent>>),
    /// Accepted, to be prepared again (past the memory budget).
    Accepted,
}

/// Events published in one pipelined run of acknowledgements.
const PUBLISH_BATCH: usize = 2048;

/// One thing to read: a file, or standard input (read once and kept).
#[derive(Debug)]
enum Input {
    File(PathBuf),
    Stdin(Vec<u8>),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Stdin(_) => "standard input".to_owned(),
        }
    }
}

/// What a whole `publish` run did.
#[derive(Debug, Default)]
pub struct Totals {
    pub inputs: usize,
    pub articles: usize,
    pub published: usize,
    pub duplicates: usize,
    pub refused: Vec<(String, String)>,
}

pub async fn run(args: PublishArgs) -> Result<()> {
    args.nats
        .subjects()
        .map_err(|e| UsageError(e.to_string()))?;
    let published_at = args
        .published_at
        .as_deref()
        .map(|v| {
            newswire_producer::article::parse_date(v).ok_or_else(|| {
                UsageError(format!(
                    "--published-at {v:?} is neither RFC 3339 nor YYYY-MM-DD"
                ))
            })
        })
        .transpose()?;
    let defaults = ArticleMeta {
        source: args.source,
        title: args.title,
        url: args.url,
        published_at,
        language: args
            .language
            .as_deref()
            .and_then(newswire_producer::article::normalise_language),
    };
    let format = match args.format {
        InputFormatArg::Auto => None,
        InputFormatArg::Text => Some(InputFormat::Text),
        InputFormatArg::Json => Some(InputFormat::Json),
        InputFormatArg::Html => Some(InputFormat::Html),
        InputFormatArg::Markdown => Some(InputFormat::Markdown),
    };
    let limits = args.limits.limits();
    let inputs = expand(&args.inputs, &limits)?;
    let totals = publish_inputs(
        &args.nats,
        &inputs,
        format,
        &limits,
        &defaults,
        args.keep_going,
    )
    .await?;
    println!(
        "published {} events from {} articles ({} duplicates skipped)",
        totals.published, totals.articles, totals.duplicates
    );
    if !totals.refused.is_empty() {
        for (name, reason) in &totals.refused {
            eprintln!("refused {name}: {reason}");
        }
        return Err(DataError(format!(
            "{} of {} inputs refused",
            totals.refused.len(),
            totals.inputs
        ))
        .into());
    }
    Ok(())
}

/// Files named, folders walked (hidden entries skipped, files sorted), globs matched, `-` read.
fn expand(patterns: &[PathBuf], limits: &Limits) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut stdin_read = false;
    for pattern in patterns {
        let text = pattern.to_string_lossy();
        if text == "-" {
            if stdin_read {
                return Err(UsageError("`-` (standard input) given twice".into()).into());
            }
            stdin_read = true;
            let buffer = read_limited(std::io::stdin(), limits.max_article_bytes)
                .map_err(|e| DataError(format!("cannot read standard input: {e}")))?;
            inputs.push(Input::Stdin(buffer));
        } else if pattern.is_dir() {
            let mut files = Vec::new();
            for entry in walkdir::WalkDir::new(pattern)
                .follow_links(true)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
            {
                let entry = entry.map_err(|e| DataError(format!("cannot read {text}: {e}")))?;
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                }
            }
            files.sort();
            inputs.extend(files.into_iter().map(Input::File));
        } else if !pattern.exists() && text.contains(['*', '?', '[']) {
            let matches = glob::glob(&text)
                .map_err(|e| UsageError(format!("invalid pattern {text:?}: {e}")))?;
            let mut files = Vec::new();
            for path in matches {
                let path = path.map_err(|e| DataError(format!("cannot read {text}: {e}")))?;
                if path.is_file() {
                    files.push(path);
                }
            }
            if files.is_empty() {
                return Err(DataError(format!("no file matches {text:?}")).into());
            }
            inputs.extend(files.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(pattern.clone()));
        }
    }
    Ok(inputs)
}

/// Reads and prepares one input; the error is the reason it is refused.
fn prepare_one(
    input: &Input,
    format: Option<InputFormat>,
    limits: &Limits,
    defaults: &ArticleMeta,
    now: OffsetDateTime,
) -> Result<Vec<Vec<RawEvent>>, String> {
    let (bytes, format) = match input {
        Input::Stdin(bytes) => (
            std::borrow::Cow::Borrowed(bytes.as_slice()),
            format.unwrap_or_default(),
        ),
        Input::File(path) => (
            std::borrow::Cow::Owned(
                std::fs::File::open(path)
                    .and_then(|file| read_limited(file, limits.max_article_bytes))
                    .map_err(|e| format!("cannot read it: {e}"))?,
            ),
            format.unwrap_or_else(|| InputFormat::from_path(path)),
        ),
    };
    prepare_input(&bytes, format, limits, defaults, now).map_err(|e| e.to_string())
}

fn progress(len: usize, what: &'static str) -> ProgressBar {
    // Only worth drawing for batches that take a while, and only for a person watching.
    if len < 20 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} files ({per_sec}, {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// Checks every input, then publishes those accepted in pipelined batches.
async fn publish_inputs(
    nats: &NatsArgs,
    inputs: &[Input],
    format: Option<InputFormat>,
    limits: &Limits,
    defaults: &ArticleMeta,
    keep_going: bool,
) -> Result<Totals> {
    let now = OffsetDateTime::now_utc();
    let mut totals = Totals {
        inputs: inputs.len(),
        ..Totals::default()
    };
    // First pass: every input is prepared and checked, down to each event's size against the
    // server's max payload, before anything is published. Prepared events are kept up to a
    // budget, so a large folder is read twice rather than held in memory.
    let bar = progress(inputs.len(), "checking");
    let mut publisher: Option<Publisher> = None;
    let mut unreachable: Option<anyhow::Error> = None;
    let mut kept_bytes = 0usize;
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let verdict = match prepare_one(input, format, limits, defaults, now) {
            Err(reason) => {
                totals.refused.push((input.name(), reason));
                Verdict::Refused
            }
            Ok(articles) => {
                if publisher.is_none() && unreachable.is_none() {
                    // Connected on the first good input: bad input alone needs no server.
                    match connect(nats, limits).await {
                        Ok(p) => publisher = Some(p),
                        Err(e) => unreachable = Some(e),
                    }
                }
                let checked = publisher.as_ref().map_or(Ok(()), |p| {
                    articles.iter().try_for_each(|events| p.check(events))
                });
                match checked {
                    Err(e) => {
                        totals.refused.push((input.name(), e.to_string()));
                        Verdict::Refused
                    }
                    Ok(()) => {
                        let size: usize =
                            articles.iter().flatten().map(|e| e.text.len() + 512).sum();
                        if kept_bytes + size <= KEEP_BYTES {
                            kept_bytes += size;
                            Verdict::Kept(articles)
                        } else {
                            Verdict::Accepted
                        }
                    }
                }
            }
        };
        verdicts.push(verdict);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !totals.refused.is_empty() && !keep_going {
        let (name, reason) = &totals.refused[0];
        let more = match totals.refused.len() {
            1 => String::new(),
            n => format!(" (and {} more inputs)", n - 1),
        };
        return Err(DataError(format!(
            "refused {name}: {reason}{more}; nothing was published"
        ))
        .into());
    }
    if let Some(e) = unreachable {
        return Err(e);
    }
    let Some(publisher) = publisher else {
        return Ok(totals); // nothing was accepted
    };
    let bar = progress(inputs.len(), "publishing");
    let mut batch: Vec<RawEvent> = Vec::new();
    for (input, verdict) in inputs.iter().zip(verdicts) {
        let articles = match verdict {
            Verdict::Refused => None,
            Verdict::Kept(articles) => Some(articles),
            // Read again, past the memory budget; a file changed in between is refused.
            Verdict::Accepted => match prepare_one(input, format, limits, defaults, now) {
                Ok(articles) => Some(articles),
                Err(reason) => {
                    totals.refused.push((input.name(), reason));
                    None
                }
            },
        };
        if let Some(articles) = articles {
            totals.articles += articles.len();
            batch.extend(articles.into_iter().flatten());
            if batch.len() >= PUBLISH_BATCH {
                add(&mut totals, publish_batch(&publisher, &batch).await?);
                batch.clear();
            }
        }
        bar.inc(1);
    }
    if !batch.is_empty() {
        add(&mut totals, publish_batch(&publisher, &batch).await?);
    }
    bar.finish_and_clear();
    info!(
        inputs = totals.inputs,
        articles = totals.articles,
        published = totals.published,
        duplicates = totals.duplicates,
        refused = totals.refused.len(),
        "articles published"
    );
    Ok(totals)
}

fn add(totals: &mut Totals, published: Published) {
    totals.published += published.published;
    totals.duplicates += published.duplicates;
}

async fn connect(nats: &NatsArgs, limits: &Limits) -> Result<Publisher> {
    nats.subjects().map_err(|e| UsageError(e.to_string()))?;
    Ok(Publisher::connect(nats)
        .await
        .map_err(|e| match e {
            ProducerError::Nats(newswire_shared::nats::NatsError::Connect { .. }) => {
                anyhow::Error::new(Unavailable(e.to_string()))
            }
            e => anyhow::Error::new(e),
        })?
        .with_limits(limits))
}

async fn publish_batch(publisher: &Publisher, events: &[RawEvent]) -> Result<Published> {
    publisher.publish_events(events).await.map_err(|e| match e {
        ProducerError::Input(e) => anyhow::Error::new(DataError(e.to_string())),
        e => anyhow::Error::new(e),
    })
}

/// Publishes already prepared events (the demo's article), summing what the stream did.
pub async fn publish_prepared(
    nats: &NatsArgs,
    events: &[RawEvent],
    limits: &Limits,
) -> Result<Published> {
    let publisher = connect(nats, limits).await?;
    publish_batch(&publisher, events).await
}

/// Publishes files (as `publish` does, all or nothing) for `newswire up --publish`.
pub async fn publish_files(nats: &NatsArgs, files: &[PathBuf]) -> Result<Totals> {
    let limits = Limits::default();
    let inputs = expand(files, &limits)?;
    publish_inputs(nats, &inputs, None, &limits, &ArticleMeta::default(), false).await
}
