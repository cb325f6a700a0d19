//! The sink service storing into a real PostgreSQL server (`NEWSWIRE_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`, a role that may create databases): the sample
//! article end to end, every event once, replays storing nothing new, and the same answers to
//! queries as the SQLite store.

use std::time::Duration;

use newswire_classifier::ClassifierConfig;
use newswire_producer::Publisher;
use newswire_shared::TaggedEvent;
use newswire_sink::postgres::ScratchDatabase;
use newswire_sink::{Filter, SinkConfig};
use newswire_tests::*;

fn scratch_database() -> ScratchDatabase {
    let admin = std::env::var("NEWSWIRE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    ScratchDatabase::create(&admin).unwrap_or_else(|e| {
        panic!("cannot create a scratch database (set NEWSWIRE_TEST_POSTGRES): {e}")
    })
}

/// Events matching `filter`, through the `Store` trait as `newswire query` reads them.
async fn query(store: &str, filter: Filter) -> Vec<TaggedEvent> {
    let store = store.to_owned();
    tokio::task::spawn_blocking(move || newswire_sink::open(&store)?.query(&filter))
        .await
        .expect("query task")
        .expect("queries")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_article_is_stored_once_in_postgres() {
    let db = scratch_database();
    let store = db.url().to_owned();
    let nats = TestNats::start().await;
    let args = nats.args();
    let subjects = args.subjects().expect("prefix");
    let classifier = spawn_classifier(ClassifierConfig::new(args.clone()));
    let sink = spawn_sink(SinkConfig::new(args.clone(), store.clone()));

    let article = sample_article();
    let expected = expected_ids(std::slice::from_ref(&article));
    assert_eq!(expected.len(), 19, "the sample article has 19 sentences");
    let published = Publisher::connect(&args)
        .await
        .expect("publisher")
        .publish(&article)
        .await
        .expect("publishes");
    assert_eq!(published.published, 19);
    wait_stored(&store, &published.article_id, 19).await;
    assert_stored_exactly(&store, &expected).await;
    let stored = query(&store, Filter::default()).await;
    let indexes: Vec<u32> = stored.iter().map(|e| e.sentence_index).collect();
    assert_eq!(indexes, (0..19).collect::<Vec<_>>(), "in sentence order");
    assert!(
        stored
            .iter()
            .all(|e| article.body[e.span.start..e.span.end] == e.text)
    );

    // Tagged events replayed with fresh message ids (another classifier run, a DLQ replay) pass
    // the stream's duplicate window, reach the sink, and store nothing new.
    let js = nats.jetstream().await;
    republish_tagged(&js, &subjects, &stored).await;
    let tagged = subjects.tagged_stream();
    wait_for(
        "the sink to take the replays",
        Duration::from_secs(30),
        || async {
            let info = consumer_info(&js, &tagged, "sink").await?;
            (info.delivered.stream_sequence >= 2 * 19
                && info.num_pending == 0
                && info.num_ack_pending == 0)
                .then_some(())
        },
    )
    .await;
    assert_stored_exactly(&store, &expected).await;

    classifier.stop().await;
    sink.stop().await;

    // The same events in SQLite answer every kind of filter the same way.
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = store_url(&dir);
    {
        let (sqlite, stored) = (sqlite.clone(), stored.clone());
        tokio::task::spawn_blocking(move || newswire_sink::open(&sqlite)?.store(&stored))
            .await
            .expect("store task")
            .expect("stores in SQLite");
    }
    let filters = [
        Filter {
            category: Some("threaten".into()),
            ..Filter::default()
        },
        Filter {
            category: Some("13".into()),
            ..Filter::default()
        },
        Filter {
            category: Some("none".into()),
            ..Filter::default()
        },
        Filter {
            country: Some("RUS".into()),
            ..Filter::default()
        },
        Filter {
            actor: Some("kor".into()),
            limit: Some(3),
            ..Filter::default()
        },
        Filter {
            article_id: Some(published.article_id.clone()),
            ..Filter::default()
        },
    ];
    for filter in filters {
        let from_postgres = query(&store, filter.clone()).await;
        assert_eq!(
            from_postgres,
            query(&sqlite, filter.clone()).await,
            "{filter:?}"
        );
        if filter.category.as_deref() == Some("threaten") || filter.country.is_some() {
            assert!(!from_postgres.is_empty(), "{filter:?} finds events");
        }
    }
}
