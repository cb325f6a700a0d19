//! `newswire tail`: tagged events live, filtered through subjects.

use std::io::Write;

use anyhow::Result;
use futures::StreamExt;
use newswire_shared::TaggedEvent;
use newswire_shared::nats::NatsError;
use tracing::warn;

use crate::cli::{OutputFormat, TailArgs};
use crate::errors::{Unavailable, UsageError};

pub async fn run(args: TailArgs) -> Result<()> {
    let subjects = args
        .nats
        .subjects()
        .map_err(|e| UsageError(e.to_string()))?;
    let client = newswire_shared::nats::connect(&args.nats, "tail")
        .await
        .map_err(|e: NatsError| Unavailable(e.to_string()))?;
    // Subjects carry category tokens in lower case and countries in upper case; the filter
    // is matched exactly, so `--actor prk` would match nothing.
    let category = args.category.map(|c| c.to_ascii_lowercase());
    let actor = args.actor.map(|a| a.to_ascii_uppercase());
    let filter = subjects.tagged_filter(category.as_deref(), actor.as_deref());
    let mut subscription = client.subscribe(filter.clone()).await?;
    eprintln!("watching {filter} (Ctrl-C to stop)");
    let mut seen = 0usize;
    let mut shutdown = std::pin::pin!(newswire_shared::shutdown::signal());
    loop {
        let message = tokio::select! {
            () = &mut shutdown => break,
            message = subscription.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let mut out = std::io::stdout().lock();
        match args.format {
            OutputFormat::Json => {
                out.write_all(&message.payload)?;
                out.write_all(b"\n")?;
            }
            OutputFormat::Table => match TaggedEvent::decode(&message.payload) {
                Ok(e) => {
                    let actors = super::query::actor_codes(&e);
                    let codes = e
                        .events
                        .iter()
                        .map(|c| c.code.as_str())
                        .collect::<Vec<_>>()
                        .join(",");
                    writeln!(
                        out,
                        "{:<24} {:<28} [{codes}] {}",
                        e.category, actors, e.text
                    )?;
                }
                Err(err) => {
                    warn!(subject = %message.subject, error = %err, "undecodable tagged event")
                }
            },
        }
        out.flush()?;
        seen += 1;
        if args.count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    Ok(())
}
