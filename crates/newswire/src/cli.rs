//! Command-line interface: every stage and tool of newswire as a subcommand of one binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use newswire_shared::nats::NatsArgs;
use newswire_shared::telemetry::LogFormat;

/// newswire: news articles in, sentence-level events tagged by actor and CAMEO/PLOVER
/// category out, over NATS JetStream.
#[derive(Debug, Parser)]
#[command(
    name = "newswire",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log line format (levels come from RUST_LOG, default info).
    #[arg(long, global = true, env = "NEWSWIRE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// TOML configuration file; its values sit under the environment and the flags (see
    /// deploy/newswire.toml and `newswire config check`).
    #[arg(long, global = true, env = "NEWSWIRE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish articles (text, Markdown, HTML or JSON; files, folders, globs, stdin) as
    /// sentence events to the raw stream.
    Publish(PublishArgs),
    /// The producer service.
    #[command(subcommand)]
    Producer(ProducerCommand),
    /// Run the classifier service: raw events in, tagged events out.
    Classifier(ClassifierArgs),
    /// Run the sink service: tagged events in, stored idempotently.
    Sink(SinkArgs),
    /// List stored events, filtered by actor, country, category, article and time.
    Query(QueryArgs),
    /// Print tagged events live as they flow.
    Tail(TailArgs),
    /// Show each stream's messages and each consumer's pending, unacknowledged and
    /// redelivered counts.
    Status(StatusArgs),
    /// Run classifier and sink in one process (starting a private nats-server if none is reachable).
    Up(UpArgs),
    /// Run the whole pipeline on the bundled sample article and print the stored events.
    Demo(DemoArgs),
    /// Code sentences offline, without NATS: one JSON line per sentence.
    Classify(ClassifyArgs),
    /// Dictionary tools.
    #[command(subcommand)]
    Dict(DictCommand),
    /// Score the classifier against a gold set: precision, recall and F1 of actors and events.
    Eval(EvalArgs),
    /// Inspect dead letters and send them back through the pipeline.
    Dlq(DlqArgs),
    /// Measure the pipeline beside a zero-work relay on the same broker (see docs/benchmarks.md).
    Bench(BenchArgs),
    /// A zero-work stage of the benchmark's relay baseline.
    #[command(hide = true)]
    BenchStage(BenchStageArgs),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the JSON Schema of an event type.
    Schema {
        #[arg(value_enum)]
        event: SchemaKind,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Use this NATS server instead of starting a private one.
    #[arg(long)]
    pub url: Option<String>,
    /// A smoke run: fewer events, shorter phases.
    #[arg(long)]
    pub quick: bool,
    /// Events per throughput run (default 50,000; 5,000 with --quick).
    #[arg(long)]
    pub events: Option<usize>,
    /// Repetitions of each throughput run; the median is reported with min and max.
    #[arg(long, default_value_t = 3)]
    pub repetitions: usize,
    /// Offered rates (events/s) of the latency mode.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub rates: Vec<u32>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench/latest.json")]
    pub json: PathBuf,
    /// Also write the markdown summary here (e.g. docs/benchmarks.md).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Run only the in-process classifier, `--repetitions` times, and print its speed: no
    /// NATS, nothing written. For comparing builds of the classifier in alternating runs.
    #[arg(long, conflicts_with_all = ["url", "markdown"])]
    pub classifier_only: bool,
    /// Run only the in-process SQLite store, `--repetitions` times, and print its speed: no
    /// NATS, databases in a temporary folder. For comparing builds of the store in
    /// alternating runs.
    #[arg(long, conflicts_with_all = ["url", "markdown", "classifier_only"])]
    pub store_only: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchStageRole {
    /// Republish raw events to the tagged stream, padded by `--pad-bytes`.
    Relay,
    /// Ack tagged events.
    Drain,
}

#[derive(Debug, Args)]
pub struct BenchStageArgs {
    #[arg(value_enum)]
    pub role: BenchStageRole,
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Batches worked on at once, as the stages' `--in-flight`.
    #[arg(long, env = "NEWSWIRE_IN_FLIGHT", default_value_t = 2)]
    pub in_flight: usize,
    /// Bytes the relay adds to each event it republishes (tagged events are larger than raw
    /// ones; `newswire bench` passes the difference).
    #[arg(long, default_value_t = 0)]
    pub pad_bytes: usize,
    /// Where to serve `/metrics` (the benchmark reads the batch sizes there).
    #[arg(long, env = "NEWSWIRE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Gold sets: JSON lines {"id", "text", "date", "actors", "events"}; repeat the flag for
    /// several, each scored on its own. By default the development set the dictionaries are
    /// tuned on and the held-out set they never are.
    #[arg(
        long,
        default_values = [
            "tests/gold/events.jsonl",
            "tests/gold/heldout.jsonl",
            "tests/gold/heldout2.jsonl"
        ]
    )]
    pub gold: Vec<PathBuf>,
    /// Also write the scores as markdown to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Print every sentence coded differently from its annotation.
    #[arg(long)]
    pub errors: bool,
    #[command(flatten)]
    pub dict: DictArgs,
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters: sequence, time, stage, deliveries, event, subject, reason.
    List {
        /// Only those of this stage (classifier, sink).
        #[arg(long)]
        stage: Option<String>,
        /// Most dead letters to list, oldest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Show one dead letter: its headers and payload.
    Show { sequence: u64 },
    /// Publish dead letters back to the subject they came from, then remove them from the
    /// dead-letter stream (after a fix: a new dictionary, a repaired store, ...).
    Replay {
        /// Sequences to replay.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        sequences: Vec<u64>,
        /// Replay every dead letter (of --stage, if given).
        #[arg(long)]
        all: bool,
        #[arg(long)]
        stage: Option<String>,
        /// Keep them in the dead-letter stream after replaying.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    Raw,
    Tagged,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration file and print the effective configuration of each stage (or
    /// of one: `producer serve`, `classifier`, `sink`), every value with its source, secrets
    /// masked; unknown keys fail with their path.
    Check {
        #[arg(value_parser = ["producer serve", "producer", "classifier", "sink"])]
        stage: Option<String>,
    },
}

/// Where a stage serves its operator endpoints.
#[derive(Debug, Clone, Copy, Args)]
pub struct OpsArgs {
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address, e.g. 0.0.0.0:9090.
    #[arg(long, env = "NEWSWIRE_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum DictCommand {
    /// Validate a dictionary directory (files there replace the built-in ones); no PATH checks the built-in set.
    Check { path: Option<PathBuf> },
    /// Import a PETRARCH (or TABARI 0.8) actor dictionary: writes OUT/people.toml and
    /// OUT/organisations.toml, the dictionaries in use with the imported people and
    /// organisations added, and validates them. Use them with `--dict OUT`.
    ImportPetrarch {
        /// The PETRARCH actor dictionary (`.actors` / `.txt`).
        file: PathBuf,
        /// Directory to write the dictionaries to (created if missing).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        dict: DictArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where events are stored: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    #[arg(
        long,
        env = "NEWSWIRE_STORE",
        hide_env_values = true,
        default_value = "sqlite://newswire.db"
    )]
    pub store: String,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum InputFormatArg {
    /// By file extension (.json/.jsonl, .html/.htm, .md, .txt), else by content: JSON when it
    /// starts with '{', HTML when it starts with an HTML tag, plain text otherwise.
    #[default]
    Auto,
    Text,
    /// One JSON article, or JSON lines of many.
    Json,
    /// A web page: readable text extracted, metadata from the page.
    Html,
    /// Markdown, with optional front matter.
    Markdown,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct LimitsArgs {
    /// Largest accepted input, in bytes.
    #[arg(long, env = "NEWSWIRE_MAX_ARTICLE_BYTES", default_value_t = 1024 * 1024)]
    pub max_article_bytes: usize,
    /// Longest accepted sentence, in bytes.
    #[arg(long, env = "NEWSWIRE_MAX_SENTENCE_BYTES", default_value_t = 4096)]
    pub max_sentence_bytes: usize,
}

impl LimitsArgs {
    pub fn limits(&self) -> newswire_producer::Limits {
        newswire_producer::Limits {
            max_article_bytes: self.max_article_bytes,
            max_sentence_bytes: self.max_sentence_bytes,
        }
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Files, folders (read recursively), glob patterns (quoted) or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    pub format: InputFormatArg,
    /// Publish the inputs that are accepted and report the refused ones (exit 65), instead of
    /// refusing the whole run.
    #[arg(long)]
    pub keep_going: bool,
    /// Language of articles that do not declare one (otherwise detected).
    #[arg(long)]
    pub language: Option<String>,
    /// Outlet of plain-text articles (JSON articles carry their own).
    #[arg(long)]
    pub source: Option<String>,
    /// Title of a plain-text article.
    #[arg(long)]
    pub title: Option<String>,
    /// URL of a plain-text article.
    #[arg(long)]
    pub url: Option<String>,
    /// Publication date of a plain-text article (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub published_at: Option<String>,
    #[command(flatten)]
    pub limits: LimitsArgs,
    #[command(flatten)]
    pub nats: NatsArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProducerCommand {
    /// Run the producer service: articles from HTTP (POST /articles), an inbox folder and
    /// RSS/Atom feeds, in any combination.
    Serve(ProducerServeArgs),
}

#[derive(Debug, Args)]
pub struct ProducerServeArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Accept articles on POST /articles at this address, e.g. 0.0.0.0:8080.
    #[arg(long, env = "NEWSWIRE_HTTP_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
    /// Bearer token that POST /articles requires.
    #[arg(long, env = "NEWSWIRE_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Watch this folder: each file is published once, then moved to done/ or rejected/.
    #[arg(long, env = "NEWSWIRE_INBOX")]
    pub inbox: Option<PathBuf>,
    /// Seconds between full scans of the inbox (notifications wake it sooner).
    #[arg(long, env = "NEWSWIRE_INBOX_RESCAN_SECS", default_value_t = 30)]
    pub inbox_rescan_secs: u64,
    /// RSS or Atom feed to poll: a URL or a file; repeat, or separate with commas.
    #[arg(long = "feed", env = "NEWSWIRE_FEEDS", value_delimiter = ',')]
    pub feeds: Vec<String>,
    /// Seconds between polls of each feed.
    #[arg(long, env = "NEWSWIRE_FEED_INTERVAL_SECS", default_value_t = 300)]
    pub feed_interval_secs: u64,
    /// Timeout of each feed or page request, in seconds.
    #[arg(long, env = "NEWSWIRE_FEED_TIMEOUT_SECS", default_value_t = 20)]
    pub feed_timeout_secs: u64,
    /// Publish summary-only feed items as they are instead of fetching their pages.
    #[arg(long, env = "NEWSWIRE_NO_FETCH_PAGES")]
    pub no_fetch_pages: bool,
    /// Days the producers remember published inbox files and feed items.
    #[arg(long, env = "NEWSWIRE_SEEN_DAYS", default_value_t = 90)]
    pub seen_days: u64,
    #[command(flatten)]
    pub limits: LimitsArgs,
    #[command(flatten)]
    pub ops: OpsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ConsumerArgs {
    /// Durable consumer name; replicas with the same name share the work.
    #[arg(long)]
    pub durable: Option<String>,
    /// Deliveries of a message that keeps failing before it is dead-lettered.
    #[arg(long, env = "NEWSWIRE_MAX_DELIVER", default_value_t = 10)]
    pub max_deliver: i64,
    /// Seconds the server waits for an ack before redelivering.
    #[arg(long, env = "NEWSWIRE_ACK_WAIT_SECS", default_value_t = 30)]
    pub ack_wait_secs: u64,
    /// Most messages processed as one batch.
    #[arg(long, env = "NEWSWIRE_MAX_BATCH", default_value_t = 256)]
    pub max_batch: usize,
    /// Batches worked on at once (1 to 16): with 2, a batch is processed while the one before
    /// it waits for its publish acks or its commit; 1 works batch by batch.
    #[arg(long, env = "NEWSWIRE_IN_FLIGHT", default_value_t = 2)]
    pub in_flight: usize,
    /// Messages delivered and not yet acknowledged, across all replicas (each replica holds up
    /// to (--in-flight + 2) × --max-batch: raise it with the replicas).
    #[arg(long, env = "NEWSWIRE_MAX_ACK_PENDING", default_value_t = 1024)]
    pub max_ack_pending: i64,
}

#[derive(Debug, Clone, Args)]
pub struct DictArgs {
    /// Directory of dictionary files replacing the built-in ones of the same name.
    #[arg(long = "dict", env = "NEWSWIRE_DICT")]
    pub dict_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClassifierArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub dict: DictArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Longer sentences are dead-lettered, not coded.
    #[arg(long, env = "NEWSWIRE_MAX_SENTENCE_BYTES", default_value_t = 4096)]
    pub max_sentence_bytes: usize,
    #[command(flatten)]
    pub ops: OpsArgs,
}

#[derive(Debug, Args)]
pub struct SinkArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub consumer: ConsumerArgs,
    /// Milliseconds a batch waits to fill when its first event was made more than 100 ms
    /// before it arrived (a saturated pipeline: fewer, larger commits); 0 writes every batch
    /// at once. At most 1000. Relies on the producer's and the sink's clocks agreeing.
    #[arg(long, env = "NEWSWIRE_LINGER_MS", default_value_t = newswire_sink::service::LINGER.as_millis() as u64)]
    pub linger_ms: u64,
    #[command(flatten)]
    pub ops: OpsArgs,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum OutputFormat {
    /// A readable table.
    #[default]
    Table,
    /// JSON lines: one tagged event per line.
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Actor code or prefix (PRK matches PRKGOV and PRKMIL).
    #[arg(long)]
    pub actor: Option<String>,
    /// Country of any actor (ISO alpha-3).
    #[arg(long)]
    pub country: Option<String>,
    /// Category token (threaten, provide_aid, none), CAMEO root (13) or code (138).
    #[arg(long)]
    pub category: Option<String>,
    /// Article id.
    #[arg(long)]
    pub article: Option<String>,
    /// Events at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Events before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Most events to list: the latest of those matching, listed oldest first.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Only this category token (threaten, provide_aid, ...; not a CAMEO code: the subjects
    /// carry tokens), in any case.
    #[arg(long)]
    pub category: Option<String>,
    /// Only this primary actor country (PRK, KOR, NATO, ...), in any case.
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub dict: DictArgs,
    /// Articles to publish once the stages are running.
    #[arg(long = "publish", value_name = "FILE")]
    pub publish: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Seconds to wait for every event to be stored.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Text files (split into sentences) or, with --jsonl, JSON lines; `-` or none reads stdin.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// Input is JSON lines {"id", "text", "date"}.
    #[arg(long)]
    pub jsonl: bool,
    /// Date that picks office holders for plain text (YYYY-MM-DD).
    #[arg(long)]
    pub date: Option<String>,
    /// Print why each tag was given instead of JSON.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub dict: DictArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
