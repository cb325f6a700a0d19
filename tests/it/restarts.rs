//! Acceptance 4: the sink stopped (gracefully, or killed mid-batch) while events flow loses
//! nothing and stores nothing twice.

use std::time::Duration;

use newswire_classifier::ClassifierConfig;
use newswire_producer::{Publisher, sentence_events};
use newswire_sink::SinkConfig;
use newswire_tests::*;
use time::OffsetDateTime;

async fn sink_interrupted(crash: bool) {
    let nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let sink_config = || {
        let mut config = SinkConfig::new(args.clone(), store.clone());
        // Unacked messages of a crashed sink come back quickly.
        config.ack_wait = Duration::from_secs(2);
        config
    };
    let classifier = spawn_classifier(ClassifierConfig::new(args.clone()));
    let sink = spawn_sink(sink_config());
    let publisher = Publisher::connect(&args).await.expect("publisher");

    let articles: Vec<_> = (0..120).map(|n| synthetic_article(n, 10)).collect();
    let mut expected = std::collections::BTreeSet::new();
    for article in &articles {
        for event in sentence_events(article, OffsetDateTime::now_utc()).expect("splits") {
            expected.insert(event.event_id);
        }
    }
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
    wait_for("every event stored", Duration::from_secs(60), || async {
        (stored_count(&store, None).await >= expected.len()).then_some(())
    })
    .await;
    // Give redeliveries a chance to show up as duplicates, then compare exactly.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let store_path = store.clone();
    let stored: Vec<String> = tokio::task::spawn_blocking(move || {
        newswire_sink::open(&store_path)
            .and_then(|s| s.query(&newswire_sink::Filter::default()))
            .expect("queries")
            .into_iter()
            .map(|e| e.event_id)
            .collect()
    })
    .await
    .expect("query task");
    assert_eq!(stored.len(), expected.len(), "nothing duplicated");
    assert_eq!(
        stored
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        expected,
        "nothing lost"
    );
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
