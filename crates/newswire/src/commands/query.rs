//! `newswire query`: stored events as a table or JSON lines.

use std::io::Write;

use anyhow::Result;
use newswire_shared::TaggedEvent;
use newswire_sink::{Filter, StoreError};

use crate::cli::{OutputFormat, QueryArgs};
use crate::errors::{Unavailable, UsageError};

pub async fn run(args: QueryArgs) -> Result<()> {
    let time = |name: &str, value: Option<String>| {
        value
            .map(|v| {
                newswire_producer::article::parse_date(&v).ok_or_else(|| {
                    UsageError(format!("--{name} {v:?} is neither RFC 3339 nor YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    let filter = Filter {
        actor: args.actor,
        country: args.country,
        category: args.category,
        article_id: args.article,
        since: time("since", args.since)?,
        until: time("until", args.until)?,
        limit: Some(args.limit),
    }
    .normalised()
    .map_err(|e| UsageError(e.to_string()))?;
    let events = load(&args.store.store, filter).await?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            for event in &events {
                out.write_all(&event.encode())?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Table => write_table(&mut out, &events)?,
    }
    out.flush()?;
    Ok(())
}

/// Runs a query against the store on the blocking pool.
pub async fn load(store_url: &str, filter: Filter) -> Result<Vec<TaggedEvent>> {
    let url = store_url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Vec<TaggedEvent>> {
        let store = newswire_sink::open_existing(&url).map_err(store_error)?;
        store.query(&filter).map_err(store_error)
    })
    .await?
}

pub fn store_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Url { .. } | StoreError::Query(_) => UsageError(e.to_string()).into(),
        StoreError::Transient(_) => Unavailable(e.to_string()).into(),
        StoreError::Permanent(_) => anyhow::Error::new(e),
    }
}

/// A readable table: one row per sentence, its primary category, actors and coded events.
pub fn write_table(out: &mut impl Write, events: &[TaggedEvent]) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|e| {
            let actors = actor_codes(e);
            let coded = e
                .events
                .iter()
                .map(|c| {
                    let mut s = c.code.clone();
                    if let (Some(src), Some(tgt)) = (&c.source, &c.target) {
                        s.push_str(&format!(" {src}>{tgt}"));
                    }
                    if c.modality != newswire_shared::Modality::Asserted {
                        s.push_str(&format!(" ({})", c.modality.as_str()));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(", ");
            [
                format!(
                    "{}-{}",
                    e.article_id.chars().take(8).collect::<String>(),
                    e.sentence_index
                ),
                e.category.to_string(),
                actors,
                coded,
                e.text.clone(),
            ]
        })
        .collect();
    let headers = ["EVENT", "CATEGORY", "ACTORS", "CAMEO", "SENTENCE"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(4) {
            *w = (*w).max(cell.chars().count()).min(48);
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 5]| -> std::io::Result<()> {
        for (i, cell) in cells.iter().enumerate().take(4) {
            write!(
                out,
                "{:<width$}  ",
                clip(cell, widths[i]),
                width = widths[i]
            )?;
        }
        writeln!(out, "{}", clip(cells[4], 90))
    };
    line(out, headers)?;
    for row in &rows {
        line(out, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
    }
    writeln!(out, "({} events)", rows.len())
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The actor codes of an event, space-separated.
pub fn actor_codes(e: &TaggedEvent) -> String {
    e.actors
        .iter()
        .map(|a| a.code.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}
