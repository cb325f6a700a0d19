//! The long-running services: graceful shutdown on SIGTERM, and `tail` on the live stream.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use newswire_tests::{SAMPLE_ARTICLE, TestNats, unique_prefix, wait_for};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{newswire, output, stderr};

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

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
                async move {
                    let _: PullConsumer = js
                        .get_stream(&stream)
                        .await
                        .ok()?
                        .get_consumer(durable)
                        .await
                        .ok()?;
                    Some(())
                }
            },
        )
        .await;
    }

    let mut tail = newswire(&prefix)
        .args([
            "tail",
            "--nats-url",
            &nats.url(),
            "--category",
            "threaten",
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
    for child in [&mut classifier, &mut sink] {
        sigterm(child);
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("stops within 15s")
            .expect("waits");
        assert_eq!(status.code(), Some(0));
    }
}
