//! Acceptance 3: poison goes to the dead-letter stream with its reason, once, and the stage
//! keeps processing what follows.

use std::time::Duration;

use async_nats::HeaderMap;
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
    classifier_config.consumer.ack_wait = Duration::from_secs(1);
    let classifier = spawn_classifier(classifier_config);
    let mut sink_config = SinkConfig::new(args.clone(), store.clone());
    sink_config.consumer.ack_wait = Duration::from_secs(1);
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
    // Random bytes, on every subject the stages consume.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut random_raw = 0;
    let mut random_tagged = 0;
    for i in 0..30 {
        let len = 1 + (rng.next() % 3000) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let subject = if i % 3 == 0 {
            random_tagged += 1;
            subjects.tagged("fuzz", "XXX")
        } else {
            random_raw += 1;
            subjects.raw(Some("fuzz"))
        };
        js.publish(subject, bytes.into())
            .await
            .expect("publishes")
            .await
            .expect("acked");
    }
    // Valid events over the limits: a 100 KB sentence, and a payload close to the server's max
    // payload (its dead letter must be truncated to fit).
    let mut long = sentence_events(&synthetic_article(99, 1), OffsetDateTime::now_utc())
        .expect("splits")[0]
        .clone();
    long.text = "Russia warned Ukraine again. ".repeat(3500);
    long.span = newswire_shared::Span::new(0, long.text.len());
    js.publish(subjects.raw(Some("fuzz")), long.encode().into())
        .await
        .expect("publishes")
        .await
        .expect("acked");
    let max_payload = nats.jetstream().await.client().server_info().max_payload;
    let huge = vec![b'{'; max_payload - 1024];
    js.publish(subjects.raw(Some("fuzz")), huge.into())
        .await
        .expect("publishes")
        .await
        .expect("acked");
    // Poison on the tagged subjects reaches the sink.
    js.publish(
        subjects.tagged("threaten", "RUS"),
        b"[1,2,3]".to_vec().into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("acked");
    // A tagged event whose id is not its article's: the SQLite store could not find it by
    // its article.
    let mut misfiled = serde_json::to_value(&long).expect("serialises");
    misfiled["event_id"] = serde_json::json!("0123456789abcdef-0");
    misfiled["text"] = serde_json::json!("x");
    misfiled["span"] = serde_json::json!({"start": 0, "end": 1});
    misfiled["category"] = serde_json::json!("none");
    misfiled["actors"] = serde_json::json!([]);
    misfiled["events"] = serde_json::json!([]);
    misfiled["classifier_version"] = serde_json::json!("test");
    misfiled["classified_at"] = serde_json::json!("2024-06-21T00:00:00Z");
    js.publish(
        subjects.tagged("none", "XXX"),
        serde_json::to_vec(&misfiled).expect("serialises").into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("acked");
    let classifier_poison = 4 + random_raw + 2;
    let sink_poison = 2 + random_tagged;
    let total_poison = (classifier_poison + sink_poison) as u64;
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
    wait_for(
        "every poison message dead-lettered",
        Duration::from_secs(20),
        || async {
            (stream_messages(&js, &subjects.dlq_stream()).await == total_poison).then_some(())
        },
    )
    .await;

    // Each dead letter carries the stage, the reason and the original payload.
    let dlq = js
        .get_stream(subjects.dlq_stream())
        .await
        .expect("dlq stream");
    let mut reasons = Vec::new();
    let mut truncated = 0;
    for seq in 1..=total_poison {
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
        if headers.get(dlq_headers::TRUNCATED).is_some() {
            truncated += 1;
        }
        reasons.push((stage, error, message.payload.to_vec()));
    }
    let classifier_letters: Vec<_> = reasons.iter().filter(|r| r.0 == "classifier").collect();
    assert_eq!(classifier_letters.len(), classifier_poison);
    assert_eq!(
        truncated, 1,
        "only the near-max-payload message is truncated"
    );
    assert!(
        classifier_letters
            .iter()
            .any(|r| r.1.contains("exceeds the limit of 4096 bytes"))
    );
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
    assert!(
        reasons
            .iter()
            .any(|r| r.0 == "sink" && r.1.contains("does not match article_id")),
        "the misfiled tagged event is dead-lettered with its reason"
    );
    assert_eq!(
        reasons.iter().filter(|r| r.0 == "sink").count(),
        sink_poison
    );

    // Terminated, not redelivered: after several ack waits nothing more arrives and both
    // consumers hold nothing unacknowledged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stream_messages(&js, &subjects.dlq_stream()).await,
        total_poison
    );
    for (stream, durable) in [
        (subjects.raw_stream(), "classifier"),
        (subjects.tagged_stream(), "sink"),
    ] {
        let info = consumer_info(&js, &stream, durable)
            .await
            .expect("consumer info");
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

/// A small deterministic generator for fuzz payloads (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A private server whose raw stream holds one message, a durable consumer `settings` on it,
/// and a settler for stage `test` giving up after `settings.max_deliver` deliveries.
struct OneMessage {
    _nats: TestNats,
    args: newswire_shared::nats::NatsArgs,
    subjects: newswire_shared::Subjects,
    js: async_nats::jetstream::Context,
    consumer: async_nats::jetstream::consumer::PullConsumer,
    settler: newswire_shared::nats::Settler,
}

impl OneMessage {
    async fn start(durable: &str, max_deliver: i64, payload: &'static [u8]) -> Self {
        use newswire_shared::nats::{ConsumerSettings, Settler, StreamKind, setup_consumer};
        let nats = TestNats::start().await;
        let args = nats.args();
        let subjects = args.subjects().expect("prefix");
        let js = nats.jetstream().await;
        let mut settings = ConsumerSettings::new(durable, subjects.raw_all());
        settings.max_deliver = max_deliver;
        let consumer = setup_consumer(
            &js,
            &subjects,
            &[StreamKind::Raw, StreamKind::DeadLetter],
            &args.stream_settings(),
            &subjects.raw_stream(),
            &settings,
            "test",
        )
        .await
        .expect("consumer");
        js.publish(subjects.raw(Some("fuzz")), payload.into())
            .await
            .expect("publishes")
            .await
            .expect("acked");
        let settler = Settler::new(js.clone(), &subjects, "test", max_deliver);
        Self {
            _nats: nats,
            args,
            subjects,
            js,
            consumer,
            settler,
        }
    }

    /// The next delivery of the message, waiting up to 15 s for it.
    async fn next(&self) -> Option<async_nats::jetstream::Message> {
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(15))
            .messages()
            .await
            .expect("fetch");
        messages.next().await.map(|m| m.expect("delivered"))
    }

    async fn dead_letters(&self) -> u64 {
        let mut dlq = self
            .js
            .get_stream(self.subjects.dlq_stream())
            .await
            .expect("dead-letter stream");
        dlq.info().await.expect("info").state.messages
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_dead_lettered_again_is_kept_once() {
    // A poison message redelivered before its term reached the server (or whose term was
    // lost) is dead-lettered a second time: the dead-letter stream keeps one copy.
    use newswire_shared::nats::Decision;
    let fixture = OneMessage::start("twice", 10, b"poison").await;
    let message = fixture.next().await.expect("a message");
    for _ in 0..2 {
        let decision = Decision::DeadLetter {
            reason: "poison".into(),
        };
        fixture.settler.settle(&message, decision, None).await;
    }
    assert_eq!(fixture.dead_letters().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_not_written_at_the_last_delivery_is_written_at_the_next() {
    // The stage gives up on a message at its `max_deliver`-th delivery, but the dead-letter
    // stream is away: the message is nak'ed. The server delivers it again (it allows a few
    // deliveries beyond the stage's limit for this), and the dead letter is written then.
    use newswire_shared::nats::{Decision, StreamKind, setup_streams};
    let fixture = OneMessage::start("last", 1, b"unlucky").await;
    let retry = || Decision::Retry {
        delay: Duration::from_secs(1),
        reason: "store unavailable".into(),
    };
    fixture
        .js
        .delete_stream(fixture.subjects.dlq_stream())
        .await
        .expect("dead-letter stream deleted");
    let first = fixture.next().await.expect("first delivery");
    fixture.settler.settle(&first, retry(), None).await;

    setup_streams(
        &fixture.js,
        &fixture.subjects,
        &[StreamKind::DeadLetter],
        &fixture.args.stream_settings(),
        "test",
    )
    .await
    .expect("dead-letter stream back");
    let again = fixture
        .next()
        .await
        .expect("delivered again after its last allowed delivery failed to dead-letter");
    assert_eq!(again.info().expect("info").delivered, 2);
    fixture.settler.settle(&again, retry(), None).await;
    assert_eq!(fixture.dead_letters().await, 1);
}
