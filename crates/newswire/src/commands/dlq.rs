//! `newswire dlq list|show|replay`: the dead-letter stream for people.

use std::io::Write;

use anyhow::{Context, Result};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::StreamMessage};
use newswire_shared::nats::{NatsError, dlq_headers};
use serde::Serialize;

use crate::cli::{DlqArgs, DlqCommand, OutputFormat};
use crate::errors::{DataError, Unavailable, UsageError};

#[derive(Serialize)]
struct Letter {
    sequence: u64,
    time: String,
    stage: String,
    deliveries: String,
    event_id: String,
    subject: String,
    error: String,
    bytes: usize,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).map(|v| v.to_string()).unwrap_or_default()
}

fn letter(message: &StreamMessage) -> Letter {
    let h = &message.headers;
    Letter {
        sequence: message.sequence,
        time: message
            .time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        stage: header(h, dlq_headers::STAGE),
        deliveries: header(h, dlq_headers::DELIVERIES),
        event_id: header(h, dlq_headers::EVENT_ID),
        subject: header(h, dlq_headers::SUBJECT),
        error: header(h, dlq_headers::ERROR),
        bytes: message.payload.len(),
    }
}

pub async fn run(args: DlqArgs) -> Result<()> {
    let subjects = args
        .nats
        .subjects()
        .map_err(|e| UsageError(e.to_string()))?;
    let client = newswire_shared::nats::connect(&args.nats, "dlq")
        .await
        .map_err(|e: NatsError| Unavailable(e.to_string()))?;
    let js = jetstream::new(client.clone());
    let stream_name = subjects.dlq_stream();
    let mut stream = js
        .get_stream(&stream_name)
        .await
        .map_err(|e| Unavailable(format!("dead-letter stream {stream_name}: {e}")))?;
    let state = stream.info().await?.state.clone();
    let messages = |stage: Option<String>| {
        let stream = stream.clone();
        let stream_name = &stream_name;
        async move {
            let mut found = Vec::new();
            if state.messages == 0 {
                return Ok::<_, anyhow::Error>(found);
            }
            for sequence in state.first_sequence..=state.last_sequence {
                // Deleted (replayed) sequences leave gaps; any other failure is reported, not
                // taken for a gap (a listing or a replay --all would leave letters out).
                let message = match stream.get_raw_message(sequence).await {
                    Ok(message) => message,
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
                    {
                        continue;
                    }
                    Err(e) => {
                        return Err(Unavailable(format!(
                            "cannot read dead letter {sequence} of {stream_name}: {e}"
                        ))
                        .into());
                    }
                };
                if stage
                    .as_deref()
                    .is_none_or(|s| header(&message.headers, dlq_headers::STAGE) == s)
                {
                    found.push(message);
                }
            }
            Ok(found)
        }
    };
    match args.command {
        DlqCommand::List {
            stage,
            limit,
            format,
        } => {
            let found = messages(stage).await?;
            let mut out = std::io::stdout().lock();
            match format {
                OutputFormat::Json => {
                    for m in found.iter().take(limit) {
                        serde_json::to_writer(&mut out, &letter(m))?;
                        writeln!(out)?;
                    }
                }
                OutputFormat::Table => {
                    writeln!(
                        out,
                        "{:<6} {:<20} {:<10} {:<4} {:<36} {:<28} ERROR",
                        "SEQ", "TIME", "STAGE", "DLV", "EVENT", "SUBJECT"
                    )?;
                    for m in found.iter().take(limit) {
                        let l = letter(m);
                        writeln!(
                            out,
                            "{:<6} {:<20} {:<10} {:<4} {:<36} {:<28} {}",
                            l.sequence,
                            l.time.get(..19).unwrap_or(&l.time),
                            l.stage,
                            l.deliveries,
                            l.event_id,
                            l.subject,
                            l.error
                        )?;
                    }
                    writeln!(
                        out,
                        "({} of {} dead letters)",
                        found.len().min(limit),
                        found.len()
                    )?;
                }
            }
        }
        DlqCommand::Show { sequence } => {
            let message = stream.get_raw_message(sequence).await.map_err(|e| {
                DataError(format!("no dead letter {sequence} in {stream_name}: {e}"))
            })?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "sequence: {}", message.sequence)?;
            writeln!(out, "subject: {}", message.subject)?;
            for (name, values) in message.headers.iter() {
                for value in values {
                    writeln!(out, "{name}: {value}")?;
                }
            }
            writeln!(out)?;
            match std::str::from_utf8(&message.payload) {
                Ok(text) => writeln!(out, "{text}")?,
                Err(_) => writeln!(out, "{}", message.payload.escape_ascii())?,
            }
        }
        DlqCommand::Replay {
            sequences,
            all,
            stage,
            keep,
        } => {
            let chosen: Vec<StreamMessage> = if all {
                messages(stage).await?
            } else {
                let mut chosen = Vec::new();
                for sequence in sequences {
                    chosen.push(stream.get_raw_message(sequence).await.map_err(|e| {
                        DataError(format!("no dead letter {sequence} in {stream_name}: {e}"))
                    })?);
                }
                chosen
            };
            let (mut replayed, mut repeated) = (0, 0);
            for message in &chosen {
                let subject = header(&message.headers, dlq_headers::SUBJECT);
                if subject.is_empty()
                    || !header(&message.headers, dlq_headers::TRUNCATED).is_empty()
                {
                    eprintln!(
                        "skipped dead letter {}: no original subject, or its payload was truncated",
                        message.sequence
                    );
                    continue;
                }
                let mut headers = HeaderMap::new();
                // A fresh message id: the original one may still be in the duplicate window.
                headers.insert(
                    "Nats-Msg-Id",
                    format!(
                        "replay-{}-{}-{}",
                        stream_name,
                        message.sequence,
                        header(&message.headers, dlq_headers::EVENT_ID)
                    )
                    .as_str(),
                );
                let ack = js
                    .publish_with_headers(subject.clone(), headers, message.payload.clone())
                    .await?
                    .await
                    .with_context(|| {
                        format!("replaying dead letter {} to {subject}", message.sequence)
                    })?;
                if !keep {
                    stream.delete_message(message.sequence).await?;
                }
                if ack.duplicate {
                    // The same dead letter replayed within the stream's duplicate window (a
                    // replay with --keep run twice): the stream kept the first one only.
                    eprintln!(
                        "dead letter {} was replayed already within the duplicate window: not sent again",
                        message.sequence
                    );
                    repeated += 1;
                } else {
                    replayed += 1;
                }
            }
            if repeated > 0 {
                println!("replayed {replayed} dead letters ({repeated} replayed already)");
            } else {
                println!("replayed {replayed} dead letters");
            }
        }
    }
    client.drain().await.ok();
    Ok(())
}
