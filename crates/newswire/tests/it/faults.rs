//! Real processes killed with SIGKILL while events flow, and dead letters replayed after a fix.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use newswire_tests::{
    TestNats, expected_ids, stored_count, stored_ids, synthetic_article, unique_prefix, wait_for,
};
use tokio::process::Child;

use crate::{newswire, output, stderr, stdout};

fn write_jsonl(path: &Path, articles: &[newswire_producer::Article]) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("creates"));
    for a in articles {
        serde_json::to_writer(
            &mut file,
            &serde_json::json!({"source": a.meta.source, "body": a.body}),
        )
        .expect("writes");
        writeln!(file).expect("writes");
    }
}

fn spawn(prefix: &str, args: &[&str]) -> Child {
    newswire(prefix).args(args).spawn().expect("starts")
}

async fn kill9(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_killed_in_turn_while_20000_events_flow() {
    let nats = TestNats::start().await;
    let url = nats.url();
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("s.db").display());
    let articles: Vec<_> = (0..2000).map(|n| synthetic_article(n, 10)).collect();
    let expected = expected_ids(&articles);
    assert_eq!(expected.len(), 20_000);
    let files: Vec<_> = articles
        .chunks(500)
        .enumerate()
        .map(|(i, chunk)| {
            let path = dir.path().join(format!("batch{i}.jsonl"));
            write_jsonl(&path, chunk);
            path
        })
        .collect();
    let classifier_args = ["classifier", "--nats-url", &url, "--ack-wait-secs", "2"];
    let sink_args = [
        "sink",
        "--nats-url",
        &url,
        "--store",
        &store,
        "--ack-wait-secs",
        "2",
    ];
    let mut classifier = spawn(&prefix, &classifier_args);
    let mut sink = spawn(&prefix, &sink_args);
    let publish = |file: &Path| {
        let mut c = newswire(&prefix);
        c.args(["publish", "--nats-url", &url]).arg(file);
        c
    };

    // The producer killed mid-file, then run again: the duplicate window drops what it had sent.
    let mut producer = publish(&files[0]).spawn().expect("starts");
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill9(&mut producer).await;
    let out = output(&mut publish(&files[0])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // The classifier killed while it works, then restarted.
    wait_for("some events stored", Duration::from_secs(120), || async {
        (stored_count(&store, None).await > 1000).then_some(())
    })
    .await;
    kill9(&mut classifier).await;
    let out = output(&mut publish(&files[1])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    classifier = spawn(&prefix, &classifier_args);

    // The sink killed while it works, then restarted.
    wait_for("more events stored", Duration::from_secs(120), || async {
        (stored_count(&store, None).await > 6000).then_some(())
    })
    .await;
    kill9(&mut sink).await;
    for file in &files[2..] {
        let out = output(&mut publish(file)).await;
        assert!(out.status.success(), "{}", stderr(&out));
    }
    sink = spawn(&prefix, &sink_args);

    wait_for(
        "all 20,000 events stored",
        Duration::from_secs(300),
        || async { (stored_count(&store, None).await >= expected.len()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids = stored_ids(&store).await;
    assert_eq!(ids.len(), expected.len(), "nothing stored twice");
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "nothing lost"
    );
    kill9(&mut classifier).await;
    kill9(&mut sink).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_and_replayed_after_a_fix() {
    let nats = TestNats::start().await;
    let url = nats.url();
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    // A classifier with a sentence limit too small for this article.
    let mut classifier = spawn(
        &prefix,
        &[
            "classifier",
            "--nats-url",
            &url,
            "--max-sentence-bytes",
            "40",
        ],
    );
    let file = dir.path().join("a.txt");
    std::fs::write(
        &file,
        "Seoul protested. Russia warned South Korea against arming Ukraine.",
    )
    .expect("writes");
    let out = output(
        newswire(&prefix)
            .args(["publish", "--nats-url", &url])
            .arg(&file),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let list = || {
        let mut c = newswire(&prefix);
        c.args(["dlq", "--nats-url", &url, "list"]);
        c
    };
    let listed = wait_for(
        "the long sentence dead-lettered",
        Duration::from_secs(20),
        || async {
            let out = output(&mut list()).await;
            stdout(&out)
                .contains("(1 of 1 dead letters)")
                .then(|| stdout(&out))
        },
    )
    .await;
    assert!(
        listed.contains("classifier") && listed.contains("exceeds the limit of 40 bytes"),
        "{listed}"
    );

    let out = output(newswire(&prefix).args(["dlq", "--nats-url", &url, "show", "1"])).await;
    let shown = stdout(&out);
    assert!(
        shown.contains("Newswire-Stage: classifier") && shown.contains("Russia warned South Korea"),
        "{shown}"
    );

    // The fix: a classifier with the default limit. Replay, and the event flows on.
    kill9(&mut classifier).await;
    let mut classifier = spawn(&prefix, &["classifier", "--nats-url", &url]);
    let client = async_nats::connect(&url).await.expect("connects");
    let mut tagged = client
        .subscribe(format!("{prefix}.tagged.>"))
        .await
        .expect("subscribes");
    let replay = |keep: bool| {
        let mut command = newswire(&prefix);
        command.args(["dlq", "--nats-url", &url, "replay", "--all"]);
        if keep {
            command.arg("--keep");
        }
        command
    };
    let out = output(&mut replay(true)).await;
    assert_eq!(
        stdout(&out),
        "replayed 1 dead letters\n",
        "{}",
        stderr(&out)
    );
    let message = tokio::time::timeout(
        Duration::from_secs(20),
        futures::StreamExt::next(&mut tagged),
    )
    .await
    .expect("the replayed event is tagged")
    .expect("subscription open");
    let event = newswire_shared::TaggedEvent::decode(&message.payload).expect("tagged event");
    assert_eq!(event.sentence_index, 1);
    assert_eq!(event.category, "threaten");
    // Kept, and replayed again at once: the stream drops the repeat, and the count says so.
    let out = output(&mut replay(false)).await;
    assert_eq!(
        stdout(&out),
        "replayed 0 dead letters (1 replayed already)\n",
        "{}",
        stderr(&out)
    );
    let out = output(&mut list()).await;
    assert!(
        stdout(&out).contains("(0 of 0 dead letters)"),
        "{}",
        stdout(&out)
    );
    kill9(&mut classifier).await;

    // A dead letter deleted between others leaves a gap the listing steps over.
    let js = async_nats::jetstream::new(client);
    let subjects = newswire_shared::Subjects::new(&prefix).expect("prefix");
    let mut sequences = Vec::new();
    for k in 0..3 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(newswire_shared::nats::dlq_headers::STAGE, "classifier");
        let ack = js
            .publish_with_headers(
                subjects.dlq("classifier"),
                headers,
                format!("letter {k}").into(),
            )
            .await
            .expect("publishes")
            .await
            .expect("acked");
        sequences.push(ack.sequence);
    }
    let dlq = js
        .get_stream(subjects.dlq_stream())
        .await
        .expect("dead-letter stream");
    dlq.delete_message(sequences[1]).await.expect("deletes");
    let out = output(&mut list()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("(2 of 2 dead letters)"),
        "{}",
        stdout(&out)
    );
}
