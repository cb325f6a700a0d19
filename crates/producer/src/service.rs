//! The producer service: articles from HTTP, an inbox folder and feeds, all through one
//! [`Ingestor`], until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use newswire_shared::nats::{NatsArgs, NatsError};
use newswire_shared::shutdown;
use tracing::info;

use crate::article::Limits;
use crate::feeds::{FeedConfig, FeedPoller};
use crate::http::{HttpState, router};
use crate::inbox::{self, InboxConfig};
use crate::ingest::Ingestor;
use crate::publish::{ProducerError, Publisher};
use crate::seen::{DEFAULT_RETENTION, Seen};

pub const STAGE: &str = "producer";

/// The HTTP endpoint's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Bearer token required on `POST /articles`, when set: trimmed and not empty (see
    /// [`HttpConfig::new`]).
    pub token: Option<String>,
    /// Requests handled at once; more are answered 503 with `Retry-After` before their body
    /// is read. Each may hold up to `max_article_bytes` of body.
    pub concurrency: usize,
}

impl HttpConfig {
    /// Requests handled at once by default: 64 bodies of at most 1 MiB.
    pub const CONCURRENCY: usize = 64;

    /// The token is taken without surrounding white space (a secret file's trailing newline),
    /// as presented ones are; an empty one is none.
    pub fn new(listen: SocketAddr, token: Option<String>) -> Self {
        Self {
            listen,
            token: token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
            concurrency: Self::CONCURRENCY,
        }
    }
}

/// Configuration of the producer service: at least one input must be on.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub nats: NatsArgs,
    pub limits: Limits,
    pub http: Option<HttpConfig>,
    pub inbox: Option<InboxConfig>,
    pub feeds: Option<FeedConfig>,
    /// How long the `SEEN` bucket remembers inbox files and feed items.
    pub seen_retention: Duration,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: Option<SocketAddr>,
}

impl ProducerConfig {
    pub fn new(nats: NatsArgs) -> Self {
        Self {
            nats,
            limits: Limits::default(),
            http: None,
            inbox: None,
            feeds: None,
            seen_retention: DEFAULT_RETENTION,
            metrics_listen: None,
        }
    }

    /// Checks the settings before anything is started: at least one input, sane intervals, an
    /// existing inbox, and no HTTP listening for anyone without a token.
    fn validate(&self) -> Result<(), ProducerError> {
        if self.http.is_none()
            && self.inbox.is_none()
            && self.feeds.as_ref().is_none_or(|f| f.urls.is_empty())
        {
            return Err(ProducerError::Config(
                "no input: give --listen, --inbox or --feed".into(),
            ));
        }
        if let Some(feeds) = &self.feeds
            && (feeds.interval.is_zero() || feeds.timeout.is_zero())
        {
            return Err(ProducerError::Config(
                "the feed interval and timeout must be positive".into(),
            ));
        }
        if let Some(http) = &self.http
            && !http.listen.ip().is_loopback()
            && http.token.is_none()
        {
            return Err(ProducerError::Config(format!(
                "refusing to accept articles on {} from anyone: set a bearer token \
                 (--token, NEWSWIRE_HTTP_TOKEN) or listen on a loopback address",
                http.listen
            )));
        }
        if let Some(inbox) = &self.inbox
            && !inbox.dir.is_dir()
        {
            return Err(ProducerError::Config(format!(
                "inbox {} is not a directory",
                inbox.dir.display()
            )));
        }
        Ok(())
    }
}

/// Runs the producer's inputs until `shutdown` resolves, then stops taking new work, lets the
/// article in hand finish publishing, and returns.
pub async fn run(
    config: ProducerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProducerError> {
    config.validate()?;
    let client = newswire_shared::nats::connect(&config.nats, STAGE).await?;
    let subjects = config.nats.subjects().map_err(NatsError::from)?;
    let js = jetstream::new(client.clone());
    let publisher =
        Publisher::new(js.clone(), subjects.clone(), &config.nats.stream_settings()).await?;
    let ingestor = Ingestor::new(publisher, config.limits);
    let seen = if config.inbox.is_some() || config.feeds.is_some() {
        // As patient as the streams' set-up: a cluster may still be electing leaders.
        let bucket = subjects.seen_bucket();
        let replicas = usize::from(config.nats.replicas);
        let open = || Seen::open(&js, &bucket, replicas, config.seen_retention);
        Some(
            newswire_shared::nats::with_setup_patience(STAGE, |_: &ProducerError| true, open)
                .await?,
        )
    } else {
        None
    };
    let (trigger, stop) = shutdown::channel();
    tokio::spawn(async move {
        shutdown.await;
        trigger.trigger();
    });

    let mut tasks = tokio::task::JoinSet::new();
    let mut monitors = tokio::task::JoinSet::new();
    let inputs: Vec<&str> = [
        config.http.as_ref().map(|_| "http"),
        config.inbox.as_ref().map(|_| "inbox"),
        config.feeds.as_ref().map(|_| "feed"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let status_inputs = inputs.join(",");
    let status: newswire_shared::ops::StatusFn = Arc::new(move || {
        let inputs = status_inputs.clone();
        Box::pin(async move { serde_json::json!({ "stage": STAGE, "inputs": inputs }) })
    });
    newswire_shared::ops::start_service(
        &client,
        &subjects,
        STAGE,
        format!("newswire producer: articles from {}", inputs.join(", ")),
        status,
        stop.clone(),
        &mut monitors,
    )
    .await;
    if let Some(addr) = config.metrics_listen {
        newswire_shared::ops::start_endpoints(
            addr,
            STAGE,
            js.clone(),
            vec![subjects.raw_stream()],
            None,
            stop.clone(),
            &mut monitors,
        )
        .await
        .map_err(|source| ProducerError::Bind { addr, source })?;
    }
    if let Some(http) = &config.http {
        let listener = tokio::net::TcpListener::bind(http.listen)
            .await
            .map_err(|source| ProducerError::Bind {
                addr: http.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ProducerError::Bind {
                addr: http.listen,
                source,
            })?;
        let app = router(Arc::new(HttpState::new(
            ingestor.clone(),
            http.token.as_deref(),
            http.concurrency,
        )));
        let stop = stop.clone();
        info!(stage = STAGE, input = "http", %addr, auth = http.token.is_some(), "accepting articles on POST /articles");
        tasks.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.wait())
                .await
                .map_err(|source| ProducerError::Bind { addr, source })
        });
    }
    if let (Some(inbox_config), Some(seen)) = (config.inbox.clone(), seen.clone()) {
        tasks.spawn(inbox::watch(
            inbox_config,
            ingestor.clone(),
            seen,
            stop.clone(),
        ));
    }
    if let (Some(feeds), Some(seen)) = (config.feeds.clone(), seen)
        && !feeds.urls.is_empty()
    {
        let poller = FeedPoller::new(feeds, ingestor.clone(), seen)?;
        let stop = stop.clone();
        tasks.spawn(async move {
            poller.run(stop).await;
            Ok(())
        });
    }
    let mut result = Ok(());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // One input failing stops the others: a half-working producer would hide it.
                result = Err(e);
                drop(stop);
                tasks.abort_all();
                break;
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                result = Err(ProducerError::Config(format!("an input task failed: {e}")));
                tasks.abort_all();
                break;
            }
        }
    }
    // The inputs are done: stop the monitors too (a failed input has not triggered them).
    monitors.abort_all();
    while monitors.join_next().await.is_some() {}
    info!(stage = STAGE, "producer stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening(listen: &str, token: Option<&str>) -> Result<(), ProducerError> {
        let mut config = ProducerConfig::new(NatsArgs::new("nats://127.0.0.1:4222", "news"));
        config.http = Some(HttpConfig::new(
            listen.parse().expect("address"),
            token.map(str::to_owned),
        ));
        config.validate()
    }

    #[test]
    fn articles_are_taken_from_anyone_only_on_a_loopback_address() {
        assert!(listening("127.0.0.1:8080", None).is_ok());
        assert!(listening("[::1]:8080", None).is_ok());
        assert!(listening("0.0.0.0:8080", Some("s3cret")).is_ok());
        for token in [None, Some(""), Some(" \n")] {
            let refused = listening("0.0.0.0:8080", token).expect_err("refused");
            assert!(refused.is_invalid_config(), "{refused}");
            assert!(
                refused.to_string().contains("NEWSWIRE_HTTP_TOKEN"),
                "{refused}"
            );
        }
    }
}
