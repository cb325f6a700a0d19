//! `newswire classify`: offline coding for dictionary maintainers and other tools.

use std::io::{BufRead, Read, Write};

use anyhow::Result;
use newswire_classifier::Classifier;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::cli::ClassifyArgs;
use crate::errors::{DataError, UsageError};

#[derive(Deserialize)]
struct Line {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    date: Option<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    id: &'a serde_json::Value,
    text: &'a str,
    category: &'a str,
    actors: &'a [newswire_shared::Actor],
    events: &'a [newswire_shared::CodedEvent],
    #[serde(skip_serializing_if = "Option::is_none")]
    reporter: Option<&'a newswire_shared::Actor>,
}

fn date(value: &str) -> Option<Date> {
    newswire_producer::article::parse_date(value).map(|t| t.date())
}

pub fn run(args: ClassifyArgs) -> Result<()> {
    let classifier = newswire_classifier::load_classifier(args.dict.dict_dir.as_deref())
        .map_err(|e| UsageError(e.to_string()))?;
    let default_date = args
        .date
        .as_deref()
        .map(|d| date(d).ok_or_else(|| UsageError(format!("--date {d:?} is not YYYY-MM-DD"))))
        .transpose()?;
    let inputs = if args.inputs.is_empty() {
        vec![std::path::PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    // Input is read whole, so output is buffered too (not line by line).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for input in &inputs {
        let name = input.display().to_string();
        let mut text = String::new();
        if name == "-" {
            std::io::stdin().read_to_string(&mut text)
        } else {
            std::fs::File::open(input).and_then(|mut f| f.read_to_string(&mut text))
        }
        .map_err(|e| DataError(format!("cannot read {name}: {e}")))?;
        if args.jsonl {
            for (n, line) in text.as_bytes().lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let item: Line = serde_json::from_str(&line)
                    .map_err(|e| DataError(format!("{name}:{}: {e}", n + 1)))?;
                let when = match item.date.as_deref() {
                    Some(d) => Some(date(d).ok_or_else(|| {
                        DataError(format!("{name}:{}: date {d:?} is not YYYY-MM-DD", n + 1))
                    })?),
                    None => default_date,
                };
                emit(
                    &mut out,
                    &classifier,
                    &item.id,
                    &item.text,
                    when,
                    args.explain,
                )?;
            }
        } else {
            for (n, span) in newswire_producer::split_sentences(&text)
                .into_iter()
                .enumerate()
            {
                let id = serde_json::Value::from(n);
                emit(
                    &mut out,
                    &classifier,
                    &id,
                    &text[span.start..span.end],
                    default_date,
                    args.explain,
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn emit(
    out: &mut impl Write,
    classifier: &Classifier,
    id: &serde_json::Value,
    text: &str,
    date: Option<Date>,
    explain: bool,
) -> Result<()> {
    let coding = classifier.code(text, date);
    if explain {
        writeln!(out, "[{id}] {text}")?;
        for a in &coding.actors {
            writeln!(
                out,
                "  actor {:<10} {:?} at {}..{} from {}",
                a.code, a.mention, a.span.start, a.span.end, a.entry
            )?;
        }
        if let Some(r) = &coding.reporter {
            writeln!(
                out,
                "  reporter {:<7} {:?} from {}",
                r.code, r.mention, r.entry
            )?;
        }
        for e in &coding.events {
            writeln!(
                out,
                "  event {} {} ({}, quad {}, goldstein {}, plover {}) cue {:?} at {}..{} from {}; {} -> {}; {}; confidence {}",
                e.code,
                e.name,
                e.category,
                e.quad_class,
                e.goldstein,
                e.plover.as_deref().unwrap_or("-"),
                e.cue,
                e.cue_span.start,
                e.cue_span.end,
                classifier.cue_entry(e).unwrap_or("?"),
                e.source.as_deref().unwrap_or("?"),
                e.target.as_deref().unwrap_or("?"),
                e.modality.as_str(),
                e.confidence
            )?;
        }
        if coding.events.is_empty() && coding.actors.is_empty() {
            writeln!(out, "  nothing coded")?;
        }
        return Ok(());
    }
    let line = Output {
        id,
        text,
        category: coding.primary_category(),
        actors: &coding.actors,
        events: &coding.events,
        reporter: coding.reporter.as_ref(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}
