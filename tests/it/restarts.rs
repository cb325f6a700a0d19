//! Acceptance 4: the sink stopped (gracefully, or killed mid-batch) while events flow loses
//! nothing and stores nothing twice.

use std::time::Duration;

use newswire_classifier::ClassifierConfig;
use newswire_producer::Publisher;
use newswire_sink::SinkConfig;
use newswire_tests::*;

async fn sink_interrupted(crash: bool) {
    let nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let sink_config = || {
        let mut config = SinkConfig::new(args.clone(), store.clone());
        // Unacked messages of a crashed sink come back quickly.
        config.consumer.ack_wait = Duration::from_secs(2);
        config
    };
    let classifier = spawn_classifier(ClassifierConfig::new(args.clone()));
    let sink = spawn_sink(sink_config());
    let publisher = Publisher::connect(&args).await.expect("publisher");

    let articles: Vec<_> = (0..120).map(|n| synthetic_article(n, 10)).collect();
    let expected = expected_ids(&articles);
    let (first_half, second_half) = articles.split_at(60);
    for article in first_half {
        publisher.publish(article).await.expect("publishes");
    }
    // Stop the sink while it is working through the first half.
    wait_for(
        "the sink to store some events",
        Duration::from_secs(30),
        || async { (stored_count(&store, None).await > 0).then_some(()) },
    )
    .await;
    if crash {
        sink.abort().await;
    } else {
        sink.stop().await;
    }
    let at_stop = stored_count(&store, None).await;
    // Events keep flowing while the sink is down.
    for article in second_half {
        publisher.publish(article).await.expect("publishes");
    }
    assert!(
        at_stop < expected.len(),
        "the sink was stopped mid-run ({at_stop} stored)"
    );

    let sink = spawn_sink(sink_config());
    assert_eventually_stored_exactly(&store, &expected, Duration::from_secs(60)).await;
    classifier.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_stopped_gracefully_mid_run_loses_and_duplicates_nothing() {
    sink_interrupted(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_killed_mid_run_loses_and_duplicates_nothing() {
    sink_interrupted(true).await;
}
