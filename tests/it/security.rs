//! The NATS users of deploy/nats/accounts.conf: each stage runs the pipeline with its own
//! least-privilege user, and a stage cannot publish where it must not.

use std::time::Duration;

use newswire_classifier::ClassifierConfig;
use newswire_producer::Publisher;
use newswire_shared::local_server::{NatsServerProcess, free_port, retry_on_taken_port};
use newswire_shared::nats::NatsArgs;
use newswire_sink::SinkConfig;
use newswire_tests::*;

const ACCOUNTS: &str = include_str!("../../deploy/nats/accounts.conf");

/// A server with the deployment's accounts, the default prefix (the accounts are written for
/// it), and its own port and store.
async fn server_with_accounts(dir: &std::path::Path) -> NatsServerProcess {
    newswire_shared::telemetry::init_for_tests();
    std::fs::write(dir.join("accounts.conf"), ACCOUNTS).expect("writes");
    let config = dir.join("server.conf");
    std::fs::write(&config, "include ./accounts.conf\n").expect("writes");
    retry_on_taken_port(|| async {
        let mut server = NatsServerProcess::launch(
            "127.0.0.1",
            free_port().expect("port"),
            &dir.join("data"),
            &["-c".to_owned(), config.display().to_string()],
        )?
        .with_login("admin", "admin-secret");
        server.wait_ready(Duration::from_secs(20)).await?;
        Ok(server)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn as_user(url: &str, user: &str) -> NatsArgs {
    let mut args = NatsArgs::new(url, "news");
    args.auth.user = Some(user.to_owned());
    args.auth.password = Some(format!("{user}-secret"));
    args
}

/// Connects as `user`, collecting the server's error reports (permission violations).
async fn connect_watching(
    url: &str,
    user: &str,
) -> (
    async_nats::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(
        user.to_owned(),
        format!("{user}-secret"),
    )
    .event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.to_string());
        }
    })
    .connect(url)
    .await
    .expect("connects");
    (client, rx)
}

async fn permission_violation(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    subject: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no permission violation reported for {subject}"))
            .expect("events open");
        let lower = event.to_lowercase();
        if lower.contains("permissions violation") && event.contains(subject) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_runs_with_its_own_user_and_cannot_publish_where_it_must_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server_with_accounts(dir.path()).await;
    let url = server.url();
    let store = store_url(&dir);

    // Anonymous clients are refused.
    assert!(
        async_nats::connect(&url).await.is_err() || {
            let client = async_nats::connect(&url).await.expect("connected");
            client.flush().await.is_err()
        }
    );

    // The whole pipeline with one user per stage: the permissions are enough.
    let classifier = spawn_classifier(ClassifierConfig::new(as_user(&url, "classifier")));
    let sink = spawn_sink(SinkConfig::new(as_user(&url, "sink"), store.clone()));
    let publisher = Publisher::connect(&as_user(&url, "producer"))
        .await
        .expect("the producer user sets up its stream");
    let receipt = publisher
        .publish(&sample_article())
        .await
        .expect("publishes");
    wait_stored(&store, &receipt.article_id, 19).await;

    // Where a stage must not publish, the server refuses and says so, and nothing arrives.
    let admin =
        async_nats::ConnectOptions::with_user_and_password("admin".into(), "admin-secret".into())
            .connect(&url)
            .await
            .expect("admin connects");
    // The stages answer the NATS service protocol under their own users.
    for stage in ["classifier", "sink"] {
        let reply = admin
            .request(format!("$SRV.PING.newswire-{stage}"), "".into())
            .await
            .unwrap_or_else(|e| panic!("{stage} answers pings: {e}"));
        let reply: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
        assert_eq!(reply["name"], format!("newswire-{stage}"));
        let status = admin
            .request(format!("news.status.{stage}"), "".into())
            .await
            .unwrap_or_else(|e| panic!("{stage} answers on its status endpoint: {e}"));
        let status: serde_json::Value = serde_json::from_slice(&status.payload).expect("JSON");
        assert_eq!(status["stage"], stage);
    }
    let js = async_nats::jetstream::new(admin);
    let before = stream_messages(&js, "NEWS_TAGGED").await;
    let raw_before = stream_messages(&js, "NEWS_RAW").await;
    for (user, subject) in [
        ("producer", "news.tagged.threaten.RUS"),
        ("producer", "news.dlq.classifier"),
        ("sink", "news.raw.forged"),
        ("sink", "news.tagged.threaten.RUS"),
        ("classifier", "news.raw.forged"),
    ] {
        let (client, mut events) = connect_watching(&url, user).await;
        client
            .publish(subject, "{\"forged\": true}".into())
            .await
            .expect("sent");
        client.flush().await.expect("flushed");
        permission_violation(&mut events, subject).await;
    }
    assert_eq!(stream_messages(&js, "NEWS_TAGGED").await, before);
    assert_eq!(stream_messages(&js, "NEWS_RAW").await, raw_before);

    // Nor may the producer read the tagged stream through a consumer of its own.
    let (client, _events) = connect_watching(&url, "producer").await;
    let producer_js = async_nats::jetstream::new(client);
    let stream = producer_js
        .get_stream("NEWS_TAGGED")
        .await
        .expect("stream info is allowed");
    // Refused requests get no answer: a short wait is enough to see none comes.
    let created = tokio::time::timeout(
        Duration::from_secs(3),
        stream.create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("snoop".into()),
            ..Default::default()
        }),
    )
    .await;
    assert!(
        !matches!(created, Ok(Ok(_))),
        "the producer created a consumer on NEWS_TAGGED"
    );

    classifier.stop().await;
    sink.stop().await;
}
