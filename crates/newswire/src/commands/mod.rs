//! One module per command family; `run` dispatches.

mod bench;
mod classify;
mod dlq;
mod publish;
mod query;
mod stages;
mod status;
mod tail;

use anyhow::Result;
use newswire_shared::nats::NatsArgs;
use newswire_shared::shutdown;

use crate::cli::{
    ClassifierArgs, Command, ConfigCommand, ConsumerArgs, DictCommand, ProducerCommand,
    ProducerServeArgs, SchemaKind, SinkArgs,
};
use crate::errors::{DataError, Unavailable, UsageError};

/// What `main` read before the command line: the command definition with the configuration
/// file's values as defaults, and those values.
#[derive(Debug)]
pub struct Setup {
    pub command: clap::Command,
    pub file: crate::config::FileValues,
}

pub async fn run(command: Command, setup: &Setup) -> Result<()> {
    match command {
        Command::Publish(args) => publish::run(args).await,
        Command::Producer(ProducerCommand::Serve(args)) => {
            let config = producer_config(args)?;
            newswire_producer::run(config, shutdown::signal())
                .await
                .map_err(|e| stage_error(e.is_unavailable(), e.is_invalid_config(), e))
        }
        Command::Classifier(args) => {
            let config = classifier_config(args)?;
            newswire_classifier::run(config, shutdown::signal())
                .await
                .map_err(|e| stage_error(e.is_unavailable(), e.is_invalid_config(), e))
        }
        Command::Sink(args) => {
            let config = sink_config(args)?;
            newswire_sink::run(config, shutdown::signal())
                .await
                .map_err(|e| stage_error(e.is_unavailable(), e.is_invalid_config(), e))
        }
        Command::Query(args) => query::run(args).await,
        Command::Tail(args) => tail::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Up(args) => stages::up(args).await,
        Command::Demo(args) => stages::demo(args).await,
        Command::Classify(args) => classify::run(args),
        Command::Dlq(args) => dlq::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchStage(args) => bench::stage(args).await,
        Command::Eval(args) => {
            use newswire_classifier::eval;
            let classifier = newswire_classifier::load_classifier(args.dict.dict_dir.as_deref())
                .map_err(|e| UsageError(e.to_string()))?;
            let mut markdown = format!(
                "# Classifier quality\n\nScores of `{}`, written by `just eval`. \
                 `tests/gold/events.jsonl` is the development set: the dictionaries and rules \
                 are tuned on its misses. `tests/gold/heldout.jsonl` and \
                 `tests/gold/heldout2.jsonl` are held out: each written by a helper who saw \
                 neither the cue dictionary nor the classifier's output, and never used for \
                 tuning (their misses are not to be read), so they measure how the coder does on \
                 sentences it was not fitted to.\n",
                classifier.version(),
            );
            for path in &args.gold {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| DataError(format!("cannot read {}: {e}", path.display())))?;
                let gold = eval::read_gold(&text)
                    .map_err(|e| DataError(format!("{}: {e}", path.display())))?;
                let report = eval::evaluate(&classifier, &gold);
                if args.errors {
                    for m in &report.mismatches {
                        println!("[{}] {}", m.id, m.text);
                        println!(
                            "  actors  gold {:?}\n          got  {:?}",
                            m.gold_actors, m.predicted_actors
                        );
                        println!(
                            "  events  gold {:?}\n          got  {:?}",
                            m.gold_events, m.predicted_events
                        );
                    }
                    println!();
                }
                let section = format!(
                    "\n## `{}` ({} sentences)\n\n{}",
                    path.display(),
                    report.sentences,
                    report.markdown()
                );
                print!("{section}");
                markdown.push_str(&section);
            }
            if let Some(path) = args.markdown {
                std::fs::write(&path, markdown)
                    .map_err(|e| DataError(format!("cannot write {}: {e}", path.display())))?;
            }
            Ok(())
        }
        Command::Dict(DictCommand::Check { path }) => {
            let classifier = newswire_classifier::load_classifier(path.as_deref())
                .map_err(|e| DataError(e.to_string()))?;
            let (terms, cues) = classifier.dictionary().sizes();
            println!(
                "dictionaries valid: {} countries, {} people, {} organisations, {terms} actor terms, {cues} cues ({})",
                classifier.dictionary().countries.len(),
                classifier.dictionary().people.len(),
                classifier.dictionary().orgs.len(),
                classifier.version()
            );
            Ok(())
        }
        Command::Dict(DictCommand::ImportPetrarch { file, out, dict }) => {
            import_petrarch(&file, &out, dict.dict_dir.as_deref())
        }
        Command::Config(ConfigCommand::Check { stage }) => {
            let stage = stage.map(|s| {
                if s == "producer" {
                    "producer serve".to_owned()
                } else {
                    s
                }
            });
            let report = crate::config::check(setup.command.clone(), &setup.file, stage.as_deref())
                .map_err(|e| UsageError(e.to_string()))?;
            print!("{report}");
            // The values each stage would start with, checked as the stage checks them.
            let mut refused = Vec::new();
            for (name, command) in crate::config::stage_commands(&setup.command, stage.as_deref())
                .map_err(|e| UsageError(e.to_string()))?
            {
                if let Err(e) = check_stage(command) {
                    refused.push(format!("newswire {name}: {e}"));
                }
            }
            if refused.is_empty() {
                Ok(())
            } else {
                Err(UsageError(refused.join("\n")).into())
            }
        }
        Command::Schema { event } => {
            let [raw, tagged] = newswire_shared::event::json_schemas();
            let (_, text) = match event {
                SchemaKind::Raw => raw,
                SchemaKind::Tagged => tagged,
            };
            print!("{text}");
            Ok(())
        }
    }
}

fn classifier_config(args: ClassifierArgs) -> Result<newswire_classifier::ClassifierConfig> {
    let mut config = newswire_classifier::ClassifierConfig::new(checked(args.nats)?);
    config.dict_dir = args.dict.dict_dir;
    config.max_sentence_bytes = args.max_sentence_bytes;
    config.metrics_listen = args.ops.metrics_listen;
    apply_consumer(&args.consumer, &mut config.consumer)?;
    Ok(config)
}

fn sink_config(args: SinkArgs) -> Result<newswire_sink::SinkConfig> {
    let mut config = newswire_sink::SinkConfig::new(checked(args.nats)?, args.store.store);
    config.metrics_listen = args.ops.metrics_listen;
    apply_consumer(&args.consumer, &mut config.consumer)?;
    let linger = std::time::Duration::from_millis(args.linger_ms);
    if linger > newswire_shared::worker::MAX_LINGER {
        return Err(UsageError(format!(
            "--linger-ms {} is above {}",
            args.linger_ms,
            newswire_shared::worker::MAX_LINGER.as_millis()
        ))
        .into());
    }
    config.linger = linger;
    Ok(config)
}

/// The checks a stage makes of its values before it connects anywhere, for `config check`, on
/// the same merged values: ranges, names, NATS credentials. Not those that depend on the host
/// or on secrets the checking shell may not hold (the inbox folder, the producer's HTTP token):
/// `config check` runs in operator containers too.
fn check_stage(command: Command) -> Result<()> {
    let nats = match command {
        Command::Producer(ProducerCommand::Serve(args)) => producer_config(args)?.nats,
        Command::Classifier(args) => classifier_config(args)?.nats,
        Command::Sink(args) => sink_config(args)?.nats,
        _ => return Ok(()),
    };
    nats.auth.check().map_err(|e| UsageError(e.to_string()))?;
    Ok(())
}

fn producer_config(args: ProducerServeArgs) -> Result<newswire_producer::ProducerConfig> {
    use std::time::Duration;
    let mut config = newswire_producer::ProducerConfig::new(checked(args.nats)?);
    config.limits = args.limits.limits();
    config.http = args
        .listen
        .map(|listen| newswire_producer::HttpConfig::new(listen, args.token));
    config.inbox = args.inbox.map(|dir| {
        let mut inbox = newswire_producer::inbox::InboxConfig::new(dir);
        inbox.rescan = Duration::from_secs(args.inbox_rescan_secs.max(1));
        inbox
    });
    if !args.feeds.is_empty() {
        let mut feeds = newswire_producer::feeds::FeedConfig::new(args.feeds);
        feeds.interval = Duration::from_secs(args.feed_interval_secs);
        feeds.timeout = Duration::from_secs(args.feed_timeout_secs);
        feeds.fetch_pages = !args.no_fetch_pages;
        config.feeds = Some(feeds);
    }
    config.seen_retention = Duration::from_secs(args.seen_days.max(1) * 24 * 3600);
    config.metrics_listen = args.ops.metrics_listen;
    Ok(config)
}

/// NATS arguments with the prefix checked, as a usage error when invalid.
fn checked(nats: NatsArgs) -> Result<NatsArgs> {
    nats.subjects().map_err(|e| UsageError(e.to_string()))?;
    Ok(nats)
}

/// Most batches a stage works on at once.
const MAX_IN_FLIGHT: usize = 16;

fn apply_consumer(
    args: &ConsumerArgs,
    options: &mut newswire_shared::worker::ConsumerOptions,
) -> Result<()> {
    if args.max_deliver < 1
        || args.max_batch == 0
        || args.in_flight == 0
        || args.ack_wait_secs == 0
        || args.max_ack_pending < 1
    {
        return Err(UsageError(
            "--max-deliver, --max-batch, --in-flight, --ack-wait-secs and --max-ack-pending must be positive"
                .into(),
        )
        .into());
    }
    if args.in_flight > MAX_IN_FLIGHT {
        return Err(UsageError(format!(
            "--in-flight {} is above {MAX_IN_FLIGHT}: more batches in flight only hold more messages",
            args.in_flight
        ))
        .into());
    }
    if let Some(name) = &args.durable {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(UsageError(format!(
                "durable name {name:?} must be letters, digits, '-' or '_'"
            ))
            .into());
        }
        options.durable.clone_from(name);
    }
    options.worker.max_batch = args.max_batch;
    options.worker.pull_batch = args.max_batch.saturating_mul(2);
    options.worker.in_flight = args.in_flight;
    options.max_deliver = args.max_deliver;
    options.ack_wait = std::time::Duration::from_secs(args.ack_wait_secs);
    options.max_ack_pending = args.max_ack_pending;
    Ok(())
}

/// A stage's start-up failure with its exit code: 69 unreachable services, 64 bad configuration.
fn stage_error(
    unavailable: bool,
    invalid_config: bool,
    e: impl std::error::Error + Send + Sync + 'static,
) -> anyhow::Error {
    if unavailable {
        Unavailable(e.to_string()).into()
    } else if invalid_config {
        UsageError(e.to_string()).into()
    } else {
        anyhow::Error::new(e)
    }
}

/// `newswire dict import-petrarch`: converts, writes the full dictionary set to `out` and
/// checks that it loads.
fn import_petrarch(
    file: &std::path::Path,
    out: &std::path::Path,
    base: Option<&std::path::Path>,
) -> Result<()> {
    use newswire_classifier::{Dictionary, Sources, petrarch};
    let sources = match base {
        Some(dir) => Sources::with_overrides(dir).map_err(|e| UsageError(e.to_string()))?,
        None => Sources::builtin(),
    };
    let known = Dictionary::compile(&sources).map_err(|e| DataError(e.to_string()))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| DataError(format!("cannot read {}: {e}", file.display())))?;
    let import = petrarch::import_actors(&text, &known).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|(line, message)| format!("{}:{line}: {message}", file.display()))
            .collect();
        DataError(format!(
            "invalid PETRARCH dictionary:\n{}",
            lines.join("\n")
        ))
    })?;
    let header = format!(
        "\n# Imported from {} by `newswire dict import-petrarch`.\n",
        file.display()
    );
    // The new set, checked in memory before anything is written: a failed import leaves `out`
    // as it was.
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut combined = sources.clone();
    for (index, file_name) in newswire_classifier::dict::FILES.into_iter().enumerate() {
        let text = &mut combined.files[index].1;
        let added = match file_name {
            "people.toml" => Some(&import.people_toml),
            "organisations.toml" => Some(&import.orgs_toml),
            _ => None,
        };
        match added {
            Some(added) => *text = format!("{}{header}{added}", text.trim_end()),
            // The other files are written only where the base set overrides them, so that
            // `--dict OUT` sees the same set.
            None if !sources.is_override(index) => continue,
            None => {}
        }
        files.push((file_name, text.clone()));
    }
    Dictionary::compile(&combined).map_err(|e| DataError(e.to_string()))?;
    std::fs::create_dir_all(out)
        .map_err(|e| DataError(format!("cannot create {}: {e}", out.display())))?;
    for (file_name, content) in files {
        // Written beside and renamed over, so a reader never sees half a file.
        let path = out.join(file_name);
        let partial = out.join(format!(".{file_name}.partial"));
        std::fs::write(&partial, content)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| DataError(format!("cannot write {}: {e}", path.display())))?;
    }
    for s in &import.skipped {
        eprintln!(
            "{}:{}: skipped {:?}: {}",
            file.display(),
            s.line,
            s.name,
            s.reason
        );
    }
    println!(
        "imported {} people and {} organisations into {} ({} skipped); use them with --dict {}",
        import.people,
        import.orgs,
        out.display(),
        import.skipped.len(),
        out.display()
    );
    Ok(())
}
