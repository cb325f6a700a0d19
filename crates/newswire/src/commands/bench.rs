//! `newswire bench`: the pipeline measured beside the broker's own limit on the same machine
//! in the same run.
//!
//! The baseline is a zero-work relay with the pipeline's topology: events published to the raw
//! stream, consumed and republished to the tagged stream by one process (padded to the tagged
//! events' mean size, so both hops carry what the pipeline's do), consumed and acked by
//! another, with the same consume loop and batch sizes as the real stages. The
//! pipeline is the real thing: `newswire classifier` and `newswire sink` (SQLite) processes.
//! Both carry the same events, published the same way. The figure that matters is the ratio.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_nats::jetstream::{self, Message, message::PublishMessage};
use futures::StreamExt;
use newswire_producer::{Article, Publisher, sentence_events};
use newswire_shared::ArticleMeta;
use newswire_shared::event::EventTimes;
use newswire_shared::local_server::NatsServerProcess;
use newswire_shared::nats::{NatsArgs, StreamKind};
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Finish, Handler, Outcome, StageConnection,
};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

use crate::cli::{BenchArgs, BenchStageArgs, BenchStageRole};

const GOLD: &str = include_str!("../../../../tests/gold/events.jsonl");
const SENTENCES_PER_ARTICLE: usize = 10;

/// The benchmark corpus: the gold set's hand-written news sentences (actors, categories,
/// negations, sentences with nothing to tag), grouped into articles of ten.
fn corpus(events: usize) -> Vec<Article> {
    let sentences: Vec<String> = GOLD
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect();
    (0..events.div_ceil(SENTENCES_PER_ARTICLE))
        .map(|n| {
            let body = (0..SENTENCES_PER_ARTICLE)
                .map(|i| sentences[(n * 7 + i * 31) % sentences.len()].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            Article {
                meta: ArticleMeta {
                    source: Some("bench".into()),
                    ..ArticleMeta::default()
                },
                // A distinct first line keeps every article's content hash distinct.
                body: format!("Report {n}.\n{body}"),
            }
        })
        .collect()
}

/// CPU time (user + system) of a process, from /proc (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory of a process in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Debug, Clone, Default, Serialize)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn latency(mut samples_ms: Vec<f64>) -> Latency {
    if samples_ms.is_empty() {
        return Latency::default();
    }
    samples_ms.sort_by(f64::total_cmp);
    let at = |q: f64| samples_ms[((samples_ms.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: *samples_ms.last().unwrap_or(&0.0),
    }
}

#[derive(Debug, Clone, Default, Serialize)]
struct StageUse {
    name: String,
    cpu_us_per_event: f64,
    peak_rss_mb: f64,
    /// Messages per batch the stage worked on, on average (`newswire_batch_size`); none for
    /// the broker.
    mean_batch: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Run {
    events: usize,
    seconds: f64,
    events_per_second: f64,
    mb_per_second: f64,
    latency: Latency,
    /// The pipeline's latency cut where the classifier tagged each event (`classified_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<LatencySplit>,
    stages: Vec<StageUse>,
}

/// The pipeline's latency in two parts: from the event's making to the classifier tagging it,
/// and from there to the sink's acknowledgement after its commit.
#[derive(Debug, Clone, Default, Serialize)]
struct LatencySplit {
    to_classified: Latency,
    classified_to_stored: Latency,
}

struct Env {
    binary: PathBuf,
    url: String,
    server_pid: Option<u32>,
    dir: tempfile::TempDir,
    /// Bytes the relay adds to each event it republishes, so that its second hop carries
    /// what the classifier's does: tagged events are larger than raw ones.
    relay_pad: usize,
    /// Reads the stages' metrics.
    http: reqwest::Client,
}

/// The corpus's sentence events, as the benchmark's publisher makes them.
fn events_of(articles: &[Article]) -> impl Iterator<Item = newswire_shared::RawEvent> + '_ {
    articles
        .iter()
        .flat_map(|a| sentence_events(a, OffsetDateTime::UNIX_EPOCH).unwrap_or_default())
}

/// Mean encoded size of the corpus's raw events and of the same events tagged.
#[derive(Debug, Clone, Copy, Serialize)]
struct PayloadBytes {
    raw: usize,
    tagged: usize,
}

/// The bytes the corpus's raw events take, encoded: the runs' MB/s.
fn raw_bytes(articles: &[Article]) -> usize {
    events_of(articles).map(|e| e.encode().len()).sum()
}

fn payload_bytes(articles: &[Article]) -> PayloadBytes {
    let classifier = newswire_classifier::Classifier::builtin();
    let (mut raw, mut tagged, mut n) = (0, 0, 0);
    for event in events_of(articles) {
        raw += event.encode().len();
        tagged += classifier.classify(&event).encode().len();
        n += 1;
    }
    PayloadBytes {
        raw: raw / n.max(1),
        tagged: tagged / n.max(1),
    }
}

/// A stage's command, serving its metrics on `metrics`.
fn stage_command(env: &Env, prefix: &str, args: &[&str], metrics: SocketAddr) -> Command {
    let mut command = Command::new(&env.binary);
    command
        .args(args)
        .env("NATS_URL", &env.url)
        .env("NEWSWIRE_PREFIX", prefix)
        .env("NEWSWIRE_METRICS_LISTEN", metrics.to_string())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// A free local address for a stage's metrics.
fn metrics_address() -> Result<SocketAddr> {
    let port = newswire_shared::local_server::free_port()?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The mean of the histogram `newswire_batch_size` (every stage label summed) in a Prometheus
/// text exposition; `None` without batches.
fn mean_batch(exposition: &str) -> Option<f64> {
    let total = |name: &str| -> f64 {
        exposition
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let count = total("newswire_batch_size_count");
    (count > 0.0).then(|| total("newswire_batch_size_sum") / count)
}

/// The metrics a stage serves on `addr`.
async fn scrape(http: &reqwest::Client, addr: SocketAddr) -> Result<String> {
    Ok(http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// Waits until the stage has made its durable consumer, i.e. is ready to take events.
async fn wait_consumer(js: &jetstream::Context, stream: &str, durable: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = js.get_stream(stream).await
            && s.get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
                .await
                .is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("consumer {durable} on {stream} did not appear within 30s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last stage's acknowledgements as the broker receives them: a subscription to the
/// durable consumer's ack subjects, stamped on arrival. The sink acknowledges an event only
/// once the store has committed it, so an event's latency runs from its making to its commit
/// (pipeline) or to the drain's acknowledgement (relay), measured the same way for both.
struct AckWatch {
    task: tokio::task::JoinHandle<Result<HashMap<u64, OffsetDateTime>>>,
}

impl AckWatch {
    /// Subscribes before the first event is published; collects until `events` messages of
    /// `stream` are acknowledged.
    async fn start(
        client: &async_nats::Client,
        stream: &str,
        durable: &str,
        events: usize,
    ) -> Result<Self> {
        // Both forms of ack subject (ADR-15): without, and with, domain and account hash.
        let short = client
            .subscribe(format!("$JS.ACK.{stream}.{durable}.>"))
            .await?;
        let long = client
            .subscribe(format!("$JS.ACK.*.*.{stream}.{durable}.>"))
            .await?;
        client.flush().await?;
        let task = tokio::spawn(async move {
            let mut acks = futures::stream::select(short, long);
            let mut acked = HashMap::with_capacity(events);
            while acked.len() < events {
                let Some(ack) = acks.next().await else {
                    bail!("the subscription to acknowledgements ended");
                };
                let at = OffsetDateTime::now_utc();
                if is_ack(&ack.payload)
                    && let Some(sequence) = acked_sequence(&ack.subject)
                {
                    // A redelivered event's first acknowledgement counts.
                    acked.entry(sequence).or_insert(at);
                }
            }
            Ok(acked)
        });
        Ok(Self { task })
    }

    /// When each stream sequence was acknowledged; fails if not every event's acknowledgement
    /// arrives within `timeout`.
    async fn finish(mut self, timeout: Duration) -> Result<HashMap<u64, OffsetDateTime>> {
        match tokio::time::timeout(timeout, &mut self.task).await {
            Ok(joined) => joined?,
            Err(_) => {
                self.task.abort();
                bail!(
                    "not every acknowledgement was seen within {}s",
                    timeout.as_secs()
                )
            }
        }
    }
}

/// A positive acknowledgement's body: `+ACK`, or empty. Naks, progress and terms are not.
fn is_ack(body: &[u8]) -> bool {
    body.is_empty() || body.starts_with(b"+ACK")
}

/// The stream sequence in an ack subject, in either form: `$JS.ACK.<stream>.<consumer>.
/// <delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, or the same after a domain and
/// an account hash (and possibly more tokens after).
fn acked_sequence(subject: &str) -> Option<u64> {
    let rest = subject.strip_prefix("$JS.ACK.")?;
    // Read once per acknowledgement in the benchmark's own process: counted, not collected.
    let at = match rest.split('.').count() {
        7 => 3,
        n if n >= 9 => 5,
        _ => return None,
    };
    rest.split('.').nth(at)?.parse().ok()
}

/// When each of the first `events` messages of `stream` was made (its `ingested_at`) and,
/// for tagged events, classified, by stream sequence: read back with an ordered consumer once
/// the run is over.
async fn event_times_by_sequence(
    js: &jetstream::Context,
    stream: &str,
    events: usize,
) -> Result<Vec<(u64, EventTimes)>> {
    let consumer = js
        .get_stream(stream)
        .await?
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    let mut out = Vec::with_capacity(events);
    while out.len() < events {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .with_context(|| format!("reading back {stream}: {} of {events}", out.len()))?
            .with_context(|| format!("{stream} ended after {} of {events}", out.len()))??;
        let sequence = message
            .info()
            .map_err(|e| anyhow::anyhow!(e))?
            .stream_sequence;
        let made = EventTimes::read(&message.payload)
            .with_context(|| format!("message {sequence} of {stream} has no ingested_at"))?;
        out.push((sequence, made));
    }
    Ok(out)
}

async fn sigterm_and_wait(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}

/// How events are offered: as fast as possible, or at a fixed rate for the latency mode.
#[derive(Debug, Clone, Copy)]
enum Offer {
    Flat,
    Rate(u32),
}

async fn publish(publisher: &Publisher, articles: &[Article], offer: Offer) -> Result<()> {
    match offer {
        // As fast as the broker takes them: acks pipelined across articles, a thousand
        // events per call. Events are made just before they are published: ingested_at is
        // the latency's start.
        Offer::Flat => {
            for chunk in articles.chunks(1000 / SENTENCES_PER_ARTICLE) {
                let now = OffsetDateTime::now_utc();
                let mut events = Vec::with_capacity(1000);
                for article in chunk {
                    events.extend(sentence_events(article, now)?);
                }
                publisher.publish_events(&events).await?;
            }
        }
        // Open loop, as the offered rate says: each article is published when it is due,
        // whether or not the broker has acknowledged the ones before it (awaiting each
        // article's acks held the publisher back whenever a round trip took longer than the
        // gap between articles, and the slower topology was offered less). Its events are
        // made at the time they were due, so a publisher that falls behind counts as latency.
        Offer::Rate(rate) => {
            let start = tokio::time::Instant::now();
            let start_wall = OffsetDateTime::now_utc();
            let mut in_flight = tokio::task::JoinSet::new();
            for (k, article) in articles.iter().enumerate() {
                let due =
                    Duration::from_secs_f64((k * SENTENCES_PER_ARTICLE) as f64 / f64::from(rate));
                tokio::time::sleep_until(start + due).await;
                while let Some(done) = in_flight.try_join_next() {
                    done??;
                }
                let events = sentence_events(article, start_wall + due)?;
                let publisher = publisher.clone();
                in_flight.spawn(async move { publisher.publish_events(&events).await });
            }
            while let Some(done) = in_flight.join_next().await {
                done??;
            }
        }
    }
    Ok(())
}

/// One run of either topology over `articles`, whose raw events take `raw_bytes` encoded;
/// `pipeline` picks the real stages or the zero-work relay.
async fn run_once(
    env: &Env,
    pipeline: bool,
    articles: &[Article],
    raw_bytes: usize,
    offer: Offer,
    rep: usize,
) -> Result<Run> {
    let prefix = format!(
        "bench{}x{rep}x{}",
        std::process::id(),
        if pipeline { "p" } else { "r" }
    );
    let nats = NatsArgs::new(env.url.clone(), prefix.clone());
    let subjects = nats.subjects()?;
    // What earlier runs wrote and the kernel still holds unwritten goes to disk now, not
    // during this run: the sink's commits wait on the disk, and a flush of the earlier runs'
    // hundreds of megabytes held them back for 150-250 ms (seen with strace as single slow
    // fsyncs, and as p99 excursions of the latency mode that followed the throughput runs).
    rustix::fs::sync();
    let store_path = env.dir.path().join(format!("{prefix}.db"));
    let store_url = format!("sqlite://{}", store_path.display());
    let metrics = [metrics_address()?, metrics_address()?];
    let (mut first, mut second, names) = if pipeline {
        (
            stage_command(env, &prefix, &["classifier"], metrics[0]).spawn()?,
            stage_command(env, &prefix, &["sink", "--store", &store_url], metrics[1]).spawn()?,
            ["classifier", "sink"],
        )
    } else {
        (
            stage_command(
                env,
                &prefix,
                &[
                    "bench-stage",
                    "relay",
                    "--pad-bytes",
                    &env.relay_pad.to_string(),
                ],
                metrics[0],
            )
            .spawn()?,
            stage_command(env, &prefix, &["bench-stage", "drain"], metrics[1]).spawn()?,
            ["relay", "drain"],
        )
    };
    let client = async_nats::connect(&env.url).await?;
    let js = jetstream::new(client.clone());
    let durable = if pipeline { "sink" } else { "drain" };
    wait_consumer(&js, &subjects.tagged_stream(), durable).await?;
    wait_consumer(
        &js,
        &subjects.raw_stream(),
        if pipeline { "classifier" } else { "relay" },
    )
    .await?;
    let publisher = Publisher::connect(&nats).await?;
    let events: usize = articles.len() * SENTENCES_PER_ARTICLE;
    let acks = AckWatch::start(&client, &subjects.tagged_stream(), durable, events).await?;
    let pids = [first.id(), second.id()];
    let cpu_before: Vec<f64> = pids.iter().map(|p| p.map_or(0.0, cpu_seconds)).collect();
    let server_before = env.server_pid.map_or(0.0, cpu_seconds);
    let started = Instant::now();
    publish(&publisher, articles, offer).await?;
    // The run ends with the last event's acknowledgement, as the watch sees it arrive.
    let acked = acks.finish(Duration::from_secs(600)).await?;
    let seconds = started.elapsed().as_secs_f64();
    // CPU and memory first: serving the metrics costs the stages CPU of their own.
    let mut stages: Vec<StageUse> = pids
        .iter()
        .zip(&cpu_before)
        .zip(names)
        .map(|((pid, before), name)| StageUse {
            name: name.to_owned(),
            cpu_us_per_event: pid.map_or(0.0, |p| (cpu_seconds(p) - before) * 1e6 / events as f64),
            peak_rss_mb: pid.map_or(0.0, peak_rss_mb),
            mean_batch: None,
        })
        .collect();
    if let Some(pid) = env.server_pid {
        stages.push(StageUse {
            name: "nats-server".into(),
            cpu_us_per_event: (cpu_seconds(pid) - server_before) * 1e6 / events as f64,
            peak_rss_mb: peak_rss_mb(pid),
            mean_batch: None,
        });
    }
    for (stage, addr) in stages.iter_mut().zip(metrics) {
        let exposition = scrape(&env.http, addr)
            .await
            .with_context(|| format!("reading the {} stage's metrics on {addr}", stage.name))?;
        stage.mean_batch = mean_batch(&exposition);
    }
    sigterm_and_wait(&mut first).await;
    sigterm_and_wait(&mut second).await;
    let ingested = event_times_by_sequence(&js, &subjects.tagged_stream(), events).await?;
    let ms = |d: time::Duration| d.as_seconds_f64().max(0.0) * 1000.0;
    let timed: Vec<(&EventTimes, OffsetDateTime)> = ingested
        .iter()
        .filter_map(|(seq, made)| acked.get(seq).map(|done| (made, *done)))
        .collect();
    if timed.len() < events {
        bail!("latency known for only {} of {events} events", timed.len());
    }
    let samples: Vec<f64> = timed
        .iter()
        .map(|(made, done)| ms(*done - made.ingested_at))
        .collect();
    let split = pipeline.then(|| {
        let (to, after): (Vec<f64>, Vec<f64>) = timed
            .iter()
            .filter_map(|(made, done)| {
                let classified = made.classified_at?;
                Some((ms(classified - made.ingested_at), ms(*done - classified)))
            })
            .unzip();
        LatencySplit {
            to_classified: latency(to),
            classified_to_stored: latency(after),
        }
    });
    // Later runs do not share the broker with this run's events.
    for stream in subjects.streams() {
        match js.delete_stream(&stream).await {
            Ok(_) => {}
            Err(e) if newswire_shared::nats::stream_not_found(&e) => {}
            Err(e) => bail!("deleting stream {stream}: {e}"),
        }
    }
    Ok(Run {
        events,
        seconds,
        events_per_second: events as f64 / seconds,
        mb_per_second: raw_bytes as f64 / seconds / 1e6,
        latency: latency(samples),
        split,
        stages,
    })
}

#[derive(Debug, Clone, Serialize)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

fn spread(mut values: Vec<f64>) -> Spread {
    values.sort_by(f64::total_cmp);
    Spread {
        median: values[values.len() / 2],
        min: values[0],
        max: values[values.len() - 1],
    }
}

#[derive(Debug, Serialize)]
struct Results {
    date: String,
    command: String,
    cores: usize,
    nats_server: String,
    /// Mean event sizes; the relay pads what it republishes to the tagged size.
    payload_bytes: PayloadBytes,
    events_per_run: usize,
    repetitions: usize,
    relay: Vec<Run>,
    pipeline: Vec<Run>,
    relay_events_per_second: Spread,
    pipeline_events_per_second: Spread,
    ratio_pipeline_to_relay: Spread,
    classifier_alone_sentences_per_second: Spread,
    store_alone_events_per_second: Spread,
    store_alone_normal_sync_events_per_second: Spread,
    latency_at_rate: Vec<RateResult>,
}

#[derive(Debug, Serialize)]
struct RateResult {
    offered_per_second: u32,
    /// Events over the time from the first publish to the last stage's last acknowledgement
    /// (the sink's follows its commit): the rate the publisher kept up and the topology carried.
    relay_achieved_per_second: f64,
    pipeline_achieved_per_second: f64,
    relay: Latency,
    pipeline: Latency,
    pipeline_split: Option<LatencySplit>,
}

/// The classifier alone, in this process, one thread.
fn classifier_alone(articles: &[Article], budget: Duration) -> f64 {
    let classifier = newswire_classifier::Classifier::builtin();
    let events: Vec<_> = events_of(articles).collect();
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < budget {
        for e in &events {
            std::hint::black_box(classifier.classify(e));
        }
        done += events.len();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// The SQLite store alone, batches of 256, in this process.
/// Returns events/s with `synchronous=full` (the default) and with `normal`.
fn store_alone(dir: &Path, articles: &[Article], rep: usize) -> Result<(f64, f64)> {
    use newswire_sink::Store;
    let classifier = newswire_classifier::Classifier::builtin();
    let tagged: Vec<_> = events_of(articles)
        .map(|e| classifier.classify(&e))
        .collect();
    let mut store = newswire_sink::SqliteStore::open(dir.join(format!("store-alone-{rep}.db")))?;
    let started = Instant::now();
    for batch in tagged.chunks(256) {
        store.store(batch)?;
    }
    let full = tagged.len() as f64 / started.elapsed().as_secs_f64();
    let mut store = newswire_sink::SqliteStore::open_with(
        dir.join(format!("store-alone-normal-{rep}.db")),
        newswire_sink::Synchronous::Normal,
    )?;
    let started = Instant::now();
    for batch in tagged.chunks(256) {
        store.store(batch)?;
    }
    Ok((full, tagged.len() as f64 / started.elapsed().as_secs_f64()))
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let events = args
        .events
        .unwrap_or(if args.quick { 5_000 } else { 50_000 });
    let reps = args.repetitions.max(1);
    let budget = if args.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    if args.classifier_only {
        let articles = corpus(events);
        let runs: Vec<f64> = (0..reps)
            .map(|_| classifier_alone(&articles, budget))
            .collect();
        let x = spread(runs);
        println!(
            "classifier alone (one thread, {events} events, median of {reps}): {:.0} ({:.0}–{:.0}) sentences/s",
            x.median, x.min, x.max
        );
        return Ok(());
    }
    if args.store_only {
        let articles = corpus(events);
        let dir = tempfile::tempdir()?;
        let runs = (0..reps)
            .map(|rep| store_alone(dir.path(), &articles, rep))
            .collect::<Result<Vec<_>>>()?;
        let full = spread(runs.iter().map(|r| r.0).collect());
        let normal = spread(runs.iter().map(|r| r.1).collect());
        println!(
            "SQLite store alone (batches of 256, {events} events, median of {reps}): {:.0} ({:.0}–{:.0}) events/s with synchronous=full, {:.0} ({:.0}–{:.0}) with synchronous=normal",
            full.median, full.min, full.max, normal.median, normal.min, normal.max
        );
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let server = match &args.url {
        Some(_) => None,
        None => Some(
            NatsServerProcess::start_on_free_port("127.0.0.1", &dir.path().join("nats"), &[])
                .await?,
        ),
    };
    let articles = corpus(events);
    let payload = payload_bytes(&articles);
    let articles_bytes = raw_bytes(&articles);
    let env = Env {
        binary: std::env::current_exe()?,
        url: args.url.clone().unwrap_or_else(|| {
            server
                .as_ref()
                .map(NatsServerProcess::url)
                .unwrap_or_default()
        }),
        server_pid: server.as_ref().and_then(NatsServerProcess::pid),
        dir,
        relay_pad: payload.tagged.saturating_sub(payload.raw),
        http: newswire_producer::feeds::http_client(Duration::from_secs(10))?,
    };
    let mut relay = Vec::new();
    let mut pipeline = Vec::new();
    let mut classifier = Vec::new();
    let mut store = Vec::new();
    let mut store_normal = Vec::new();
    for rep in 0..reps {
        eprintln!("repetition {}/{reps}: relay", rep + 1);
        relay.push(run_once(&env, false, &articles, articles_bytes, Offer::Flat, rep).await?);
        eprintln!("repetition {}/{reps}: pipeline", rep + 1);
        pipeline.push(run_once(&env, true, &articles, articles_bytes, Offer::Flat, rep).await?);
        classifier.push(classifier_alone(&articles, budget));
        let (full, normal) = store_alone(env.dir.path(), &articles, rep)?;
        store.push(full);
        store_normal.push(normal);
    }
    let mut latency_at_rate = Vec::new();
    let seconds = if args.quick { 2.0 } else { 5.0 };
    for (i, &rate) in args.rates.iter().enumerate() {
        let n = ((f64::from(rate) * seconds) as usize).div_ceil(SENTENCES_PER_ARTICLE);
        let paced = corpus(n * SENTENCES_PER_ARTICLE);
        let paced_bytes = raw_bytes(&paced);
        eprintln!("latency at {rate} events/s offered");
        let r = run_once(&env, false, &paced, paced_bytes, Offer::Rate(rate), 100 + i).await?;
        let p = run_once(&env, true, &paced, paced_bytes, Offer::Rate(rate), 100 + i).await?;
        latency_at_rate.push(RateResult {
            offered_per_second: rate,
            relay_achieved_per_second: r.events_per_second,
            pipeline_achieved_per_second: p.events_per_second,
            relay: r.latency,
            pipeline: p.latency,
            pipeline_split: p.split,
        });
    }
    let ratio: Vec<f64> = pipeline
        .iter()
        .zip(&relay)
        .map(|(p, r)| p.events_per_second / r.events_per_second)
        .collect();
    let nats_server = match newswire_shared::local_server::find_binary() {
        Some(bin) => std::process::Command::new(bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
        None => "unknown".into(),
    };
    let results = Results {
        date: OffsetDateTime::now_utc().date().to_string(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        nats_server,
        events_per_run: events,
        repetitions: reps,
        payload_bytes: payload,
        relay_events_per_second: spread(relay.iter().map(|r| r.events_per_second).collect()),
        pipeline_events_per_second: spread(pipeline.iter().map(|r| r.events_per_second).collect()),
        ratio_pipeline_to_relay: spread(ratio),
        classifier_alone_sentences_per_second: spread(classifier),
        store_alone_events_per_second: spread(store),
        store_alone_normal_sync_events_per_second: spread(store_normal),
        relay,
        pipeline,
        latency_at_rate,
    };
    let markdown = render(&results);
    print!("{markdown}");
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&results)?)?;
    eprintln!("wrote {}", args.json.display());
    if let Some(path) = &args.markdown {
        std::fs::write(
            path,
            merge_results(std::fs::read_to_string(path).ok().as_deref(), &markdown),
        )?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(mut server) = server {
        server.stop().await;
    }
    Ok(())
}

const BENCH_HEADER: &str = "# Benchmarks\n\nWritten by `just bench` (`newswire bench`). The baseline is a zero-work relay with the pipeline's topology (publish to the raw stream, consume, republish to the tagged stream, consume and ack), run with the same consume loop, the same events and the same publisher, in the same run on the same machine: the ratio is the figure to compare across machines. Latency is from the producer making the event to the last stage's acknowledgement reaching the broker (seen by a subscription to the consumer's ack subjects, the same way for both): the sink acknowledges an event only after the store has committed it, so the pipeline's latency includes the commit. CPU per event counts each process's user and system time; nats-server's is the broker's. The mean batch is the messages per batch each stage worked on, read from its `newswire_batch_size` metric at the end of the run.\n";

const BEGIN: &str = "<!-- bench results: written by `just bench` -->";
const END: &str = "<!-- end of bench results -->";

/// The markdown file with its results block replaced, everything around it (the log of
/// changes and what they bought) kept.
fn merge_results(existing: Option<&str>, results: &str) -> String {
    let block = format!("{BEGIN}\n{results}\n{END}");
    match existing.and_then(|text| Some((text, text.find(BEGIN)?, text.find(END)?))) {
        Some((text, start, end)) if start < end => {
            format!("{}{block}{}", &text[..start], &text[end + END.len()..])
        }
        _ => format!("{BENCH_HEADER}\n{block}\n"),
    }
}

/// The repetition with the median throughput: its MB/s, latency and process figures are the
/// ones shown beside the median events/s.
fn median_run(runs: &[Run]) -> &Run {
    let mut sorted: Vec<&Run> = runs.iter().collect();
    sorted.sort_by(|a, b| a.events_per_second.total_cmp(&b.events_per_second));
    sorted[sorted.len() / 2]
}

fn render(r: &Results) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let s = |x: &Spread, scale: f64| {
        format!(
            "{:.0} ({:.0}–{:.0})",
            x.median * scale,
            x.min * scale,
            x.max * scale
        )
    };
    let _ = writeln!(
        out,
        "\n{} cores, {}, {} events per run, median of {} (min–max). Command: `{}`, {}.\n",
        r.cores, r.nats_server, r.events_per_run, r.repetitions, r.command, r.date
    );
    let _ = writeln!(
        out,
        "Events average {} bytes raw and {} bytes tagged; the relay pads each event it republishes by the difference, so that both topologies carry the same bytes.\n",
        r.payload_bytes.raw, r.payload_bytes.tagged
    );
    let _ = writeln!(out, "| run | events/s | MB/s | p50 ms | p99 ms | max ms |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (name, runs) in [
        ("zero-work relay", &r.relay),
        ("pipeline (classifier + SQLite sink)", &r.pipeline),
    ] {
        let mid = median_run(runs);
        let _ = writeln!(
            out,
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s(
                &spread(runs.iter().map(|x| x.events_per_second).collect()),
                1.0
            ),
            mid.mb_per_second,
            mid.latency.p50_ms,
            mid.latency.p99_ms,
            mid.latency.max_ms
        );
    }
    let _ = writeln!(
        out,
        "\n**Pipeline / relay throughput: {:.2}** ({:.2}–{:.2}).\n",
        r.ratio_pipeline_to_relay.median,
        r.ratio_pipeline_to_relay.min,
        r.ratio_pipeline_to_relay.max
    );
    let _ = writeln!(
        out,
        "| process | CPU µs/event (relay run) | peak RSS MB | mean batch | CPU µs/event (pipeline run) | peak RSS MB | mean batch |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let relay_mid = median_run(&r.relay);
    let pipe_mid = median_run(&r.pipeline);
    let batch = |b: Option<f64>| b.map_or_else(|| "–".to_owned(), |b| format!("{b:.0}"));
    for (a, b) in relay_mid.stages.iter().zip(&pipe_mid.stages) {
        let _ = writeln!(
            out,
            "| {} / {} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {} |",
            a.name,
            b.name,
            a.cpu_us_per_event,
            a.peak_rss_mb,
            batch(a.mean_batch),
            b.cpu_us_per_event,
            b.peak_rss_mb,
            batch(b.mean_batch)
        );
    }
    let _ = writeln!(
        out,
        "\nIn-process: classifier alone (one thread) {} sentences/s; SQLite store alone (one writer thread, and the store's checkpointer) {} events/s (batches of 256, synchronous=full, the default), {} events/s with synchronous=normal.\n",
        s(&r.classifier_alone_sentences_per_second, 1.0),
        s(&r.store_alone_events_per_second, 1.0),
        s(&r.store_alone_normal_sync_events_per_second, 1.0)
    );
    if !r.latency_at_rate.is_empty() {
        let _ = writeln!(
            out,
            "| offered events/s | achieved relay / pipeline | relay p50 ms | relay p99 ms | pipeline p50 ms | pipeline p99 ms | pipeline p99 / relay p99 |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for x in &r.latency_at_rate {
            let _ = writeln!(
                out,
                "| {} | {:.0} / {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                x.offered_per_second,
                x.relay_achieved_per_second,
                x.pipeline_achieved_per_second,
                x.relay.p50_ms,
                x.relay.p99_ms,
                x.pipeline.p50_ms,
                x.pipeline.p99_ms,
                if x.relay.p99_ms > 0.0 {
                    x.pipeline.p99_ms / x.relay.p99_ms
                } else {
                    0.0
                }
            );
        }
        let _ = writeln!(
            out,
            "\nThe pipeline's latency cut where the classifier tagged each event (its `classified_at`), p50 / p99 ms:\n"
        );
        let _ = writeln!(
            out,
            "| offered events/s | made to classified | classified to stored |"
        );
        let _ = writeln!(out, "|---|---|---|");
        for x in &r.latency_at_rate {
            if let Some(split) = &x.pipeline_split {
                let _ = writeln!(
                    out,
                    "| {} | {:.1} / {:.1} | {:.1} / {:.1} |",
                    x.offered_per_second,
                    split.to_classified.p50_ms,
                    split.to_classified.p99_ms,
                    split.classified_to_stored.p50_ms,
                    split.classified_to_stored.p99_ms,
                );
            }
        }
    }
    out
}

/// The zero-work stages of the relay baseline (`newswire bench-stage relay|drain`).
pub async fn stage(args: BenchStageArgs) -> Result<()> {
    let (input, streams, durable) = match args.role {
        BenchStageRole::Relay => (
            StreamKind::Raw,
            vec![StreamKind::Raw, StreamKind::Tagged, StreamKind::DeadLetter],
            "relay",
        ),
        BenchStageRole::Drain => (
            StreamKind::Tagged,
            vec![StreamKind::Tagged, StreamKind::DeadLetter],
            "drain",
        ),
    };
    // The same consumer options as the real stages.
    let mut options = ConsumerOptions::new(durable);
    options.worker.in_flight = args.in_flight.max(1);
    let worker = options.worker;
    let connection = StageConnection::open(
        "bench",
        &args.nats,
        &ConsumeFrom {
            input,
            streams,
            options,
        },
    )
    .await?
    .monitor(args.metrics_listen, None)
    .await
    .map_err(|(addr, e)| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    let shutdown = newswire_shared::shutdown::signal();
    match args.role {
        BenchStageRole::Relay => {
            let handler = Relay {
                js: connection.js.clone(),
                subject: connection.subjects.tagged("relay", "XXX"),
                pad: args.pad_bytes,
            };
            connection.serve(handler, worker, shutdown).await;
        }
        BenchStageRole::Drain => connection.serve(Drain, worker, shutdown).await,
    }
    Ok(())
}

struct Relay {
    js: jetstream::Context,
    subject: String,
    /// Bytes added to each republished event (see [`Env::relay_pad`]).
    pad: usize,
}

/// `payload` (a JSON object) with `pad` more bytes: a field the drain ignores. `None` for a
/// payload that is not an object or a pad shorter than the field's own syntax.
fn padded(payload: &[u8], pad: usize) -> Option<Vec<u8>> {
    const FIELD: &[u8] = b",\"bench_pad\":\"\"";
    if pad < FIELD.len() || payload.last() != Some(&b'}') {
        return None;
    }
    let mut out = Vec::with_capacity(payload.len() + pad);
    out.extend_from_slice(&payload[..payload.len() - 1]);
    out.extend_from_slice(&FIELD[..FIELD.len() - 1]);
    out.resize(out.len() + pad - FIELD.len(), b'x');
    out.extend_from_slice(b"\"}");
    Some(out)
}

impl Handler for Relay {
    async fn start(&mut self, batch: &[Message]) -> Finish {
        let mut acks = Vec::with_capacity(batch.len());
        for m in batch {
            let payload =
                padded(&m.payload, self.pad).map_or_else(|| m.payload.clone(), Into::into);
            let mut publish = PublishMessage::build().payload(payload);
            if let Some(id) = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")) {
                publish = publish.message_id(id.as_str());
            }
            acks.push(self.js.send_publish(self.subject.clone(), publish).await);
        }
        Box::pin(futures::future::join_all(acks.into_iter().map(
            |ack| async move {
                match ack {
                    Ok(ack) => match ack.await {
                        Ok(_) => Outcome {
                            decision: newswire_shared::nats::Decision::Ack,
                            event_id: None,
                        },
                        Err(e) => Outcome::retry(None, Duration::from_secs(1), e.to_string()),
                    },
                    Err(e) => Outcome::retry(None, Duration::from_secs(1), e.to_string()),
                }
            },
        )))
    }
}

/// Acknowledges what it receives: the relay's last stage.
struct Drain;

impl Handler for Drain {
    async fn start(&mut self, batch: &[Message]) -> Finish {
        let outcomes = batch
            .iter()
            .map(|_| Outcome {
                decision: newswire_shared::nats::Decision::Ack,
                event_id: None,
            })
            .collect();
        Box::pin(std::future::ready(outcomes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_batch_is_read_from_the_stage_metrics() {
        let exposition = "# TYPE newswire_batch_size histogram\n\
            newswire_batch_size_bucket{stage=\"sink\",le=\"1\"} 3\n\
            newswire_batch_size_sum{stage=\"sink\"} 600\n\
            newswire_batch_size_count{stage=\"sink\"} 4\n\
            newswire_store_batch_size_sum 999\n\
            newswire_store_batch_size_count 1\n";
        assert_eq!(mean_batch(exposition), Some(150.0));
        assert_eq!(mean_batch("newswire_batch_size_count 0\n"), None);
        assert_eq!(mean_batch(""), None);
    }

    #[test]
    fn results_block_is_replaced_and_the_rest_kept() {
        let first = merge_results(None, "one");
        assert!(first.starts_with(BENCH_HEADER) && first.contains("one"));
        let edited = format!("{first}\n## Changes\n- kept\n");
        let second = merge_results(Some(&edited), "two");
        assert!(second.contains("two") && !second.contains("one") && second.contains("- kept"));
    }

    #[test]
    fn percentiles_and_spreads() {
        let l = latency((1..=100).map(f64::from).collect());
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (51.0, 99.0, 100.0));
        let s = spread(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let run = |eps: f64| Run {
            events_per_second: eps,
            ..Run::default()
        };
        assert_eq!(
            median_run(&[run(9.0), run(1.0), run(5.0)]).events_per_second,
            5.0
        );
        assert_eq!(corpus(25).len(), 3);
    }

    #[test]
    fn acknowledgements_are_read_from_either_form_of_ack_subject() {
        assert_eq!(
            acked_sequence("$JS.ACK.NEWS_TAGGED.sink.1.4711.4700.1764570000000000000.12"),
            Some(4711)
        );
        assert_eq!(
            acked_sequence(
                "$JS.ACK.hub.ACCHASH.NEWS_TAGGED.sink.2.42.40.1764570000000000000.0.tok"
            ),
            Some(42)
        );
        assert_eq!(acked_sequence("$JS.ACK.NEWS_TAGGED.sink.1.x.1.1.0"), None);
        assert_eq!(acked_sequence("$JS.ACK.NEWS_TAGGED.sink.1"), None);
        assert_eq!(acked_sequence("news.tagged.x.y"), None);
        assert!(is_ack(b"+ACK") && is_ack(b"") && is_ack(b"+ACK {}"));
        assert!(!is_ack(b"-NAK") && !is_ack(b"+WPI") && !is_ack(b"+TERM"));
    }

    /// Against a real nats-server: every acknowledgement of the watched consumer is seen,
    /// a nak is not taken for one, and the stream read back gives each sequence its time.
    #[tokio::test]
    async fn a_consumers_acknowledgements_are_watched_and_paired_with_event_times() -> Result<()> {
        use async_nats::jetstream::{AckKind, consumer::pull, stream};
        let dir = tempfile::tempdir()?;
        let mut server =
            NatsServerProcess::start_on_free_port("127.0.0.1", &dir.path().join("nats"), &[])
                .await?;
        let client = async_nats::connect(server.url()).await?;
        let js = jetstream::new(client.clone());
        js.create_stream(stream::Config {
            name: "WATCHED".into(),
            subjects: vec!["watched.>".into()],
            ..Default::default()
        })
        .await?;
        let mut consumer = js
            .get_stream("WATCHED")
            .await?
            .create_consumer(pull::Config {
                durable_name: Some("last".into()),
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            })
            .await?;
        let watch = AckWatch::start(&client, "WATCHED", "last", 3).await?;
        let times = [
            "2026-12-01T14:00:00.000001Z",
            "2026-12-01T14:00:00.5Z",
            "2026-12-01T14:00:01Z",
        ];
        for (i, t) in times.iter().enumerate() {
            let payload = format!(r#"{{"ingested_at":"{t}","text":"x"}}"#);
            js.publish(format!("watched.{i}"), payload.into())
                .await?
                .await?;
        }
        let mut first = true;
        let mut refused_at = None;
        while !consumer
            .info()
            .await
            .is_ok_and(|i| i.num_ack_pending == 0 && i.num_pending == 0)
            || first
        {
            let mut batch = consumer.fetch().max_messages(3).messages().await?;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|e| anyhow::anyhow!(e))?;
                // The first delivery of the first message is refused: its ack comes later.
                if first {
                    first = false;
                    message
                        .ack_with(AckKind::Nak(None))
                        .await
                        .map_err(|e| anyhow::anyhow!(e))?;
                    refused_at = Some(OffsetDateTime::now_utc());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                } else {
                    message.ack().await.map_err(|e| anyhow::anyhow!(e))?;
                }
            }
        }
        let acked = watch.finish(Duration::from_secs(10)).await?;
        let mut sequences: Vec<u64> = acked.keys().copied().collect();
        sequences.sort_unstable();
        assert_eq!(sequences, [1, 2, 3]);
        let refused_at = refused_at.expect("the first delivery was refused");
        assert!(
            acked[&1] - refused_at >= time::Duration::milliseconds(100),
            "the nak was taken for an acknowledgement"
        );
        let read = event_times_by_sequence(&js, "WATCHED", 3).await?;
        for ((sequence, made), expected) in read.iter().zip(times) {
            let expected =
                OffsetDateTime::parse(expected, &time::format_description::well_known::Rfc3339)?;
            assert_eq!(made.ingested_at, expected, "sequence {sequence}");
            assert!(made.classified_at.is_none());
            assert!(acked[sequence] > expected);
        }
        server.stop().await;
        Ok(())
    }

    #[test]
    fn the_relay_pads_to_the_tagged_size_and_the_benchmark_still_reads_its_time() {
        let raw = br#"{"ingested_at":"2026-12-01T06:00:00Z","text":"x"}"#;
        let out = padded(raw, 100).expect("an object is padded");
        assert_eq!(out.len(), raw.len() + 100);
        let read = EventTimes::read(&out).expect("still an event whose time the benchmark reads");
        assert_eq!(read.ingested_at.unix_timestamp(), 1_796_104_800);
        assert_eq!(padded(raw, 3), None, "too short for the field");
        assert_eq!(padded(b"[1]", 100), None, "not an object");
        let tagged = payload_bytes(&corpus(50));
        assert!(tagged.tagged > tagged.raw, "{tagged:?}");
    }
}
