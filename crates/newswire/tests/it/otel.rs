//! Built with `--features otel`: traces reach an OTLP/HTTP collector, one trace per article
//! through producer, classifier and sink.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use newswire_tests::{SAMPLE_ARTICLE, TestNats, stored_count, unique_prefix, wait_for};

use crate::{newswire, output, stderr, stop_gracefully};

/// A collector that keeps the bodies of the OTLP trace exports it receives.
async fn collector() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().expect("lock").push(body.to_vec());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, bodies)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_article_is_one_trace_across_the_stages() {
    let nats = TestNats::start().await;
    let prefix = unique_prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("s.db").display());
    let (endpoint, bodies) = collector().await;
    let traced = |args: &[&str]| {
        let mut command = newswire(&prefix);
        command
            .args(args)
            .args(["--nats-url", &nats.url()])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("RUST_LOG", "warn");
        command
    };
    let mut classifier = traced(&["classifier"]).spawn().expect("starts");
    let mut sink = traced(&["sink", "--store", &store])
        .spawn()
        .expect("starts");
    let file = dir.path().join("sample.txt");
    std::fs::write(&file, SAMPLE_ARTICLE).expect("writes");
    let mut publish = traced(&["publish", &file.display().to_string()]);
    let out = output(&mut publish).await;
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for("the article stored", Duration::from_secs(30), || async {
        (stored_count(&store, None).await == 19).then_some(())
    })
    .await;

    // The trace id is the article id: its 16 bytes appear in the exported spans of every stage.
    let article_id = newswire_producer::article_id(SAMPLE_ARTICLE);
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&article_id[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    for child in [&mut classifier, &mut sink] {
        stop_gracefully(child, Duration::from_secs(20)).await;
    }
    wait_for(
        "spans of every stage exported",
        Duration::from_secs(20),
        || {
            let bodies = bodies.lock().expect("lock").clone();
            let trace_id = trace_id.clone();
            async move {
                let of_trace: Vec<&Vec<u8>> =
                    bodies.iter().filter(|b| contains(b, &trace_id)).collect();
                ["producer", "classifier", "sink"]
                    .iter()
                    .all(|stage| of_trace.iter().any(|b| contains(b, stage.as_bytes())))
                    .then_some(())
            }
        },
    )
    .await;
}
