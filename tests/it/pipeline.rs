//! Acceptance 1 and 2: the sample article end to end, stored once, tagged right.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use newswire_classifier::ClassifierConfig;
use newswire_producer::{Publisher, sentence_events};
use newswire_shared::TaggedEvent;
use newswire_sink::{Filter, SinkConfig};
use newswire_tests::*;
use time::OffsetDateTime;

async fn stored_events(store: &str, article_id: &str) -> Vec<TaggedEvent> {
    let store = store.to_owned();
    let filter = Filter {
        article_id: Some(article_id.to_owned()),
        ..Filter::default()
    };
    tokio::task::spawn_blocking(move || newswire_sink::open(&store).and_then(|s| s.query(&filter)))
        .await
        .expect("query task")
        .expect("query")
}

/// Waits until a durable consumer has nothing pending and nothing unacknowledged.
async fn wait_for_drained(js: &async_nats::jetstream::Context, stream: &str, durable: &str) {
    wait_for(
        &format!("{durable} to drain {stream}"),
        Duration::from_secs(30),
        || async {
            let info = consumer_info(js, stream, durable).await?;
            (info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence == info.ack_floor.stream_sequence)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_article_is_stored_once_and_tagged() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let subjects = args.subjects().expect("prefix");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);

    // Someone watching the live tagged stream for threats.
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let mut threats = client
        .subscribe(subjects.tagged_filter(Some("threaten"), None))
        .await
        .expect("subscribes");

    let classifier = spawn_classifier(ClassifierConfig::new(args.clone()));
    let sink = spawn_sink(SinkConfig::new(args.clone(), store.clone()));
    let publisher = Publisher::connect(&args).await.expect("publisher");
    let article = sample_article();
    let expected = sentence_events(&article, OffsetDateTime::now_utc()).expect("splits");
    let n = expected.len();
    assert_eq!(n, 19, "the sample article has 19 sentences");

    let first = publisher.publish(&article).await.expect("publishes");
    assert_eq!((first.published, first.duplicates), (n, 0));
    let article_id = first.article_id.clone();
    wait_stored(&store, &article_id, n).await;

    // Every sentence exactly once, with the producer's text and offsets.
    let stored = stored_events(&store, &article_id).await;
    let indexes: BTreeSet<u32> = stored.iter().map(|e| e.sentence_index).collect();
    assert_eq!(indexes, (0..n as u32).collect());
    for (event, raw) in stored.iter().zip(&expected) {
        assert_eq!(event.event_id, raw.event_id);
        assert_eq!(event.text, raw.text);
        assert_eq!(&article.body[event.span.start..event.span.end], event.text);
    }

    // The live stream carried the threats on their subjects.
    let threat = tokio::time::timeout(Duration::from_secs(5), threats.next())
        .await
        .expect("a threat on the live stream")
        .expect("subscription open");
    assert!(
        threat
            .subject
            .as_str()
            .starts_with(&format!("{}.tagged.threaten.", subjects.prefix()))
    );

    // Publishing the same article again: dropped by the stream's duplicate window.
    let again = publisher.publish(&article).await.expect("publishes again");
    assert_eq!((again.published, again.duplicates), (0, n));

    // Publishing it again after the window (simulated with fresh message ids): the classifier
    // codes every event again, and its republished tagged events are dropped by the tagged
    // stream's own duplicate window.
    let js = nats.jetstream().await;
    let tagged_before = stream_messages(&js, &subjects.tagged_stream()).await;
    for event in &expected {
        js.send_publish(
            subjects.raw(Some("sample")),
            PublishMessage::build()
                .message_id(format!("{}-later", event.event_id))
                .payload(event.encode().into()),
        )
        .await
        .expect("publishes")
        .await
        .expect("acked");
    }
    wait_for_drained(&js, &subjects.raw_stream(), "classifier").await;
    assert_eq!(
        stream_messages(&js, &subjects.tagged_stream()).await,
        tagged_before
    );

    // Tagged duplicates that reach the sink (another classifier version, a replay) store nothing new.
    republish_tagged(&js, &subjects, &stored).await;
    assert_eq!(
        stream_messages(&js, &subjects.tagged_stream()).await,
        tagged_before + n as u64
    );
    wait_for_drained(&js, &subjects.tagged_stream(), "sink").await;
    assert_eq!(stored_count(&store, None).await, n, "nothing new stored");

    classifier.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_sample_carries_the_expected_actors_and_categories() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let classifier = spawn_classifier(ClassifierConfig::new(args.clone()));
    let sink = spawn_sink(SinkConfig::new(args.clone(), store.clone()));
    let published = Publisher::connect(&args)
        .await
        .expect("publisher")
        .publish(&sample_article())
        .await
        .expect("publishes");
    let stored = wait_for("every sentence stored", Duration::from_secs(30), || async {
        let events = stored_events(&store, &published.article_id).await;
        (events.len() == 19).then_some(events)
    })
    .await;
    classifier.stop().await;
    sink.stop().await;

    let sentence = |start: &str| -> &TaggedEvent {
        stored
            .iter()
            .find(|e| e.text.starts_with(start))
            .unwrap_or_else(|| panic!("no stored sentence starts with {start:?}"))
    };
    let countries = |e: &TaggedEvent| -> Vec<String> {
        e.actors
            .iter()
            .filter_map(|a| a.country.as_ref().map(ToString::to_string))
            .collect()
    };
    let codes =
        |e: &TaggedEvent| -> Vec<String> { e.actors.iter().map(|a| a.code.to_string()).collect() };
    let roots =
        |e: &TaggedEvent| -> Vec<String> { e.events.iter().map(|c| c.root.to_string()).collect() };
    let has_all =
        |have: Vec<String>, want: &[&str]| want.iter().all(|w| have.iter().any(|h| h == w));
    let has_any =
        |have: Vec<String>, want: &[&str]| want.iter().any(|w| have.iter().any(|h| h == w));

    let warning = sentence("Vladimir Putin, the president of Russia");
    assert!(
        has_all(countries(warning), &["RUS", "KOR"]),
        "{:?}",
        countries(warning)
    );
    assert!(has_any(roots(warning), &["13"]));
    assert_eq!(warning.category, "threaten");

    let pact = sentence("Shortly after his state visit");
    assert!(has_all(countries(pact), &["RUS", "PRK"]));
    assert!(has_any(roots(pact), &["05", "06"]), "{:?}", roots(pact));

    let summons = sentence("Additionally, South Korea is expected");
    assert!(has_all(countries(summons), &["KOR", "RUS"]));
    assert!(
        has_any(roots(summons), &["11", "14"]),
        "{:?}",
        roots(summons)
    );
    assert_eq!(
        summons.reporter.as_ref().map(|r| r.code.as_str()),
        Some("KORMED")
    );

    let aid = sentence("To date, South Korea has provided");
    assert!(has_all(countries(aid), &["KOR", "UKR"]));
    assert!(has_any(roots(aid), &["07"]));
    assert_eq!(aid.category, "provide_aid");

    let kirby = sentence("The US national security council spokesman");
    assert!(has_any(codes(kirby), &["USAGOV"]), "{:?}", codes(kirby));

    let hayashi = sentence("Japan also expressed its concerns");
    assert!(has_any(codes(hayashi), &["JPNGOV"]));
    assert!(hayashi.events.iter().any(|e| e.code == "111"));

    let border = sentence("In a separate incident on Thursday");
    assert!(
        has_all(codes(border), &["PRKMIL", "KORMIL"]),
        "{:?}",
        codes(border)
    );
    assert!(has_any(roots(border), &["15", "18", "19"]));

    // Every event is fully described.
    for e in stored.iter().flat_map(|s| &s.events) {
        assert!((1..=4).contains(&e.quad_class) && (-10.0..=10.0).contains(&e.goldstein));
        assert!((0.0..=1.0).contains(&e.confidence));
        assert_eq!(e.code[..2], e.root);
    }
}
