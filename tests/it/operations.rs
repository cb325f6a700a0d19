//! What operators see of running stages: Prometheus metrics, health and readiness, and the
//! NATS service protocol.

use std::net::SocketAddr;
use std::time::Duration;

use newswire_classifier::ClassifierConfig;
use newswire_producer::Publisher;
use newswire_shared::local_server::free_port;
use newswire_sink::SinkConfig;
use newswire_tests::*;

fn local_addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port().expect("port"))
        .parse()
        .expect("address")
}

async fn get(http: &reqwest::Client, url: String) -> (u16, String) {
    let response = http.get(url).send().await.expect("answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_expose_metrics_health_readiness_and_a_nats_service() {
    let mut nats = TestNats::start().await;
    let args = nats.args();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_url(&dir);
    let (classifier_ops, sink_ops) = (local_addr(), local_addr());
    let mut classifier_config = ClassifierConfig::new(args.clone());
    classifier_config.metrics_listen = Some(classifier_ops);
    let mut sink_config = SinkConfig::new(args.clone(), store.clone());
    sink_config.metrics_listen = Some(sink_ops);
    let classifier = spawn_classifier(classifier_config);
    let sink = spawn_sink(sink_config);
    let http = http_client();

    let publisher = Publisher::connect(&args).await.expect("publisher");
    let receipt = publisher
        .publish(&sample_article())
        .await
        .expect("publishes");
    wait_stored(&store, &receipt.article_id, 19).await;

    for ops in [classifier_ops, sink_ops] {
        assert_eq!(
            get(&http, format!("http://{ops}/healthz")).await,
            (200, "ok\n".into())
        );
        assert_eq!(
            get(&http, format!("http://{ops}/readyz")).await,
            (200, "ready\n".into())
        );
    }
    let (status, metrics) = get(&http, format!("http://{classifier_ops}/metrics")).await;
    assert_eq!(status, 200);
    for expected in [
        "newswire_messages_total{stage=\"classifier\",outcome=\"ack\"}",
        "newswire_events_published_total{stage=\"classifier\",category=\"threaten\"}",
        "newswire_consumer_pending{stage=\"classifier\"}",
        "newswire_consumer_ack_pending{stage=\"classifier\"}",
        "newswire_processing_seconds_bucket{stage=\"classifier\"",
        "newswire_batch_size_bucket{stage=\"classifier\"",
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }
    let (_, metrics) = get(&http, format!("http://{sink_ops}/metrics")).await;
    for expected in [
        "newswire_events_stored_total",
        "newswire_events_in_store_total{category=\"threaten\"}",
        "newswire_end_to_end_seconds_bucket",
        "newswire_store_batch_size_bucket",
        "newswire_messages_total{stage=\"sink\",outcome=\"ack\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }

    // The NATS service protocol: `nats micro ping` and the stage's status endpoint.
    let client = async_nats::connect(nats.url()).await.expect("connects");
    let ping = client
        .request("$SRV.PING.newswire-classifier", "".into())
        .await
        .expect("the classifier answers pings");
    let ping: serde_json::Value = serde_json::from_slice(&ping.payload).expect("JSON");
    assert_eq!(ping["name"], "newswire-classifier");
    let status = client
        .request(format!("{}.status.sink", args.prefix), "".into())
        .await
        .expect("the sink answers on its status endpoint");
    let status: serde_json::Value = serde_json::from_slice(&status.payload).expect("JSON");
    assert_eq!(status["stage"], "sink");
    assert_eq!(status["consumer"], "sink");
    assert_eq!(status["pending"], 0);
    drop(client);

    // The article's trace runs through the headers: the same trace id (the article id) on the
    // raw and the tagged event, each hop with its own span.
    let js = nats.jetstream().await;
    let subjects = args.subjects().expect("prefix");
    let mut contexts = Vec::new();
    for stream in [subjects.raw_stream(), subjects.tagged_stream()] {
        let stream = js.get_stream(&stream).await.expect("stream");
        let message = stream.get_raw_message(1).await.expect("first message");
        let value = message
            .headers
            .get(newswire_shared::trace::HEADER)
            .expect("a traceparent header")
            .to_string();
        contexts.push(newswire_shared::trace::TraceParent::parse(&value).expect("valid context"));
    }
    assert_eq!(contexts[0].trace_id, receipt.article_id);
    assert_eq!(contexts[1].trace_id, receipt.article_id);
    assert_ne!(contexts[0].span_id, contexts[1].span_id);
    // No stage here exports spans: the contexts say so, and the broker need not look further.
    assert!(!contexts[0].sampled && !contexts[1].sampled);

    // Without NATS the stages are alive but not ready.
    nats.server.kill().await;
    for ops in [classifier_ops, sink_ops] {
        wait_for(
            "readiness to fail without NATS",
            Duration::from_secs(20),
            || {
                let http = http.clone();
                async move {
                    let (status, body) = get(&http, format!("http://{ops}/readyz")).await;
                    (status == 503 && body.contains("not ready")).then_some(())
                }
            },
        )
        .await;
        assert_eq!(get(&http, format!("http://{ops}/healthz")).await.0, 200);
    }
    classifier.abort().await;
    sink.abort().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_consumer_settings_reach_the_server_at_the_next_start() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let subjects = args.subjects().expect("prefix");
    let js = nats.jetstream().await;
    let mut config = ClassifierConfig::new(args.clone());
    let classifier = spawn_classifier(config.clone());
    wait_for(
        "the classifier's consumer",
        Duration::from_secs(20),
        || async { consumer_info(&js, &subjects.raw_stream(), "classifier").await },
    )
    .await;
    classifier.stop().await;

    config.consumer.ack_wait = Duration::from_secs(7);
    config.consumer.max_deliver = 4;
    config.consumer.max_ack_pending = 2048;
    let classifier = spawn_classifier(config);
    wait_for(
        "the new settings on the server",
        Duration::from_secs(20),
        || async {
            let info = consumer_info(&js, &subjects.raw_stream(), "classifier").await?;
            (info.config.ack_wait == Duration::from_secs(7)
                && info.config.max_deliver == 4 + newswire_shared::nats::DEAD_LETTER_DELIVERIES
                && info.config.max_ack_pending == 2048)
                .then_some(())
        },
    )
    .await;
    classifier.stop().await;
}
