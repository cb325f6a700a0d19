//! Harness for newswire's end-to-end tests: a private nats-server per test (free port,
//! JetStream on, store in a temp dir), unique subject prefixes so tests run in parallel,
//! and stages run in-process through their library `run` functions.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use newswire_producer::Article;
use newswire_shared::ArticleMeta;
use newswire_shared::local_server::{
    LocalServerError, NatsServerProcess, free_port, retry_on_taken_port,
};
use newswire_shared::nats::NatsArgs;
use newswire_shared::shutdown::{self, Trigger};
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// The bundled sample article (the project's copy of ../shared/samples).
pub const SAMPLE_ARTICLE: &str = include_str!("../../fixtures/putin-warns-seoul.txt");

/// A nats-server of this test's own.
#[derive(Debug)]
pub struct TestNats {
    pub server: NatsServerProcess,
    _dir: TempDir,
}

impl TestNats {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra_args: &[String]) -> Self {
        // Stage logs show in a failing test's output (RUST_LOG to change the level).
        newswire_shared::telemetry::init_for_tests();
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NatsServerProcess::start_on_free_port(
            "127.0.0.1",
            &dir.path().join("nats"),
            extra_args,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        Self { server, _dir: dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// NATS arguments with a prefix unique to this call, so streams never collide.
    pub fn args(&self) -> NatsArgs {
        NatsArgs::new(self.url(), unique_prefix())
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::connect(self.url()).await.expect("connects");
        jetstream::new(client)
    }
}

/// A subject prefix no other test uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A stage running in a task of this process.
#[derive(Debug)]
pub struct Stage {
    trigger: Trigger,
    task: JoinHandle<Result<(), String>>,
}

impl Stage {
    /// Orderly shutdown: stop pulling, finish the batch in hand, return.
    pub async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("stage stops within 30s")
            .expect("stage task joins")
            .expect("stage ran without error");
    }

    /// A crash: the task is dropped mid-work, nothing in flight is acknowledged.
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

fn spawn_stage<F, Fut, E>(run: F) -> Stage
where
    F: FnOnce(shutdown::Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (trigger, stop) = shutdown::channel();
    let fut = run(stop);
    let task = tokio::spawn(async move { fut.await.map_err(|e| e.to_string()) });
    Stage { trigger, task }
}

pub fn spawn_classifier(config: newswire_classifier::ClassifierConfig) -> Stage {
    spawn_stage(move |stop| newswire_classifier::run(config, stop.wait()))
}

pub fn spawn_sink(config: newswire_sink::SinkConfig) -> Stage {
    spawn_stage(move |stop| newswire_sink::run(config, stop.wait()))
}

pub fn spawn_producer(config: newswire_producer::ProducerConfig) -> Stage {
    spawn_stage(move |stop| newswire_producer::run(config, stop.wait()))
}

/// An HTTP client for talking to the producer's endpoint and test servers.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

/// A store URL in `dir`.
pub fn store_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("events.db").display())
}

/// Polls `check` every 50 ms until it returns `Some`, panicking with `what` after `timeout`.
pub async fn wait_for<T, Fut>(what: &str, timeout: Duration, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Number of stored events (of one article, or all), reading the store as `newswire query` does.
pub async fn stored_count(store: &str, article_id: Option<&str>) -> usize {
    let store = store.to_owned();
    let article_id = article_id.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        newswire_sink::open(&store)
            .and_then(|s| s.count(article_id.as_deref()))
            .unwrap_or(0)
    })
    .await
    .expect("count task")
}

/// Waits until the store holds `n` events of `article_id`.
pub async fn wait_stored(store: &str, article_id: &str, n: usize) {
    wait_for(
        &format!("{n} events of article {article_id} stored"),
        Duration::from_secs(30),
        || async { (stored_count(store, Some(article_id)).await == n).then_some(()) },
    )
    .await;
}

/// Publishes tagged events again with fresh message ids, as another classifier run or a
/// dead-letter replay would: past the stream's duplicate window, on to the sink.
pub async fn republish_tagged(
    js: &jetstream::Context,
    subjects: &newswire_shared::Subjects,
    events: &[newswire_shared::TaggedEvent],
) {
    for event in events {
        js.send_publish(
            subjects.tagged(&event.category, event.primary_actor_token()),
            jetstream::message::PublishMessage::build()
                .message_id(format!("{}-replayed", event.event_id))
                .payload(event.encode().into()),
        )
        .await
        .expect("publishes")
        .await
        .expect("acked");
    }
}

/// Messages in a stream.
pub async fn stream_messages(js: &jetstream::Context, stream: &str) -> u64 {
    match js.get_stream(stream).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
        Err(_) => 0,
    }
}

/// The sample article as the demo publishes it.
pub fn sample_article() -> Article {
    Article {
        meta: ArticleMeta {
            title: Some("Putin warns Seoul against arming Ukraine".into()),
            source: Some("sample".into()),
            ..ArticleMeta::default()
        },
        body: SAMPLE_ARTICLE.to_owned(),
    }
}

/// A distinct synthetic article of `sentences` news-style sentences.
pub fn synthetic_article(n: usize, sentences: usize) -> Article {
    const TEMPLATES: [&str; 6] = [
        "Russia warned Ukraine on day {n} that it would retaliate.",
        "South Korea's presidential office summoned the Russian ambassador over report {n}.",
        "North Korean troops crossed the border for the {n}th time.",
        "Japan provided humanitarian aid to Vietnam under program {n}.",
        "Officials met in Geneva for round {n} of talks.",
        "The weather on day {n} was mild.",
    ];
    let body = (0..sentences)
        .map(|i| TEMPLATES[i % TEMPLATES.len()].replace("{n}", &format!("{n}-{i}")))
        .collect::<Vec<_>>()
        .join(" ");
    Article {
        meta: ArticleMeta {
            source: Some("synthetic".into()),
            ..ArticleMeta::default()
        },
        body,
    }
}

/// A JetStream cluster of nats-servers on loopback ports.
#[derive(Debug)]
pub struct TestCluster {
    pub nodes: Vec<NatsServerProcess>,
    _dir: TempDir,
}

impl TestCluster {
    /// Starts `size` nodes routed to each other and waits until every one is ready. Ports
    /// are found free first; when one was taken before its node could bind it, the whole
    /// cluster starts again on new ports (the routes name them all).
    pub async fn start(size: usize) -> Self {
        retry_on_taken_port(|| Self::try_start(size))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn try_start(size: usize) -> Result<Self, LocalServerError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..size)
            .map(|_| {
                (
                    free_port().expect("free port"),
                    free_port().expect("free port"),
                )
            })
            .collect();
        let routes = ports
            .iter()
            .map(|(_, cluster)| format!("nats://127.0.0.1:{cluster}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::with_capacity(size);
        for (i, (client, cluster)) in ports.iter().enumerate() {
            let args = vec![
                "--server_name".to_owned(),
                format!("n{i}"),
                "--cluster_name".to_owned(),
                "newswire-test".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{cluster}"),
                "--routes".to_owned(),
                routes.clone(),
            ];
            nodes.push(NatsServerProcess::launch(
                "127.0.0.1",
                *client,
                &dir.path().join(format!("n{i}")),
                &args,
            )?);
        }
        for node in &mut nodes {
            node.wait_ready(Duration::from_secs(60)).await?;
        }
        Ok(Self { nodes, _dir: dir })
    }

    /// Every node's URL, comma-separated, as `--nats-url` takes them.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServerProcess::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// NATS arguments for this cluster: all nodes, streams replicated on three.
    pub fn args(&self) -> NatsArgs {
        let mut args = NatsArgs::new(self.url(), unique_prefix());
        args.replicas = 3;
        args
    }
}

/// Every stored event id.
pub async fn stored_ids(store: &str) -> Vec<String> {
    let store = store.to_owned();
    tokio::task::spawn_blocking(move || {
        newswire_sink::open(&store)
            .and_then(|s| s.query(&newswire_sink::Filter::default()))
            .expect("queries the store")
            .into_iter()
            .map(|e| e.event_id)
            .collect()
    })
    .await
    .expect("query task")
}

/// The event ids of articles, as the producer will make them.
pub fn expected_ids(articles: &[Article]) -> std::collections::BTreeSet<String> {
    articles
        .iter()
        .flat_map(|a| {
            newswire_producer::sentence_events(a, time::OffsetDateTime::now_utc()).expect("splits")
        })
        .map(|e| e.event_id)
        .collect()
}

/// Asserts the store holds exactly `expected`: nothing lost, nothing twice.
pub async fn assert_stored_exactly(store: &str, expected: &std::collections::BTreeSet<String>) {
    let ids = stored_ids(store).await;
    assert_eq!(
        ids.len(),
        expected.len(),
        "stored {} events for {} expected",
        ids.len(),
        expected.len()
    );
    let distinct: std::collections::BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(
        &distinct, expected,
        "the stored event ids are not the published ones"
    );
}

/// Waits until the store holds at least `n` events; on timeout, the number it holds.
pub async fn wait_all_stored(store: &str, n: usize, timeout: Duration) -> Result<(), usize> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let stored = stored_count(store, None).await;
        if stored >= n {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(stored);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the store holds as many events as `expected`, gives late redeliveries three
/// seconds to show up as duplicates, then asserts it holds exactly `expected`.
pub async fn assert_eventually_stored_exactly(
    store: &str,
    expected: &std::collections::BTreeSet<String>,
    timeout: Duration,
) {
    if let Err(stored) = wait_all_stored(store, expected.len(), timeout).await {
        panic!(
            "timed out after {timeout:?} waiting for every event stored: {stored} of {}",
            expected.len()
        );
    }
    assert_exactly_after_late_redeliveries(store, expected).await;
}

/// Once the store holds as many events as `expected`: gives late redeliveries three seconds to
/// show up as duplicates, then asserts the store holds exactly `expected`.
pub async fn assert_exactly_after_late_redeliveries(
    store: &str,
    expected: &std::collections::BTreeSet<String>,
) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_stored_exactly(store, expected).await;
}

/// The state of both stages' durable consumers, for a failure message: where events stopped.
pub async fn describe_consumers(args: &NatsArgs) -> String {
    let Ok(client) = newswire_shared::nats::connect(args, "test").await else {
        return "consumers: cannot connect".to_owned();
    };
    let js = jetstream::new(client);
    let subjects = args.subjects().expect("prefix");
    let mut out = Vec::new();
    for (stream, durable) in [
        (subjects.raw_stream(), "classifier"),
        (subjects.tagged_stream(), "sink"),
    ] {
        let line = match consumer_info(&js, &stream, durable).await {
            Some(i) => format!(
                "{stream}/{durable}: delivered {} acked {} pending {} ack pending {} \
                 redelivered {} waiting pulls {} leader {:?}",
                i.delivered.stream_sequence,
                i.ack_floor.stream_sequence,
                i.num_pending,
                i.num_ack_pending,
                i.num_redelivered,
                i.num_waiting,
                i.cluster.as_ref().and_then(|c| c.leader.clone()),
            ),
            None => format!("{stream}/{durable}: no info"),
        };
        out.push(line);
    }
    out.join("; ")
}

/// A durable consumer's info, or `None` while the stream or consumer does not exist.
pub async fn consumer_info(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
) -> Option<jetstream::consumer::Info> {
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .ok()?
        .get_consumer(durable)
        .await
        .ok()?;
    consumer.info().await.ok().cloned()
}
