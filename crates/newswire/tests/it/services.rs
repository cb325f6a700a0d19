//! The long-running services: graceful shutdown on SIGTERM, and `tail` on the live stream.

use std::time::Duration;

use newswire_tests::{SAMPLE_ARTICLE, TestNats, consumer_info, unique_prefix, wait_for};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{newswire, output, sigterm, stderr, stop_gracefully};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_stop_cleanly_on_sigterm_and_tail_shows_live_events() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let subjects = newswire_shared::Subjects::new(&prefix).expect("prefix");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("s.db").display());

    let mut classifier = newswire(&prefix)
        .args(["classifier", "--nats-url", &nats.url()])
        .spawn()
        .expect("classifier starts");
    let mut sink = newswire(&prefix)
        .args(["sink", "--nats-url", &nats.url(), "--store", &store])
        .spawn()
        .expect("sink starts");
    let js = nats.jetstream().await;
    for (stream, durable) in [
        (subjects.raw_stream(), "classifier"),
        (subjects.tagged_stream(), "sink"),
    ] {
        wait_for(
            &format!("{durable} consumer"),
            Duration::from_secs(20),
            || {
                let js = js.clone();
                let stream = stream.clone();
                async move { consumer_info(&js, &stream, durable).await.map(|_| ()) }
            },
        )
        .await;
    }

    let mut tail = newswire(&prefix)
        .args([
            "tail",
            "--nats-url",
            &nats.url(),
            // In any case: the subject's token is lower case.
            "--category",
            "Threaten",
            "--format",
            "json",
            "--count",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tail starts");
    // Wait for tail to subscribe: it says so on stderr.
    let mut tail_err = BufReader::new(tail.stderr.take().expect("stderr")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), tail_err.next_line())
        .await
        .expect("tail ready")
        .expect("reads")
        .expect("a line");
    assert!(
        ready.contains(&format!("{prefix}.tagged.threaten.*")),
        "{ready}"
    );

    let file = dir.path().join("a.txt");
    std::fs::write(&file, SAMPLE_ARTICLE).expect("writes");
    let out = output(
        newswire(&prefix)
            .args(["publish", "--nats-url", &nats.url()])
            .arg(&file),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let tailed = tokio::time::timeout(Duration::from_secs(20), tail.wait_with_output())
        .await
        .expect("tail sees one threat and exits")
        .expect("tail runs");
    assert!(tailed.status.success());
    let line = String::from_utf8_lossy(&tailed.stdout);
    let event = newswire_shared::TaggedEvent::decode(line.trim().as_bytes()).expect("tagged JSON");
    assert_eq!(event.category, "threaten");

    wait_for("the article stored", Duration::from_secs(20), || async {
        (newswire_tests::stored_count(&store, None).await == 19).then_some(())
    })
    .await;
    // `status` shows the streams' contents and both consumers caught up and waiting.
    let status =
        |line: &str| -> serde_json::Value { serde_json::from_str(line).expect("JSON line") };
    let caught_up = wait_for(
        "status to show both consumers caught up",
        Duration::from_secs(20),
        || {
            let mut command = newswire(&prefix);
            command.args(["status", "--format", "json", "--nats-url", &nats.url()]);
            async move {
                let out = output(&mut command).await;
                assert!(out.status.success(), "{}", stderr(&out));
                let streams: Vec<serde_json::Value> =
                    crate::stdout(&out).lines().map(status).collect();
                let settled = streams
                    .iter()
                    .flat_map(|s| s["consumers"].as_array().cloned().unwrap_or_default())
                    .all(|c| c["pending"] == 0 && c["ack_pending"] == 0);
                settled.then_some(streams)
            }
        },
    )
    .await;
    assert_eq!(caught_up[0]["stream"], subjects.raw_stream());
    assert_eq!(caught_up[0]["messages"], 19);
    assert_eq!(caught_up[0]["consumers"][0]["consumer"], "classifier");
    assert_eq!(caught_up[1]["messages"], 19);
    assert_eq!(caught_up[1]["consumers"][0]["consumer"], "sink");
    assert_eq!(caught_up[3]["exists"], false, "no producer service ran");
    for child in [&mut classifier, &mut sink] {
        stop_gracefully(child, Duration::from_secs(15)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_interrupted_event_is_not_lost() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let subjects = newswire_shared::Subjects::new(&prefix).expect("prefix");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.db");
    let store = format!("sqlite://{}", db.display());
    let sink_args = [
        "sink",
        "--nats-url",
        &nats.url(),
        "--store",
        &store,
        "--ack-wait-secs",
        "2",
    ];
    let mut sink = newswire(&prefix)
        .args(sink_args)
        .spawn()
        .expect("sink starts");
    let js = nats.jetstream().await;
    wait_for("sink consumer", Duration::from_secs(20), || {
        let js = js.clone();
        let stream = subjects.tagged_stream();
        async move { consumer_info(&js, &stream, "sink").await.map(|_| ()) }
    })
    .await;

    // Another process holds the database: the sink's next batch blocks on it.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let db_path = db.clone();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db_path).expect("opens");
        conn.execute_batch("BEGIN EXCLUSIVE").expect("locks");
        locked_tx.send(()).expect("reports");
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
        conn.execute_batch("COMMIT").expect("unlocks");
    });
    locked_rx.recv().expect("locked");
    let raw = newswire_producer::sentence_events(
        &newswire_tests::synthetic_article(1, 1),
        time::OffsetDateTime::now_utc(),
    )
    .expect("splits")
    .remove(0);
    let tagged = newswire_classifier::Classifier::builtin().classify(&raw);
    js.publish(
        subjects.tagged(&tagged.category, tagged.primary_actor_token()),
        tagged.encode().into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("acked");
    // The sink holds the event (delivered, not acked), and a moment later has started its
    // batch, which waits on the lock.
    wait_for(
        "the event delivered to the sink",
        Duration::from_secs(20),
        || {
            let js = js.clone();
            let stream = subjects.tagged_stream();
            async move {
                let info = consumer_info(&js, &stream, "sink").await?;
                (info.num_ack_pending == 1).then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // First signal: orderly shutdown waits for the blocked batch. Second: exit now.
    sigterm(&sink);
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&sink);
    let started = std::time::Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), sink.wait())
        .await
        .expect("exits")
        .expect("waits");
    assert_eq!(status.code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "exited at once, not after the batch"
    );

    // The interrupted event was never acked: a new sink stores it once the database is free.
    release_tx.send(()).expect("releases");
    locker.join().expect("locker thread");
    let mut sink = newswire(&prefix)
        .args(sink_args)
        .spawn()
        .expect("sink restarts");
    wait_for(
        "the interrupted event stored",
        Duration::from_secs(60),
        || async { (newswire_tests::stored_count(&store, None).await == 1).then_some(()) },
    )
    .await;
    sigterm(&sink);
    let status = tokio::time::timeout(Duration::from_secs(15), sink.wait())
        .await
        .expect("stops")
        .expect("waits");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_service_takes_inbox_files_and_stops_cleanly_on_sigterm() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let raw_stream = newswire_shared::Subjects::new(&prefix)
        .expect("prefix")
        .raw_stream();
    let dir = tempfile::tempdir().expect("tempdir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("inbox");

    // No input at all is a configuration error.
    let out =
        output(newswire(&prefix).args(["producer", "serve", "--nats-url", &nats.url()])).await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("no input"), "{}", stderr(&out));

    let port = newswire_shared::local_server::free_port().expect("port");
    let mut producer = newswire(&prefix)
        .args(["producer", "serve", "--nats-url", &nats.url(), "--inbox"])
        .arg(&inbox)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .spawn()
        .expect("producer starts");
    std::fs::write(inbox.join("sample.txt"), SAMPLE_ARTICLE).expect("writes");
    let done = inbox.join("done").join("sample.txt");
    wait_for(
        "the inbox file to be published",
        Duration::from_secs(30),
        || {
            let moved = done.exists();
            async move { moved.then_some(()) }
        },
    )
    .await;
    let js = nats.jetstream().await;
    assert_eq!(newswire_tests::stream_messages(&js, &raw_stream).await, 19);
    stop_gracefully(&mut producer, Duration::from_secs(20)).await;
}
