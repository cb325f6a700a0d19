//! Delivery under faults: the broker restarted, a cluster node lost, replicas sharing
//! consumers, the store locked. Every test ends with the store holding exactly the
//! published events.

use std::time::Duration;

use async_nats::jetstream;
use newswire_classifier::ClassifierConfig;
use newswire_producer::Publisher;
use newswire_shared::nats::NatsArgs;
use newswire_sink::SinkConfig;
use newswire_tests::*;

fn sink_config(args: &NatsArgs, store: &str) -> SinkConfig {
    let mut config = SinkConfig::new(args.clone(), store);
    config.consumer.ack_wait = Duration::from_secs(2);
    config
}

fn classifier_config(args: &NatsArgs) -> ClassifierConfig {
    let mut config = ClassifierConfig::new(args.clone());
    config.consumer.ack_wait = Duration::from_secs(2);
    config
}

/// Publishes `articles` from a background task, as a separate producer would.
fn publish_in_background(
    args: NatsArgs,
    articles: Vec<newswire_producer::Article>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let publisher = Publisher::connect(&args).await.expect("publisher connects");
        for article in &articles {
            publisher
                .publish(article)
                .await
                .expect("article published (with retries)");
        }
    })
}

/// Stages running and 3,000 events being published, some already stored: the moment to
/// inject a fault.
struct Flow {
    args: NatsArgs,
    classifier: Stage,
    sink: Stage,
    store: String,
    expected: std::collections::BTreeSet<String>,
    publishing: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start_flow(args: &NatsArgs) -> Flow {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let classifier = spawn_classifier(classifier_config(args));
    let sink = spawn_sink(sink_config(args, &store));
    let articles: Vec<_> = (0..300).map(|n| synthetic_article(n, 10)).collect();
    let expected = expected_ids(&articles);
    let publishing = publish_in_background(args.clone(), articles);
    wait_for("some events stored", Duration::from_secs(60), || async {
        (stored_count(&store, None).await > 200).then_some(())
    })
    .await;
    Flow {
        args: args.clone(),
        classifier,
        sink,
        store,
        expected,
        publishing,
        _dir: dir,
    }
}

impl Flow {
    /// Lets the producer finish, checks the store holds exactly what was published, stops.
    async fn finish(self, timeout: Duration) {
        self.publishing.await.expect("producer finished");
        if let Err(stored) = wait_all_stored(&self.store, self.expected.len(), timeout).await {
            panic!(
                "timed out after {timeout:?}: {stored} of {} events stored; {}",
                self.expected.len(),
                describe_consumers(&self.args).await
            );
        }
        assert_exactly_after_late_redeliveries(&self.store, &self.expected).await;
        self.classifier.stop().await;
        self.sink.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarted_mid_run_loses_and_duplicates_nothing() {
    let mut nats = TestNats::start().await;
    let flow = start_flow(&nats.args()).await;
    // Stop the server (its file store kept) and bring it back on the same port and store.
    nats.server.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    nats.server.start_again().await.expect("server restarts");
    flow.finish(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_each_stage_share_the_work_without_duplicates() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let stages = vec![
        spawn_classifier(classifier_config(&args)),
        spawn_classifier(classifier_config(&args)),
        spawn_sink(sink_config(&args, &store)),
        spawn_sink(sink_config(&args, &store)),
    ];
    let articles: Vec<_> = (0..300).map(|n| synthetic_article(n, 10)).collect();
    let expected = expected_ids(&articles);
    publish_in_background(args.clone(), articles)
        .await
        .expect("published");
    assert_eventually_stored_exactly(&store, &expected, Duration::from_secs(120)).await;
    // Both replicas of the durable consumer were bound to it.
    let js = nats.jetstream().await;
    let subjects = args.subjects().expect("prefix");
    let info = consumer_info(&js, &subjects.raw_stream(), "classifier")
        .await
        .expect("consumer info");
    assert_eq!(info.delivered.stream_sequence, expected.len() as u64);
    for stage in stages {
        stage.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_delays_but_loses_nothing_and_bounds_what_is_in_flight() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let classifier = spawn_classifier(classifier_config(&args));
    let sink = spawn_sink(sink_config(&args, &store));
    let first: Vec<_> = (0..20).map(|n| synthetic_article(n, 10)).collect();
    publish_in_background(args.clone(), first.clone())
        .await
        .expect("published");
    wait_for(
        "the first articles stored",
        Duration::from_secs(60),
        || async { (stored_count(&store, None).await == 200).then_some(()) },
    )
    .await;

    // Another process takes an exclusive lock on the database for eight seconds: the sink's
    // writes fail as busy (transient) and are retried, never dead-lettered.
    let path = dir.path().join("events.db");
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch("BEGIN EXCLUSIVE").expect("locks");
        std::thread::sleep(Duration::from_secs(8));
        conn.execute_batch("COMMIT").expect("unlocks");
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second: Vec<_> = (20..200).map(|n| synthetic_article(n, 10)).collect();
    publish_in_background(args.clone(), second.clone())
        .await
        .expect("published");

    // While the store is stuck, the sink holds at most its max ack pending.
    let js = nats.jetstream().await;
    let subjects = args.subjects().expect("prefix");
    let info = consumer_info(&js, &subjects.tagged_stream(), "sink")
        .await
        .expect("consumer info");
    assert!(
        info.num_ack_pending <= 1024,
        "in flight: {}",
        info.num_ack_pending
    );
    locker.join().expect("locker thread");

    let expected = expected_ids(&[first, second].concat());
    assert_eventually_stored_exactly(&store, &expected, Duration::from_secs(120)).await;
    assert_eq!(
        stream_messages(&js, &subjects.dlq_stream()).await,
        0,
        "nothing dead-lettered"
    );
    classifier.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_cluster_survives_losing_a_node() {
    let mut cluster = TestCluster::start(3).await;
    let args = cluster.args();
    let flow = start_flow(&args).await;
    // Lose the node leading the classifier's consumer for good, as a crash would: its
    // replicas elect a new leader while events are in flight.
    let js = jetstream::new(
        newswire_shared::nats::connect(&args, "test")
            .await
            .expect("connects"),
    );
    let subjects = args.subjects().expect("prefix");
    let leader = consumer_info(&js, &subjects.raw_stream(), "classifier")
        .await
        .and_then(|i| i.cluster.and_then(|c| c.leader))
        .expect("the consumer has a leader");
    let node: usize = leader
        .trim_start_matches('n')
        .parse()
        .expect("nodes are named n0, n1, ...");
    cluster.nodes[node].kill().await;
    flow.finish(Duration::from_secs(180)).await;
}
