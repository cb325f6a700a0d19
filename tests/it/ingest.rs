//! Ingestion paths of the producer against a real nats-server: HTTP, the inbox folder and
//! feeds served by a local HTTP server (the machine has no internet).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use newswire_producer::feeds::{FeedConfig, FeedPoller};
use newswire_producer::inbox::{FileOutcome, Inbox, InboxConfig};
use newswire_producer::seen::Seen;
use newswire_producer::{
    HttpConfig, Ingestor, InputFormat, Limits, ProducerConfig, Publisher, prepare_input,
};
use newswire_shared::local_server::free_port;
use newswire_shared::nats::NatsArgs;
use newswire_shared::{ArticleMeta, RawEvent};
use newswire_tests::{TestNats, http_client, spawn_producer, stream_messages, wait_for};
use time::OffsetDateTime;

const SAMPLE: &str = include_str!("../../fixtures/putin-warns-seoul.txt");

const PAGE: &str = r#"<!doctype html>
<html lang="en-GB"><head>
<title>Seoul summons envoy | Daily Wire Test</title>
<meta property="og:title" content="Seoul summons Russian envoy over pact">
<meta property="og:site_name" content="Daily Wire Test">
<meta property="article:published_time" content="2024-06-22T09:30:00+09:00">
<link rel="canonical" href="https://news.example/seoul-summons-envoy">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/asia">Asia</a></nav>
<article>
<h1>Seoul summons Russian envoy over pact</h1>
<p>South Korea summoned the Russian ambassador on Saturday to protest the defence pact with North Korea.</p>
<p>The foreign ministry said the treaty threatened regional security.</p>
</article>
<footer>Copyright 2024 Daily Wire Test. All rights reserved.</footer>
</body></html>"#;

/// Every raw event in the stream, in stream order.
async fn raw_events(js: &jetstream::Context, args: &NatsArgs) -> Vec<RawEvent> {
    let stream_name = args.subjects().expect("prefix").raw_stream();
    let mut stream = js.get_stream(&stream_name).await.expect("raw stream");
    let last = stream.info().await.expect("info").state.last_sequence;
    let mut events = Vec::new();
    for seq in 1..=last {
        if let Ok(message) = stream.get_raw_message(seq).await {
            events.push(RawEvent::decode(&message.payload).expect("valid raw event"));
        }
    }
    events
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    let body = response.bytes().await.expect("body");
    serde_json::from_slice(&body).expect("a JSON body")
}

fn events_of(bytes: &[u8], format: InputFormat) -> usize {
    prepare_input(
        bytes,
        format,
        &Limits::default(),
        &ArticleMeta::default(),
        OffsetDateTime::now_utc(),
    )
    .expect("valid input")
    .iter()
    .map(Vec::len)
    .sum()
}

async fn ingestor(args: &NatsArgs, js: &jetstream::Context) -> (Ingestor, Seen) {
    let subjects = args.subjects().expect("prefix");
    let publisher = Publisher::new(js.clone(), subjects.clone(), &args.stream_settings())
        .await
        .expect("publisher");
    let seen = Seen::open(js, &subjects.seen_bucket(), 1, Duration::from_secs(3600))
        .await
        .expect("seen bucket");
    (Ingestor::new(publisher, Limits::default()), seen)
}

/// `n` JSON-lines articles, the `k`th with the title and body `article(k)` gives.
fn json_lines(n: usize, article: impl Fn(usize) -> (String, String)) -> String {
    (0..n)
        .map(|k| {
            let (title, body) = article(k);
            serde_json::json!({ "title": title, "body": body }).to_string() + "\n"
        })
        .collect()
}

#[tokio::test]
async fn an_input_with_one_article_over_the_servers_max_payload_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("small.conf");
    std::fs::write(&config, "max_payload: 4096\n").expect("writes");
    let nats = TestNats::start_with(&["-c".to_owned(), config.display().to_string()]).await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let (ingestor, _seen) = ingestor(&args, &js).await;
    // Forty articles; the 35th's title makes each of its events larger than the server takes.
    let lines = json_lines(40, |k| {
        let title = if k == 34 {
            "T".repeat(5000)
        } else {
            format!("Bulletin {k}")
        };
        (title, format!("Seoul protested on day {k}."))
    });
    let refused = ingestor
        .ingest(
            lines.as_bytes(),
            InputFormat::Json,
            &ArticleMeta::default(),
            "http",
        )
        .await
        .expect_err("an event over the max payload refuses the input");
    assert!(refused.to_string().contains("max payload"), "{refused}");
    assert!(raw_events(&js, &args).await.is_empty(), "nothing published");
}

/// A local address on a free port.
fn local_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port().expect("port")))
}

/// Waits until the producer's HTTP endpoint at `base` answers its health check.
async fn endpoint_answers(http: &reqwest::Client, base: &str) {
    wait_for(
        "the producer's HTTP endpoint",
        Duration::from_secs(20),
        || {
            let request = http.get(format!("{base}/healthz")).send();
            async move { request.await.ok().filter(|r| r.status().is_success()) }
        },
    )
    .await;
}

#[tokio::test]
async fn http_endpoint_publishes_articles_and_refuses_with_clear_statuses() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let addr = local_address();
    let mut config = ProducerConfig::new(args.clone());
    config.limits.max_article_bytes = 64 * 1024;
    config.http = Some(HttpConfig::new(addr, Some("s3cret".into())));
    let ops = local_address();
    config.metrics_listen = Some(ops);
    let producer = spawn_producer(config);
    let http = http_client();
    let base = format!("http://{addr}");
    endpoint_answers(&http, &base).await;
    let post = |body: Vec<u8>, content_type: &str, token: Option<&str>| {
        let mut request = http
            .post(format!(
                "{base}/articles?source=yonhap&published_at=2024-06-21"
            ))
            .header(header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let response = post(SAMPLE.into(), "text/plain", Some("s3cret"))
        .await
        .expect("posts");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let receipt = json(response).await;
    let expected = events_of(SAMPLE.as_bytes(), InputFormat::Text);
    assert_eq!(receipt["events"], expected);
    assert_eq!(receipt["duplicates"], 0);
    assert_eq!(
        receipt["articles"][0]["article_id"].as_str().map(str::len),
        Some(32)
    );

    // The same article again: accepted, every event a duplicate the stream dropped.
    let again = json(
        post(SAMPLE.into(), "text/plain", Some("s3cret"))
            .await
            .expect("posts"),
    )
    .await;
    assert_eq!(again["duplicates"], expected);

    // A web page: readable text only, metadata from the page beats the query's.
    let response = post(PAGE.into(), "text/html; charset=utf-8", Some("s3cret"))
        .await
        .expect("posts");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let page_events = events_of(PAGE.as_bytes(), InputFormat::Html);

    // JSON lines of many articles: a receipt for each, in order.
    let lines = json_lines(40, |k| {
        (
            format!("Bulletin {k}"),
            format!("Seoul protested to Moscow on day {k}. Tokyo sent aid to Kyiv on day {k}."),
        )
    });
    let response = post(lines.into_bytes(), "application/json", Some("s3cret"))
        .await
        .expect("posts");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let bulk = json(response).await;
    let receipts = bulk["articles"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 40);
    for (k, receipt) in receipts.iter().enumerate() {
        assert_eq!(receipt["title"], format!("Bulletin {k}"));
        assert_eq!(receipt["events"], 2, "{receipt}");
        assert_eq!(receipt["duplicates"], 0, "{receipt}");
    }
    let bulk_events = 80;

    // The scheme's name in any case; an oversized body without the token is refused as
    // unauthorised, not as too large.
    let lower_case = http
        .post(format!("{base}/articles"))
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::AUTHORIZATION, "bearer s3cret")
        .body(SAMPLE)
        .send()
        .await
        .expect("posts");
    assert_eq!(lower_case.status(), StatusCode::ACCEPTED);
    assert_eq!(json(lower_case).await["duplicates"], expected);
    let refusals: [(Vec<u8>, &str, Option<&str>, StatusCode); 6] = [
        (SAMPLE.into(), "text/plain", None, StatusCode::UNAUTHORIZED),
        (
            vec![b'a'; 70 * 1024],
            "text/plain",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            SAMPLE.into(),
            "text/plain",
            Some("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            b"\x89PNG".to_vec(),
            "image/png",
            Some("s3cret"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            vec![b'a'; 70 * 1024],
            "text/plain",
            Some("s3cret"),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            b"   ".to_vec(),
            "text/plain",
            Some("s3cret"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, content_type, token, status) in refusals {
        let response = post(body, content_type, token).await.expect("posts");
        assert_eq!(response.status(), status, "{content_type} {token:?}");
        let problem = json(response).await;
        assert!(
            problem["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{problem}"
        );
    }

    let events = raw_events(&js, &args).await;
    assert_eq!(events.len(), expected + page_events + bulk_events);
    // Each bulletin's sentences reach the stream in order.
    let bulletins: Vec<&RawEvent> = events
        .iter()
        .filter(|e| {
            e.article
                .title
                .as_deref()
                .is_some_and(|t| t.starts_with("Bulletin "))
        })
        .collect();
    assert_eq!(bulletins.len(), bulk_events);
    for pair in bulletins.windows(2) {
        if pair[0].article_id == pair[1].article_id {
            assert!(pair[0].sentence_index < pair[1].sentence_index);
        }
    }
    let sample = &events[0];
    assert_eq!(sample.article.source.as_deref(), Some("yonhap"));
    assert_eq!(sample.article.language.as_deref(), Some("en"));
    let page = &events[expected];
    assert_eq!(
        page.article.title.as_deref(),
        Some("Seoul summons Russian envoy over pact")
    );
    assert_eq!(page.article.source.as_deref(), Some("Daily Wire Test"));
    assert_eq!(
        page.article.url.as_deref(),
        Some("https://news.example/seoul-summons-envoy")
    );
    assert_eq!(page.article.language.as_deref(), Some("en"));
    assert!(
        events[expected..]
            .iter()
            .all(|e| !e.text.contains("Home") && !e.text.contains("Copyright"))
    );
    // "on Saturday" in a page dated Saturday 2024-06-22.
    let summoned = events[expected..]
        .iter()
        .find(|e| e.text.contains("summoned"))
        .expect("the story's first sentence");
    assert_eq!(
        summoned.event_date.map(|d| d.to_string()),
        Some("2024-06-22".into())
    );

    // The producer's operator endpoints count articles by input and outcome.
    let ready = http
        .get(format!("http://{ops}/readyz"))
        .send()
        .await
        .expect("answers");
    assert_eq!(ready.status(), StatusCode::OK);
    let metrics = http
        .get(format!("http://{ops}/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("body");
    for expected in [
        "newswire_articles_total{input=\"http\",outcome=\"published\"}",
        "newswire_articles_total{input=\"http\",outcome=\"rejected\"}",
        "newswire_events_published_total{stage=\"producer\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }
    producer.stop().await;
}

#[tokio::test]
async fn http_requests_beyond_the_concurrency_are_answered_503_before_their_body() {
    use tokio::io::AsyncWriteExt;
    let nats = TestNats::start().await;
    let args = nats.args();
    let addr = local_address();
    let mut config = ProducerConfig::new(args.clone());
    let mut http_config = HttpConfig::new(addr, Some("s3cret".into()));
    http_config.concurrency = 1;
    config.http = Some(http_config);
    let producer = spawn_producer(config);
    let http = http_client();
    let base = format!("http://{addr}");
    endpoint_answers(&http, &base).await;
    let post = || {
        http.post(format!("{base}/articles"))
            .bearer_auth("s3cret")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(SAMPLE)
            .send()
    };

    // A client that sends its headers and half its body, then stalls: it holds the one permit.
    let mut slow = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let head = format!(
        "POST /articles HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer s3cret\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        SAMPLE.len()
    );
    slow.write_all(head.as_bytes())
        .await
        .expect("sends headers");
    slow.write_all(&SAMPLE.as_bytes()[..SAMPLE.len() / 2])
        .await
        .expect("sends half");
    // Posts the sample until the answer has `status`.
    let answered = |what: &'static str, status: StatusCode| {
        wait_for(what, Duration::from_secs(10), move || {
            let request = post();
            async move { request.await.ok().filter(|r| r.status() == status) }
        })
    };
    let refused = answered(
        "a request refused for want of room",
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        refused
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );

    // The stalled client goes away: its permit is returned.
    drop(slow);
    answered("the room back", StatusCode::ACCEPTED).await;
    producer.stop().await;
}

fn write_atomically(dir: &Path, name: &str, contents: &[u8]) {
    let temporary = dir.join(format!(".{name}.part"));
    std::fs::write(&temporary, contents).expect("writes");
    std::fs::rename(&temporary, dir.join(name)).expect("renames");
}

#[tokio::test]
async fn inbox_publishes_each_file_once_and_sets_refused_files_aside_with_the_reason() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("inbox");
    // Present before the producer starts: taken like a new file.
    std::fs::write(inbox.join("sample.txt"), SAMPLE).expect("writes");

    let mut config = ProducerConfig::new(args.clone());
    let mut inbox_config = InboxConfig::new(&inbox);
    inbox_config.settle = Duration::from_millis(100);
    inbox_config.rescan = Duration::from_secs(2);
    config.inbox = Some(inbox_config.clone());
    let producer = spawn_producer(config);
    write_atomically(&inbox, "page.html", PAGE.as_bytes());
    write_atomically(&inbox, "broken.txt", b"Seoul\0protested.");

    let done = inbox.join("done");
    let rejected = inbox.join("rejected");
    wait_for("the inbox to be emptied", Duration::from_secs(30), || {
        let ready = done.join("sample.txt").exists()
            && done.join("page.html").exists()
            && rejected.join("broken.txt.reason.txt").exists();
        async move { ready.then_some(()) }
    })
    .await;
    let reason = std::fs::read_to_string(rejected.join("broken.txt.reason.txt")).expect("reason");
    assert!(reason.contains("binary"), "{reason}");
    assert!(rejected.join("broken.txt").exists());
    let expected = events_of(SAMPLE.as_bytes(), InputFormat::Text)
        + events_of(PAGE.as_bytes(), InputFormat::Html);
    let raw_stream = args.subjects().expect("prefix").raw_stream();
    assert_eq!(stream_messages(&js, &raw_stream).await, expected as u64);
    producer.stop().await;

    // After a restart between publishing and moving, the file is back in the inbox: it is
    // recognised by its content and moved, not published again.
    let (ingestor, seen) = ingestor(&args, &js).await;
    let inbox = Inbox::open(inbox_config, ingestor, seen).expect("inbox");
    let again = dir.path().join("inbox").join("sample-again.txt");
    std::fs::write(&again, SAMPLE).expect("writes");
    assert_eq!(
        inbox.take(&again).await.expect("taken"),
        FileOutcome::AlreadyPublished
    );
    assert!(done.join("sample-again.txt").exists());
    let fresh = dir.path().join("inbox").join("note.md");
    std::fs::write(
        &fresh,
        "# Kyiv thanks Seoul\n\nUkraine thanked South Korea for humanitarian aid.\n",
    )
    .expect("writes");
    assert!(matches!(
        inbox.take(&fresh).await.expect("taken"),
        FileOutcome::Published {
            articles: 1,
            events: 2
        }
    ));
    assert_eq!(stream_messages(&js, &raw_stream).await, expected as u64 + 2);
}

/// A feed server: the feed with an ETag it honours, and the pages its items link to.
#[derive(Debug, Default)]
struct FeedSite {
    items: Vec<(String, String, String)>,
    version: u32,
    requests: u32,
    not_modified: u32,
    /// Requests for pages still to be answered 503 Service Unavailable.
    page_failures: u32,
}

fn rss(site: &FeedSite, base: &str) -> String {
    let items: String = site
        .items
        .iter()
        .map(|(id, title, summary)| {
            format!(
                "<item><guid>{id}</guid><title>{title}</title><link>{base}/story/{id}</link>\
                 <pubDate>Fri, 21 Jun 2024 0{}:00:00 +0000</pubDate><description>{summary}</description></item>",
                id.len() % 9
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Test Wire</title>\
         <language>en-us</language><link>{base}</link><description>test</description>{items}</channel></rss>"
    )
}

async fn serve_feeds(site: Arc<Mutex<FeedSite>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let feed_base = base.clone();
    let app = axum::Router::new()
        .route(
            "/feed.xml",
            axum::routing::get({
                let site = site.clone();
                move |headers: HeaderMap| {
                    let site = site.clone();
                    let base = feed_base.clone();
                    async move {
                        let mut site = site.lock().expect("lock");
                        site.requests += 1;
                        let etag = format!("\"v{}\"", site.version);
                        if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
                            site.not_modified += 1;
                            return StatusCode::NOT_MODIFIED.into_response();
                        }
                        ([(header::ETAG, etag), (header::CONTENT_TYPE, "application/rss+xml".into())], rss(&site, &base)).into_response()
                    }
                }
            }),
        )
        .route(
            "/story/{id}",
            axum::routing::get(move |axum::extract::Path(id): axum::extract::Path<String>| {
                let site = site.clone();
                async move {
                {
                    let mut site = site.lock().expect("lock");
                    if site.page_failures > 0 {
                        site.page_failures -= 1;
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                }
                let body = format!(
                    "<html><body><article><h1>Story {id}</h1><p>Japan pledged humanitarian aid to Ukraine on Thursday.</p>\
                     <p>The page of story {id} has the full text.</p></article></body></html>"
                );
                ([(header::CONTENT_TYPE, "text/html")], body).into_response()
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// `site` served, its feed's base and URL, a poller's configuration for it (5 s timeout), and
/// an ingestor and `SEEN` bucket on `args`'s server.
async fn feed_of(
    site: Arc<Mutex<FeedSite>>,
    args: &NatsArgs,
    js: &jetstream::Context,
) -> (String, String, FeedConfig, Ingestor, Seen) {
    let base = serve_feeds(site).await;
    let url = format!("{base}/feed.xml");
    let (ingestor, seen) = ingestor(args, js).await;
    let mut config = FeedConfig::new(vec![url.clone()]);
    config.timeout = Duration::from_secs(5);
    (base, url, config, ingestor, seen)
}

#[tokio::test]
async fn feeds_publish_new_items_once_with_conditional_requests_shared_by_replicas() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let site = Arc::new(Mutex::new(FeedSite {
        items: vec![
            ("a1".into(), "Seoul protests".into(), "South Korea lodged a formal protest with Russia over the pact, officials said on Friday. The protest was delivered in Seoul by the vice foreign minister, who called the treaty a threat to the peninsula and to the region as a whole, and demanded that Moscow end its military cooperation with Pyongyang at once, according to a statement released after the meeting that also said Seoul would take every measure needed in response. Officials said the ambassador listened and promised to pass the message to Moscow. The ministry added that it would watch closely how the treaty is carried out and decide its next steps with its allies.".into()),
            ("b22".into(), "Tokyo pledges aid".into(), "Japan pledges aid.".into()),
        ],
        version: 1,
        ..FeedSite::default()
    }));
    let (base, url, config, ingestor, seen) = feed_of(site.clone(), &args, &js).await;
    let poller = FeedPoller::new(config.clone(), ingestor.clone(), seen.clone()).expect("poller");

    let first = poller.poll(&url).await.expect("polls");
    assert_eq!(
        (first.items, first.published, first.already_seen),
        (2, 2, 0)
    );
    let events = raw_events(&js, &args).await;
    // The long item is published as it is; the summary-only one from its page.
    assert!(
        events
            .iter()
            .any(|e| e.text.starts_with("South Korea lodged a formal protest"))
    );
    let aid = events
        .iter()
        .find(|e| e.text.starts_with("Japan pledged humanitarian aid"))
        .expect("the page's text");
    assert_eq!(aid.article.title.as_deref(), Some("Story b22"));
    assert_eq!(aid.article.source.as_deref(), Some("Test Wire"));
    assert_eq!(
        aid.article.url.as_deref(),
        Some(format!("{base}/story/b22").as_str())
    );
    assert_eq!(
        aid.event_date.map(|d| d.to_string()),
        Some("2024-06-20".into())
    );
    let after_first = events.len();

    // Unchanged: a 304, nothing published, also for a second replica sharing the bucket.
    assert!(poller.poll(&url).await.expect("polls").not_modified);
    let replica = FeedPoller::new(config, ingestor, seen).expect("poller");
    assert!(replica.poll(&url).await.expect("polls").not_modified);
    assert_eq!(site.lock().expect("lock").not_modified, 2);

    // A new item: only it is published.
    {
        let mut site = site.lock().expect("lock");
        site.items.push((
            "c333".into(),
            "Kyiv thanks".into(),
            "Ukraine thanked Japan.".into(),
        ));
        site.version = 2;
    }
    let third = replica.poll(&url).await.expect("polls");
    assert_eq!(
        (third.items, third.published, third.already_seen),
        (3, 1, 2)
    );
    assert!(raw_events(&js, &args).await.len() > after_first);
    assert_eq!(site.lock().expect("lock").requests, 4);
}

#[tokio::test]
async fn a_feed_item_whose_page_is_down_waits_for_it_then_falls_back_to_its_summary() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let site = Arc::new(Mutex::new(FeedSite {
        items: vec![(
            "d4".into(),
            "Tokyo pledges aid".into(),
            "Japan pledges aid.".into(),
        )],
        version: 1,
        page_failures: 1,
        ..FeedSite::default()
    }));
    let (_, url, config, ingestor, seen) = feed_of(site.clone(), &args, &js).await;
    let poller = FeedPoller::new(config, ingestor, seen).expect("poller");

    // The page answers 503: the item waits, unrecorded, and the feed is not taken as read.
    let first = poller.poll(&url).await.expect("polls");
    assert_eq!((first.published, first.deferred), (0, 1));
    assert!(raw_events(&js, &args).await.is_empty());
    // The next poll fetches the feed whole again and publishes the item from its page.
    let second = poller.poll(&url).await.expect("polls");
    assert!(!second.not_modified);
    assert_eq!((second.published, second.deferred), (1, 0));
    assert!(
        raw_events(&js, &args)
            .await
            .iter()
            .any(|e| e.text.starts_with("Japan pledged humanitarian aid"))
    );

    // A page that stays down: the item waits three polls, then goes out with its own text.
    {
        let mut site = site.lock().expect("lock");
        site.items.push((
            "e55".into(),
            "Kyiv thanks".into(),
            "Ukraine thanked Japan.".into(),
        ));
        site.version = 2;
        site.page_failures = 100;
    }
    for poll in 1..=3 {
        let report = poller.poll(&url).await.expect("polls");
        assert_eq!(
            (report.not_modified, report.published, report.deferred),
            (false, 0, 1),
            "poll {poll}"
        );
    }
    let last = poller.poll(&url).await.expect("polls");
    assert_eq!((last.published, last.deferred), (1, 0));
    assert!(
        raw_events(&js, &args)
            .await
            .iter()
            .any(|e| e.text == "Ukraine thanked Japan.")
    );
    // Recorded now, the feed's validators with it: unchanged, it answers 304.
    assert!(poller.poll(&url).await.expect("polls").not_modified);
}

#[tokio::test]
async fn a_local_atom_file_is_a_feed_too() {
    let nats = TestNats::start().await;
    let args = nats.args();
    let js = nats.jetstream().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("wire.atom");
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Atom Wire</title><id>urn:test:wire</id><updated>2024-06-21T10:00:00Z</updated>
  <entry><id>urn:test:1</id><title>Hanoi hosts Putin</title><updated>2024-06-20T08:00:00Z</updated>
    <content type="html">&lt;p&gt;Vietnam welcomed the Russian president in Hanoi on Thursday.&lt;/p&gt;&lt;p&gt;The two leaders signed agreements on energy.&lt;/p&gt;</content></entry>
</feed>"#;
    std::fs::write(&path, atom).expect("writes");
    let (ingestor, seen) = ingestor(&args, &js).await;
    let poller = FeedPoller::new(FeedConfig::new(vec![]), ingestor, seen).expect("poller");
    let url = path.display().to_string();
    let first = poller.poll(&url).await.expect("polls");
    assert_eq!((first.items, first.published), (1, 1));
    let events = raw_events(&js, &args).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0].text,
        "Vietnam welcomed the Russian president in Hanoi on Thursday."
    );
    assert_eq!(
        events[0].article.title.as_deref(),
        Some("Hanoi hosts Putin")
    );
    assert_eq!(
        events[0].event_date.map(|d| d.to_string()),
        Some("2024-06-20".into())
    );
    let second = poller.poll(&format!("file://{url}")).await.expect("polls");
    assert_eq!(second.published, 0);
    let third = poller.poll(&url).await.expect("polls");
    assert_eq!((third.published, third.already_seen), (0, 1));
    // A file has no validators: every poll reads it whole, and the item this poller found
    // recorded last time is not looked up again. A new poller looks it up.
    assert_eq!(third.remembered, 1);
    let (ingestor, seen) = self::ingestor(&args, &js).await;
    let fresh = FeedPoller::new(FeedConfig::new(vec![]), ingestor, seen).expect("poller");
    let fourth = fresh.poll(&url).await.expect("polls");
    assert_eq!(
        (fourth.published, fourth.already_seen, fourth.remembered),
        (0, 1, 0)
    );
}
