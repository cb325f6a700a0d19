//! publish, query, demo, classify, dict and usage errors.

use std::io::Write;

use newswire_shared::TaggedEvent;
use newswire_shared::local_server::free_port;
use newswire_tests::{SAMPLE_ARTICLE, TestNats, stream_messages, unique_prefix};

use crate::{newswire, output, stderr, stdout};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_refuses_bad_input_and_publishes_nothing() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.txt");
    std::fs::write(&good, SAMPLE_ARTICLE).expect("writes");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "  \n\n").expect("writes");
    let binary = dir.path().join("image.png");
    std::fs::write(&binary, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").expect("writes");
    let json = dir.path().join("bad.json");
    std::fs::write(&json, "{\"title\": \"no body\"}").expect("writes");

    let cases = [
        (vec![empty.clone()], "input is empty"),
        (vec![binary.clone()], "looks binary"),
        (vec![json.clone()], "missing field `body`"),
        // One bad input among good ones: nothing at all is published.
        (vec![good.clone(), empty.clone()], "input is empty"),
    ];
    for (inputs, reason) in cases {
        let out = output(
            newswire(&prefix)
                .arg("publish")
                .args(&inputs)
                .arg("--nats-url")
                .arg(nats.url()),
        )
        .await;
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(reason),
            "{reason:?} not in {}",
            stderr(&out)
        );
    }
    let out = output(
        newswire(&prefix)
            .arg("publish")
            .arg(&good)
            .args(["--max-article-bytes", "100", "--nats-url"])
            .arg(nats.url()),
    )
    .await;
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("more than the limit of 100 bytes"),
        "{}",
        stderr(&out)
    );

    assert_eq!(raw_messages(&nats, &prefix).await, 0, "nothing published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_walks_folders_and_globs_and_keeps_going_past_refused_files() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("articles");
    std::fs::create_dir_all(root.join("asia")).expect("folders");
    std::fs::create_dir_all(root.join(".drafts")).expect("folders");
    std::fs::write(root.join("one.txt"), "Seoul protested. Moscow replied.").expect("writes");
    std::fs::write(
        root.join("asia").join("two.md"),
        "---\ntitle: Tokyo pledges aid\nsource: kyodo\n---\n# Tokyo pledges aid\n\nJapan pledged humanitarian aid to Ukraine.\n",
    )
    .expect("writes");
    std::fs::write(
        root.join("asia").join("three.html"),
        "<html><body><article><p>Vietnam hosted the Russian president.</p></article></body></html>",
    )
    .expect("writes");
    std::fs::write(
        root.join(".drafts").join("draft.txt"),
        "Not for publishing.",
    )
    .expect("writes");
    std::fs::write(root.join("broken.txt"), b"Seoul\0protested").expect("writes");
    let publish = |extra: &[&str]| {
        let mut c = newswire(&prefix);
        c.arg("publish")
            .arg(&root)
            .args(extra)
            .arg("--nats-url")
            .arg(nats.url());
        c
    };

    // All or nothing by default: the broken file refuses the run.
    let out = output(&mut publish(&[])).await;
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broken.txt") && stderr(&out).contains("nothing was published"),
        "{}",
        stderr(&out)
    );
    assert_eq!(raw_messages(&nats, &prefix).await, 0);

    // --keep-going: everything else is published (not the hidden folder), the refusal reported.
    let out = output(&mut publish(&["--keep-going"])).await;
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    // one.txt: 2 sentences; two.md: the headline and 1 sentence; three.html: 1 sentence.
    assert_eq!(
        stdout(&out),
        "published 5 events from 3 articles (0 duplicates skipped)\n"
    );
    assert!(
        stderr(&out).contains("refused") && stderr(&out).contains("looks binary"),
        "{}",
        stderr(&out)
    );
    assert_eq!(raw_messages(&nats, &prefix).await, 5);

    // A quoted glob.
    let pattern = format!("{}/asia/*.md", root.display());
    let out = output(
        newswire(&prefix)
            .args(["publish", &pattern, "--nats-url"])
            .arg(nats.url()),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "published 0 events from 1 articles (2 duplicates skipped)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_servers_max_payload_refuses_the_run_before_anything_is_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("small.conf");
    std::fs::write(&config, "max_payload: 4096\n").expect("writes");
    let nats = TestNats::start_with(&["-c".to_owned(), config.display().to_string()]).await;
    let prefix = unique_prefix();
    let articles = dir.path().join("articles");
    std::fs::create_dir(&articles).expect("folder");
    // More events than one publishing batch, so a late refusal would come after a publish.
    let many: String = (0..2100)
        .map(|i| format!("Seoul protested {i} times. "))
        .collect();
    std::fs::write(articles.join("a-small.txt"), many).expect("writes");
    // Its metadata makes every event larger than the server takes.
    let title = "T".repeat(5000);
    std::fs::write(
        articles.join("b-large.json"),
        format!("{{\"title\":\"{title}\",\"body\":\"Kyiv thanked Seoul.\"}}"),
    )
    .expect("writes");
    let out = output(
        newswire(&prefix)
            .arg("publish")
            .arg(&articles)
            .args(["--nats-url", &nats.url()]),
    )
    .await;
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("b-large.json") && stderr(&out).contains("max payload"),
        "{}",
        stderr(&out)
    );
    assert_eq!(raw_messages(&nats, &prefix).await, 0, "nothing published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_summarises_and_skips_duplicates() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("article.txt");
    std::fs::write(&file, SAMPLE_ARTICLE).expect("writes");
    let publish = || {
        let mut c = newswire(&prefix);
        c.arg("publish")
            .arg(&file)
            .args([
                "--source",
                "yonhap",
                "--published-at",
                "2024-06-21",
                "--nats-url",
            ])
            .arg(nats.url());
        c
    };
    let first = output(&mut publish()).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        stdout(&first),
        "published 19 events from 1 articles (0 duplicates skipped)\n"
    );
    let second = output(&mut publish()).await;
    assert_eq!(
        stdout(&second),
        "published 0 events from 1 articles (19 duplicates skipped)\n"
    );

    // JSON lines on standard input.
    let mut child = newswire(&prefix)
        .args(["publish", "-", "--nats-url"])
        .arg(nats.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines = "{\"title\":\"A\",\"source\":\"kyodo\",\"body\":\"Japan protested. Seoul agreed.\"}\n{\"body\":\"Russia warned Ukraine.\"}\n";
    tokio::io::AsyncWriteExt::write_all(&mut stdin, lines.as_bytes())
        .await
        .expect("writes");
    drop(stdin);
    let out = child.wait_with_output().await.expect("runs");
    assert_eq!(
        stdout(&out),
        "published 3 events from 2 articles (0 duplicates skipped)\n"
    );
}

#[tokio::test]
async fn invalid_usage_exits_64() {
    let prefix = unique_prefix();
    for args in [
        vec!["publish"],
        vec!["query", "--since", "yesterday"],
        vec!["query", "--actor", "x' OR 1=1"],
        vec!["publish", "x.txt", "--prefix", "a b"],
        vec!["frobnicate"],
        vec!["classifier", "--in-flight", "0"],
        vec!["sink", "--in-flight", "17"],
    ] {
        let out = output(newswire(&prefix).args(&args)).await;
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
    }
    let out = output(newswire(&prefix).arg("--help")).await;
    assert!(out.status.success());
    for command in [
        "publish",
        "classifier",
        "sink",
        "query",
        "tail",
        "up",
        "demo",
        "classify",
    ] {
        assert!(stdout(&out).contains(command), "--help lists {command}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stores_and_prints_the_sample_then_query_filters_it() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("demo.db").display());
    let out =
        output(newswire(&prefix).args(["demo", "--nats-url", &nats.url(), "--store", &store]))
            .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("(19 events)"), "{table}");
    assert!(
        table.contains("threaten") && table.contains("PRKMIL"),
        "{table}"
    );

    let out = output(newswire(&prefix).args([
        "query",
        "--store",
        &store,
        "--category",
        "threaten",
        "--format",
        "json",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<TaggedEvent> = stdout(&out)
        .lines()
        .map(|l| TaggedEvent::decode(l.as_bytes()).expect("tagged event JSON"))
        .collect();
    assert!(events.len() >= 2);
    assert!(
        events
            .iter()
            .all(|e| e.events.iter().any(|c| c.category == "threaten"))
    );

    let out = output(newswire(&prefix).args([
        "query",
        "--store",
        &store,
        "--actor",
        "PRKMIL",
        "--country",
        "KOR",
    ]))
    .await;
    let table = stdout(&out);
    assert!(
        table.contains("(1 events)") && table.contains("North Korean troops"),
        "{table}"
    );

    // A store that is not there: an error naming it, and no empty database made.
    let missing = dir.path().join("mistyped.db");
    let out = output(newswire(&prefix).args([
        "query",
        "--store",
        &format!("sqlite://{}", missing.display()),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!missing.exists());

    // Again into a new store on the same server: the article is already in the streams (and
    // the first store has it), yet the new store receives it too.
    let other = format!("sqlite://{}", dir.path().join("again.db").display());
    let out = output(newswire(&prefix).args([
        "demo",
        "--nats-url",
        &nats.url(),
        "--store",
        &other,
        "--timeout-secs",
        "20",
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(19 events)"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("19 already in the stream"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_a_private_nats_server_when_none_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    let out = output(newswire(&unique_prefix()).current_dir(dir.path()).args([
        "demo",
        "--nats-url",
        &format!("nats://127.0.0.1:{port}"),
    ]))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(19 events)"));
    assert!(
        dir.path().join(".newswire/nats/jetstream").is_dir(),
        "private server stored under .newswire/nats"
    );
    assert!(
        dir.path().join("newswire.db").is_file(),
        "default store sqlite://newswire.db"
    );
    // The private server is gone with the demo.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn classify_codes_offline_and_dict_check_reports_lines() {
    let lines = classify_stdin(
        newswire(&unique_prefix()).args(["classify", "--date", "2024-06-21"]),
        "North Korean troops crossed the border. The weather was mild.",
    )
    .await;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["actors"][0]["code"], "PRKMIL");
    assert_eq!(lines[0]["events"][0]["root"], "15");
    assert_eq!(lines[0]["events"][0]["modality"], "asserted");
    assert_eq!(lines[1]["category"], "none");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut roles = std::fs::File::create(dir.path().join("roles.toml")).expect("creates");
    writeln!(roles, "[[role]]\ncode = \"GOV\"\nterms = [\"president\"]\n\n[[role]]\ncode = \"BOSS\"\nterms = [\"boss\"]").expect("writes");
    let out = output(newswire("x").args(["dict", "check"]).arg(dir.path())).await;
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("roles.toml:6: unknown role code \"BOSS\""),
        "{}",
        stderr(&out)
    );
    let out = output(newswire("x").args(["dict", "check"])).await;
    assert!(out.status.success() && stdout(&out).starts_with("dictionaries valid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_petrarch_actor_dictionary_imports_into_dictionaries_the_classifier_uses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let actors = dir.path().join("test.actors");
    std::fs::write(
        &actors,
        "# written for this test\n\
         MARTA_EXAMPLE_OKAFOR_  ; a made-up minister\n\
         +M._EXAMPLE_OKAFOR_\n\
         \t[NGAELI 19990101-20150528]\n\
         \t[NGAGOV >20150528]\n\
         EASTERN_TEST_BRIGADES_ [NGAREB]\n\
         FREEDONIA_ [FRE]\n",
    )
    .expect("writes");
    let out_dir = dir.path().join("dict");
    let import = async || {
        let mut command = newswire("x");
        command
            .args(["dict", "import-petrarch"])
            .arg(&actors)
            .arg("--out")
            .arg(&out_dir);
        output(&mut command).await
    };
    let out = import().await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("imported 1 people and 1 organisations"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("test.actors:7: skipped \"Freedonia\""),
        "{}",
        stderr(&out)
    );
    // The written set codes the imported names, by the article's date.
    let lines = classify_stdin(
        newswire("x")
            .args(["classify", "--date", "2020-01-01", "--dict"])
            .arg(&out_dir),
        "Marta Example Okafor condemned the Eastern Test Brigades.",
    )
    .await;
    let codes: Vec<&str> = lines[0]["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .filter_map(|a| a["code"].as_str())
        .collect();
    assert_eq!(codes, ["NGAGOV", "NGAREB"]);
    // A syntax error names its line and exits 65.
    std::fs::write(&actors, "SOMEONE_\n\t[NGAGOV 2001]\n").expect("writes");
    let out = import().await;
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("test.actors:2:"), "{}", stderr(&out));
}

/// Runs `newswire classify` with `input` on its stdin and returns its JSON lines.
async fn classify_stdin(
    command: &mut tokio::process::Command,
    input: &str,
) -> Vec<serde_json::Value> {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, input.as_bytes())
        .await
        .expect("writes");
    drop(stdin);
    let out = child.wait_with_output().await.expect("runs");
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Messages in the raw stream of the pipeline named by `prefix`.
async fn raw_messages(nats: &TestNats, prefix: &str) -> u64 {
    let raw_stream = newswire_shared::Subjects::new(prefix)
        .expect("prefix")
        .raw_stream();
    stream_messages(&nats.jetstream().await, &raw_stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_refuses_what_a_stage_would_refuse_at_its_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("newswire.toml");
    // Each line well-formed, yet the sink would not start: a linger above the limit, and a
    // NATS user without its password (which would have connected anonymously).
    std::fs::write(
        &path,
        "[nats]\nuser = \"sink\"\n[sink]\nstore = \"sqlite://x.db\"\nlinger_ms = 5000\n",
    )
    .expect("writes");
    let check = |stage: &str| {
        let mut command = newswire("x");
        command
            .args(["config", "check", "--config"])
            .arg(&path)
            .arg(stage)
            .env_remove("NEWSWIRE_NATS_PASSWORD");
        command
    };
    let out = output(&mut check("sink")).await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("linger_ms = 5000  # file"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("newswire sink: --linger-ms 5000 is above 1000"),
        "{}",
        stderr(&out)
    );

    std::fs::write(
        &path,
        "[nats]\nuser = \"sink\"\n[sink]\nstore = \"sqlite://x.db\"\n",
    )
    .expect("writes");
    let out = output(&mut check("sink")).await;
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a NATS user needs its password"),
        "{}",
        stderr(&out)
    );

    std::fs::write(&path, "[sink]\nstore = \"sqlite://x.db\"\n").expect("writes");
    let out = output(&mut check("sink")).await;
    assert!(out.status.success(), "{}", stderr(&out));
}
