//! `newswire status`: what a running deployment holds and owes, read from JetStream: each
//! stream's messages and bytes, each durable consumer's pending, unacknowledged and
//! redelivered counts, and how many pull requests (live replicas) wait on it.

use anyhow::Result;
use futures::TryStreamExt;
use newswire_shared::nats::NatsError;
use serde::Serialize;

use crate::cli::{OutputFormat, StatusArgs};
use crate::errors::{Unavailable, UsageError};

#[derive(Debug, Serialize)]
struct StreamStatus {
    stream: String,
    /// Absent streams are listed too: a deployment whose stages never started has none.
    exists: bool,
    messages: u64,
    bytes: u64,
    first_sequence: u64,
    last_sequence: u64,
    consumers: Vec<ConsumerStatus>,
}

#[derive(Debug, Serialize)]
struct ConsumerStatus {
    consumer: String,
    /// Messages not yet delivered.
    pending: u64,
    /// Delivered, not yet acknowledged.
    ack_pending: usize,
    /// Delivered more than once and not yet acknowledged.
    redelivered: usize,
    /// Pull requests waiting: roughly, the replicas consuming.
    waiting: usize,
    /// Highest stream sequence acknowledged in order.
    ack_floor: u64,
}

pub async fn run(args: StatusArgs) -> Result<()> {
    let subjects = args
        .nats
        .subjects()
        .map_err(|e| UsageError(e.to_string()))?;
    let client = newswire_shared::nats::connect(&args.nats, "status")
        .await
        .map_err(|e: NatsError| Unavailable(e.to_string()))?;
    let js = async_nats::jetstream::new(client);
    let names = subjects.streams();
    let mut report = Vec::with_capacity(names.len());
    for name in names {
        let stream = match js.get_stream(&name).await {
            Ok(stream) => stream,
            // Only a stream that is not there is reported missing; any other failure is one.
            Err(e) if newswire_shared::nats::stream_not_found(&e) => {
                report.push(StreamStatus {
                    stream: name,
                    exists: false,
                    messages: 0,
                    bytes: 0,
                    first_sequence: 0,
                    last_sequence: 0,
                    consumers: Vec::new(),
                });
                continue;
            }
            Err(e) => return Err(Unavailable(format!("cannot read stream {name}: {e}")).into()),
        };
        // get_stream has just read the stream's info.
        let info = stream.cached_info().clone();
        let mut consumers: Vec<ConsumerStatus> = stream
            .consumers()
            .map_ok(|c| ConsumerStatus {
                consumer: c.name,
                pending: c.num_pending,
                ack_pending: c.num_ack_pending,
                redelivered: c.num_redelivered,
                waiting: c.num_waiting,
                ack_floor: c.ack_floor.stream_sequence,
            })
            .try_collect()
            .await
            .map_err(|e| Unavailable(format!("cannot list consumers of {name}: {e}")))?;
        consumers.sort_by(|a, b| a.consumer.cmp(&b.consumer));
        report.push(StreamStatus {
            stream: name,
            exists: true,
            messages: info.state.messages,
            bytes: info.state.bytes,
            first_sequence: info.state.first_sequence,
            last_sequence: info.state.last_sequence,
            consumers,
        });
    }
    match args.format {
        OutputFormat::Json => {
            for stream in &report {
                println!("{}", serde_json::to_string(stream)?);
            }
        }
        OutputFormat::Table => print!("{}", table(&report)),
    }
    Ok(())
}

fn table(report: &[StreamStatus]) -> String {
    let mut out = format!(
        "{:<24} {:>12} {:>12} {:>12}\n",
        "STREAM", "MESSAGES", "BYTES", "LAST SEQ"
    );
    for s in report {
        if !s.exists {
            out.push_str(&format!("{:<24} {:>12}\n", s.stream, "(missing)"));
            continue;
        }
        out.push_str(&format!(
            "{:<24} {:>12} {:>12} {:>12}\n",
            s.stream, s.messages, s.bytes, s.last_sequence
        ));
    }
    let consumers: Vec<_> = report
        .iter()
        .flat_map(|s| s.consumers.iter().map(move |c| (s.stream.as_str(), c)))
        .collect();
    if !consumers.is_empty() {
        out.push_str(&format!(
            "\n{:<24} {:<16} {:>10} {:>11} {:>11} {:>8} {:>10}\n",
            "STREAM", "CONSUMER", "PENDING", "ACK PENDING", "REDELIVERED", "WAITING", "ACK FLOOR"
        ));
        for (stream, c) in consumers {
            out.push_str(&format!(
                "{:<24} {:<16} {:>10} {:>11} {:>11} {:>8} {:>10}\n",
                stream, c.consumer, c.pending, c.ack_pending, c.redelivered, c.waiting, c.ack_floor
            ));
        }
    }
    out
}
