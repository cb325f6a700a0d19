//! Acceptance 3: poison goes to the dead-letter stream with its reason, once, and the stage
//! keeps processing what follows.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use newswire_classifier::ClassifierConfig;
use newswire_producer::sentence_events;
use newswire_shared::nats::dlq_headers;
use newswire_sink::SinkConfig;
use newswire_tests::*;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_raw_and_tagged_messages_are_dead_lettered_once() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let subjects = args.subjects().expect("prefix");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    // A short ack wait: a message left unsettled would be redelivered within the test.
    let mut classifier_config = ClassifierConfig::new(args.clone());
    classifier_config.ack_wait = Duration::from_secs(1);
    let classifier = spawn_classifier(classifier_config);
    let mut sink_config = SinkConfig::new(args.clone(), store.clone());
    sink_config.ack_wait = Duration::from_secs(1);
    let sink = spawn_sink(sink_config);

    let js = nats.jetstream().await;
    wait_for("streams created", Duration::from_secs(10), || {
        let js = js.clone();
        let names = [
            subjects.raw_stream(),
            subjects.tagged_stream(),
            subjects.dlq_stream(),
        ];
        async move {
            for name in names {
                js.get_stream(&name).await.ok()?;
            }
            Some(())
        }
    })
    .await;

    let poison: [(&str, &[u8]); 4] = [
        ("not JSON", b"\xff\xfe garbage"),
        ("truncated JSON", br#"{"schema":1,"event_id":"ab-0","#),
        ("wrong shape", br#"{"schema":1,"hello":"world"}"#),
        ("future schema", br#"{"schema":99,"event_id":"ab-0","article_id":"ab","sentence_index":0,"sentence_count":1,"text":"x","span":{"start":0,"end":1},"article":{},"ingested_at":"2024-06-21T00:00:00Z"}"#),
    ];
    for (_, payload) in poison {
        js.publish(subjects.raw(Some("fuzz")), payload.to_vec().into())
            .await
            .expect("publishes")
            .await
            .expect("acked");
    }
    // Poison on the tagged subjects reaches the sink.
    js.publish(
        subjects.tagged("threaten", "RUS"),
        b"[1,2,3]".to_vec().into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("acked");
    // A good article after the poison is still processed.
    let article = synthetic_article(1, 3);
    let events = sentence_events(&article, OffsetDateTime::now_utc()).expect("splits");
    for event in &events {
        js.publish(subjects.raw(Some("synthetic")), event.encode().into())
            .await
            .expect("publishes")
            .await
            .expect("acked");
    }
    wait_for(
        "good events stored after the poison",
        Duration::from_secs(30),
        || async { (stored_count(&store, None).await == events.len()).then_some(()) },
    )
    .await;
    wait_for("five dead letters", Duration::from_secs(10), || async {
        (stream_messages(&js, &subjects.dlq_stream()).await == 5).then_some(())
    })
    .await;

    // Each dead letter carries the stage, the reason and the original payload.
    let dlq = js
        .get_stream(subjects.dlq_stream())
        .await
        .expect("dlq stream");
    let mut reasons = Vec::new();
    for seq in 1..=5 {
        let message = dlq.get_raw_message(seq).await.expect("dead letter");
        let headers: HeaderMap = message.headers;
        let stage = headers
            .get(dlq_headers::STAGE)
            .expect("stage header")
            .to_string();
        let error = headers
            .get(dlq_headers::ERROR)
            .expect("error header")
            .to_string();
        assert!(!error.is_empty());
        assert!(headers.get(dlq_headers::SUBJECT).is_some());
        reasons.push((stage, error, message.payload.to_vec()));
    }
    let classifier_letters: Vec<_> = reasons.iter().filter(|r| r.0 == "classifier").collect();
    assert_eq!(classifier_letters.len(), 4);
    for (_, payload) in poison {
        assert!(
            classifier_letters.iter().any(|r| r.2 == payload),
            "payload kept"
        );
    }
    assert!(
        classifier_letters
            .iter()
            .any(|r| r.1.contains("unsupported schema version 99"))
    );
    assert!(
        classifier_letters
            .iter()
            .any(|r| r.1.contains("missing field"))
    );
    assert!(reasons.iter().any(|r| r.0 == "sink" && r.2 == b"[1,2,3]"));

    // Terminated, not redelivered: after several ack waits nothing more arrives and both
    // consumers hold nothing unacknowledged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stream_messages(&js, &subjects.dlq_stream()).await, 5);
    for (stream, durable) in [
        (subjects.raw_stream(), "classifier"),
        (subjects.tagged_stream(), "sink"),
    ] {
        let mut consumer: PullConsumer = js
            .get_stream(&stream)
            .await
            .expect("stream")
            .get_consumer(durable)
            .await
            .expect("consumer");
        let info = consumer.info().await.expect("info");
        assert_eq!(
            (info.num_pending, info.num_ack_pending),
            (0, 0),
            "{durable}"
        );
    }
    // A live subscriber of dead letters sees nothing new either.
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let mut live = client
        .subscribe(subjects.dlq_all())
        .await
        .expect("subscribes");
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), live.next())
            .await
            .is_err()
    );

    assert!(
        !classifier.is_finished() && !sink.is_finished(),
        "stages keep running"
    );
    classifier.stop().await;
    sink.stop().await;
}
