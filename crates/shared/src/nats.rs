//! NATS plumbing: connecting, declaring the streams and durable consumers, and the
//! one place where a consumed message's outcome is decided and recorded.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer, stream};
use bytes::Bytes;
use tracing::{debug, error, info, warn};

use crate::subjects::Subjects;

/// How to reach NATS.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated.
    #[arg(
        id = "nats_url",
        long = "nats-url",
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// Prefix of every subject; stream names are derived from it (`news` -> `NEWS_RAW`, ...).
    #[arg(long, env = "NEWSWIRE_PREFIX", default_value = Subjects::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Replicas of each stream a stage creates (3 on a JetStream cluster; existing streams keep theirs).
    #[arg(long, env = "NEWSWIRE_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
    #[command(flatten)]
    pub auth: NatsAuth,
}

/// Who we are to NATS and how the connection is secured: at most one of user/password, token,
/// NKey seed file and credentials file; TLS with a CA and, for mutual TLS, a client
/// certificate. Secrets are never logged (`Debug` masks them).
#[derive(Clone, Default, clap::Args)]
pub struct NatsAuth {
    /// Connection name shown by `nats server report connections` (default `newswire-<stage>`).
    #[arg(id = "nats_name", long = "nats-name", env = "NEWSWIRE_NATS_NAME")]
    pub name: Option<String>,
    #[arg(
        id = "nats_user",
        long = "nats-user",
        env = "NEWSWIRE_NATS_USER",
        requires = "nats_password"
    )]
    pub user: Option<String>,
    #[arg(
        id = "nats_password",
        long = "nats-password",
        env = "NEWSWIRE_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub password: Option<String>,
    #[arg(id = "nats_token", long = "nats-token", env = "NEWSWIRE_NATS_TOKEN", hide_env_values = true, conflicts_with_all = ["nats_user", "nats_nkey", "nats_creds"])]
    pub token: Option<String>,
    /// File holding an NKey seed (`SU...`).
    #[arg(id = "nats_nkey", long = "nats-nkey", env = "NEWSWIRE_NATS_NKEY", conflicts_with_all = ["nats_user", "nats_creds"])]
    pub nkey: Option<std::path::PathBuf>,
    /// Credentials file (JWT and NKey seed) of a decentralised-auth user.
    #[arg(
        id = "nats_creds",
        long = "nats-creds",
        env = "NEWSWIRE_NATS_CREDS",
        conflicts_with = "nats_user"
    )]
    pub creds: Option<std::path::PathBuf>,
    /// CA certificate (PEM) the server's certificate must chain to; turns TLS on.
    #[arg(id = "nats_tls_ca", long = "nats-tls-ca", env = "NEWSWIRE_NATS_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --nats-tls-key.
    #[arg(
        id = "nats_tls_cert",
        long = "nats-tls-cert",
        env = "NEWSWIRE_NATS_TLS_CERT",
        requires = "nats_tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(
        id = "nats_tls_key",
        long = "nats-tls-key",
        env = "NEWSWIRE_NATS_TLS_KEY",
        requires = "nats_tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("NatsAuth")
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &mask(&self.password))
            .field("token", &mask(&self.token))
            .field("nkey", &self.nkey)
            .field("creds", &self.creds)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

impl NatsAuth {
    /// Checks the settings make one identity. The flags' own rules (a user with a password,
    /// one kind of credential, a certificate with its key) do not see values that come from
    /// the configuration file, so they are checked again here, whatever their source: a user
    /// without a password connected anonymously, a certificate without its key without
    /// client TLS.
    pub fn check(&self) -> Result<(), NatsError> {
        let refuse = |message: &str| Err(NatsError::Auth(message.to_owned()));
        match (&self.user, &self.password) {
            (Some(_), None) => return refuse("a NATS user needs its password (nats password)"),
            (None, Some(_)) => return refuse("a NATS password needs its user (nats user)"),
            _ => {}
        }
        let kinds = [
            self.user.is_some(),
            self.token.is_some(),
            self.nkey.is_some(),
            self.creds.is_some(),
        ];
        if kinds.iter().filter(|&&given| given).count() > 1 {
            return refuse(
                "give one kind of NATS credential: a user and password, a token, an NKey or a credentials file",
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return refuse(
                "a NATS client certificate needs its key and a key its certificate (nats tls_cert, tls_key)",
            );
        }
        Ok(())
    }

    /// Applies the identity and TLS settings to connection options.
    async fn apply(
        &self,
        mut options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, NatsError> {
        self.check()?;
        let file_error = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
            NatsError::Auth(format!("cannot read the {what} {}: {e}", path.display()))
        };
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(path) = &self.nkey {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| file_error("NKey seed file", path, &e))?;
            options = options.nkey(seed.trim().to_owned());
        }
        if let Some(path) = &self.creds {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| file_error("credentials file", path, &e))?;
        }
        if let Some(ca) = &self.tls_ca {
            if !ca.is_file() {
                return Err(file_error("TLS CA", ca, &"no such file"));
            }
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            for (what, path) in [("TLS certificate", cert), ("TLS key", key)] {
                if !path.is_file() {
                    return Err(file_error(what, path, &"no such file"));
                }
            }
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

impl NatsArgs {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            replicas: 1,
            auth: NatsAuth::default(),
        }
    }

    /// Stream settings for the streams a stage creates.
    pub fn stream_settings(&self) -> StreamSettings {
        StreamSettings {
            replicas: usize::from(self.replicas),
            ..StreamSettings::default()
        }
    }

    pub fn subjects(&self) -> Result<Subjects, crate::subjects::InvalidPrefix> {
        Subjects::new(&self.prefix)
    }
}

/// Errors of the NATS plumbing, all with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("invalid NATS URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error(
        "stream {stream} exists but captures {found:?}, not {expected:?}: choose another --prefix or fix the stream"
    )]
    StreamMismatch {
        stream: String,
        found: Vec<String>,
        expected: String,
    },
    #[error("cannot set up stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("cannot set up consumer {consumer} on stream {stream}: {reason}")]
    Consumer {
        stream: String,
        consumer: String,
        reason: String,
    },
    #[error(transparent)]
    Prefix(#[from] crate::subjects::InvalidPrefix),
    #[error("NATS authentication settings: {0}")]
    Auth(String),
}

impl NatsError {
    /// NATS could not be reached, or JetStream did not answer the set-up within its patience
    /// (a server still starting, a cluster without leaders): a deployment problem that a
    /// restart later may get past, not a defect or a configuration to fix (exit 69).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Stream { .. } | Self::Consumer { .. }
        )
    }
}

/// Connects with a connection name (`newswire-<stage>`), reconnecting forever with back-off.
/// A disconnect is logged once at warn level, the reconnect once at info level.
pub async fn connect(args: &NatsArgs, stage: &str) -> Result<async_nats::Client, NatsError> {
    connect_watched(args, stage).await.map(|(client, _)| client)
}

/// Counts the connections a client has made, so that consumers can re-issue their pull
/// requests after a reconnect (the server that answered them may be gone).
#[derive(Debug, Clone)]
pub struct Reconnects(tokio::sync::watch::Receiver<u64>);

impl Reconnects {
    /// A watcher that never fires, for consumers without one.
    pub fn never() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(0);
        std::mem::forget(tx);
        Self(rx)
    }

    /// Marks the current connection as seen.
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Resolves when the client has connected again since the last `mark_seen`.
    pub async fn reconnected(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// [`connect`], also returning a [`Reconnects`] watcher.
pub async fn connect_watched(
    args: &NatsArgs,
    stage: &str,
) -> Result<(async_nats::Client, Reconnects), NatsError> {
    let stage_name = stage.to_owned();
    let (generation_tx, generation_rx) = tokio::sync::watch::channel(0u64);
    let generation_tx = std::sync::Arc::new(generation_tx);
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let name = args
        .auth
        .name
        .clone()
        .unwrap_or_else(|| format!("newswire-{stage}"));
    let options = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .event_callback(move |event| {
            let stage = stage_name.clone();
            let generation = std::sync::Arc::clone(&generation_tx);
            let down = std::sync::Arc::clone(&down);
            async move {
                use std::sync::atomic::Ordering;
                match event {
                    async_nats::Event::Disconnected => {
                        if !down.swap(true, Ordering::SeqCst) {
                            warn!(stage, "nats disconnected, reconnecting with back-off");
                        }
                    }
                    async_nats::Event::Connected => {
                        if down.swap(false, Ordering::SeqCst) {
                            info!(stage, "nats reconnected");
                        } else {
                            debug!(stage, "nats connected");
                        }
                        generation.send_modify(|g| *g += 1);
                    }
                    async_nats::Event::SlowConsumer(sid) => {
                        warn!(stage, sid, "nats slow consumer")
                    }
                    async_nats::Event::Closed => debug!(stage, "nats connection closed"),
                    async_nats::Event::Draining => debug!(stage, "nats connection draining"),
                    // Each failed reconnect attempt reports an error: the disconnect said it.
                    async_nats::Event::ClientError(e) if down.load(Ordering::SeqCst) => {
                        debug!(stage, error = %e, "nats reconnect attempt failed")
                    }
                    other => warn!(stage, event = %other, "nats event"),
                }
            }
        });
    let options = args.auth.apply(options).await?;
    let mut servers = Vec::new();
    for url in args.url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        servers.push(
            url.parse::<async_nats::ServerAddr>()
                .map_err(|e| NatsError::Url {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?,
        );
    }
    let client = async_nats::connect_with_options(servers, options)
        .await
        .map_err(|source| NatsError::Connect {
            url: args.url.clone(),
            source,
        })?;
    Ok((client, Reconnects(generation_rx)))
}

/// The streams of a deployment, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Raw,
    Tagged,
    DeadLetter,
}

/// Stream settings every stage agrees on.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How long events are kept for replay.
    pub max_age: Duration,
    /// Window in which a repeated `Nats-Msg-Id` is dropped by the server.
    pub duplicate_window: Duration,
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
        }
    }
}

/// Creates each stream that does not exist yet, and checks that an existing one
/// captures the subjects this deployment uses. Idempotent; every stage calls it at start-up.
pub async fn ensure_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    kinds: &[StreamKind],
    settings: &StreamSettings,
) -> Result<(), NatsError> {
    for kind in kinds {
        let (name, filter, description) = match kind {
            StreamKind::Raw => (
                subjects.raw_stream(),
                subjects.raw_all(),
                "newswire raw sentence events",
            ),
            StreamKind::Tagged => (
                subjects.tagged_stream(),
                subjects.tagged_all(),
                "newswire tagged events",
            ),
            StreamKind::DeadLetter => (
                subjects.dlq_stream(),
                subjects.dlq_all(),
                "newswire dead letters",
            ),
        };
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![filter.clone()],
            description: Some(description.to_owned()),
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: settings.max_age,
            duplicate_window: settings.duplicate_window,
            num_replicas: settings.replicas,
            ..Default::default()
        };
        let mut stream = js
            .get_or_create_stream(config)
            .await
            .map_err(|e| NatsError::Stream {
                stream: name.clone(),
                reason: e.to_string(),
            })?;
        let info = stream.info().await.map_err(|e| NatsError::Stream {
            stream: name.clone(),
            reason: e.to_string(),
        })?;
        if !info.config.subjects.iter().any(|s| s == &filter) {
            return Err(NatsError::StreamMismatch {
                stream: name,
                found: info.config.subjects.clone(),
                expected: filter,
            });
        }
        debug!(stream = %name, "stream ready");
    }
    Ok(())
}

/// Delivery settings of a stage's durable pull consumer.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Durable name; replicas of a stage share it and so share the work.
    pub durable: String,
    pub filter_subject: String,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Deliveries before a message that keeps failing transiently is dead-lettered.
    pub max_deliver: i64,
    /// Unacked messages the server lets this consumer hold: the backpressure bound.
    pub max_ack_pending: i64,
}

/// Deliveries the server allows beyond `max_deliver`. The stage dead-letters a message at its
/// `max_deliver`-th delivery; if that dead letter cannot be written, the message is nak'ed, and
/// had the server stopped at `max_deliver` it would never come back: it would be lost without
/// a dead letter.
pub const DEAD_LETTER_DELIVERIES: i64 = 5;

impl ConsumerSettings {
    /// The consumer's `max_deliver` on the server: the stage's, plus
    /// [`DEAD_LETTER_DELIVERIES`] for writing the dead letter; unlimited stays unlimited.
    pub fn server_max_deliver(&self) -> i64 {
        if self.max_deliver > 0 {
            self.max_deliver.saturating_add(DEAD_LETTER_DELIVERIES)
        } else {
            -1
        }
    }

    /// Redelivery delays after ack-wait timeouts: the ack wait, then doubling, capped at five
    /// minutes; shorter than `max_deliver` as the server requires.
    pub fn backoff(&self) -> Vec<Duration> {
        let steps = usize::try_from(self.max_deliver.saturating_sub(1))
            .unwrap_or(0)
            .min(5);
        (1..=steps)
            .map(|n| retry_delay(self.ack_wait, n as i64))
            .collect()
    }
}

impl ConsumerSettings {
    pub fn new(durable: impl Into<String>, filter_subject: impl Into<String>) -> Self {
        Self {
            durable: durable.into(),
            filter_subject: filter_subject.into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 10,
            max_ack_pending: 1024,
        }
    }
}

/// Creates the durable pull consumer if it does not exist, else binds to it.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    stream_name: &str,
    settings: &ConsumerSettings,
) -> Result<consumer::PullConsumer, NatsError> {
    let err = |reason: String| NatsError::Consumer {
        stream: stream_name.to_owned(),
        consumer: settings.durable.clone(),
        reason,
    };
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| err(e.to_string()))?;
    let config = consumer::pull::Config {
        durable_name: Some(settings.durable.clone()),
        description: Some(format!("newswire {}", settings.durable)),
        filter_subject: settings.filter_subject.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_deliver: settings.server_max_deliver(),
        max_ack_pending: settings.max_ack_pending,
        backoff: settings.backoff(),
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    };
    let mut consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(&settings.durable, config.clone())
        .await
        .map_err(|e| err(e.to_string()))?;
    // An existing consumer keeps the settings it was created with: bring the ones newswire
    // configures up to date (a create-or-update of the same durable), so a changed
    // --ack-wait-secs, --max-deliver or --max-ack-pending takes effect at the next start.
    let current = &consumer.cached_info().config;
    if current.ack_wait != config.ack_wait
        || current.max_deliver != config.max_deliver
        || current.max_ack_pending != config.max_ack_pending
        || current.backoff != config.backoff
    {
        match stream.create_consumer(config).await {
            Ok(updated) => {
                info!(stream = %stream_name, durable = %settings.durable, "consumer settings updated");
                consumer = updated;
            }
            Err(e) => {
                warn!(stream = %stream_name, durable = %settings.durable, error = %e, "consumer settings differ from the configuration and could not be updated; edit it with `nats consumer edit`")
            }
        }
    }
    Ok(consumer)
}

/// How long a stage keeps trying to declare its streams and consumer at start-up while the
/// server cannot answer (starting, or a cluster still electing its leaders).
const SETUP_PATIENCE: Duration = Duration::from_secs(60);

/// Declares the streams a stage uses and its durable consumer, retrying with back-off for up
/// to a minute while JetStream is unavailable. A stream that exists with other subjects is an
/// error at once.
pub async fn setup_consumer(
    js: &jetstream::Context,
    subjects: &Subjects,
    kinds: &[StreamKind],
    stream_settings: &StreamSettings,
    stream_name: &str,
    consumer_settings: &ConsumerSettings,
    stage: &str,
) -> Result<consumer::PullConsumer, NatsError> {
    patiently(stage, || async {
        ensure_streams(js, subjects, kinds, stream_settings).await?;
        ensure_consumer(js, stream_name, consumer_settings).await
    })
    .await
}

/// [`ensure_streams`] with the same patience as [`setup_consumer`].
pub async fn setup_streams(
    js: &jetstream::Context,
    subjects: &Subjects,
    kinds: &[StreamKind],
    stream_settings: &StreamSettings,
    stage: &str,
) -> Result<(), NatsError> {
    patiently(stage, || {
        ensure_streams(js, subjects, kinds, stream_settings)
    })
    .await
}

async fn patiently<T, F, Fut>(stage: &str, attempt: F) -> Result<T, NatsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, NatsError>>,
{
    with_setup_patience(
        stage,
        |e| matches!(e, NatsError::Stream { .. } | NatsError::Consumer { .. }),
        attempt,
    )
    .await
}

/// Runs `attempt` until it succeeds, fails with an error `retryable` does not accept, or a
/// minute has passed, with back-off: for set-up at start-up that a server still starting, or a
/// cluster still electing its leaders, cannot answer yet.
pub async fn with_setup_patience<T, E, F, Fut>(
    stage: &str,
    retryable: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + SETUP_PATIENCE;
    let mut delay = Duration::from_millis(250);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if retryable(&e) && tokio::time::Instant::now() + delay < deadline => {
                warn!(stage, error = %e, retry_ms = delay.as_millis() as u64, "JetStream not ready, retrying set-up");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What to do with a consumed message, decided by the stage logic.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Its result is safely published or stored: acknowledge it.
    Ack,
    /// A transient failure (store or broker unavailable): redeliver after `delay`.
    Retry { delay: Duration, reason: String },
    /// Poison: it can never succeed. Copy it to the dead-letter stream, then terminate it.
    DeadLetter { reason: String },
}

/// Whether looking up (or deleting) a stream failed because the stream is not there, rather
/// than for any other reason.
pub fn stream_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref j)
        if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// Longest wait before a message that failed for a transient reason is redelivered.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// The wait before redelivering a message that failed transiently for the `deliveries`th time:
/// the stage's delay, doubled with each delivery, at most [`MAX_RETRY_DELAY`]. A store or
/// broker outage thus spends a message's deliveries slowly: with a 5 s delay and the default 10
/// deliveries, about 20 minutes pass before it is dead-lettered (a higher `--max-deliver`
/// tolerates longer outages: each further delivery adds 5 minutes).
pub fn retry_delay(delay: Duration, deliveries: i64) -> Duration {
    let doublings = u32::try_from(deliveries.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    delay.saturating_mul(1u32 << doublings).min(MAX_RETRY_DELAY)
}

/// Header names on dead letters.
pub mod dlq_headers {
    pub const STAGE: &str = "Newswire-Stage";
    pub const ERROR: &str = "Newswire-Error";
    pub const DELIVERIES: &str = "Newswire-Deliveries";
    pub const SUBJECT: &str = "Newswire-Original-Subject";
    pub const STREAM: &str = "Newswire-Original-Stream";
    pub const SEQUENCE: &str = "Newswire-Original-Sequence";
    pub const EVENT_ID: &str = "Newswire-Event-Id";
    /// Set when the original payload was cut to fit the server's max payload: its size in bytes.
    pub const TRUNCATED: &str = "Newswire-Truncated";
}

/// Carries out decisions for one stage: the single place that acks, naks, terms and
/// dead-letters, and that logs and counts each outcome.
#[derive(Debug, Clone)]
pub struct Settler {
    js: jetstream::Context,
    stage: &'static str,
    dlq_subject: String,
    max_deliver: i64,
}

impl Settler {
    pub fn new(
        js: jetstream::Context,
        subjects: &Subjects,
        stage: &'static str,
        max_deliver: i64,
    ) -> Self {
        Self {
            js,
            stage,
            dlq_subject: subjects.dlq(stage),
            max_deliver,
        }
    }

    /// How often `message` has been delivered, when that is more than the stage allows: a
    /// message the stage settles is dead-lettered by its last allowed delivery at the latest,
    /// so one delivered again was never settled, or its dead letter not written.
    pub fn overdelivered(&self, message: &jetstream::Message) -> Option<i64> {
        let deliveries = message.info().ok()?.delivered;
        (self.max_deliver > 0 && deliveries > self.max_deliver).then_some(deliveries)
    }

    /// Settles one message. `event_id` is the message's event id where it could be read.
    pub async fn settle(
        &self,
        message: &jetstream::Message,
        decision: Decision,
        event_id: Option<&str>,
    ) {
        let stage = self.stage;
        let event_id = event_id.unwrap_or("-");
        let deliveries = message.info().map(|i| i.delivered).unwrap_or(1);
        let decision = match decision {
            Decision::Retry { reason, .. } if deliveries >= self.max_deliver => {
                Decision::DeadLetter {
                    reason: format!("gave up after {deliveries} deliveries: {reason}"),
                }
            }
            other => other,
        };
        if deliveries > 1 {
            metrics::counter!("newswire_redelivered_total", "stage" => stage).increment(1);
        }
        match decision {
            Decision::Ack => {
                if let Err(e) = reply(message, AckKind::Ack).await {
                    warn!(stage, event_id, outcome = "ack_failed", error = %e, "ack not sent, the message will be redelivered");
                    return;
                }
                metrics::counter!("newswire_messages_total", "stage" => stage, "outcome" => "ack")
                    .increment(1);
            }
            Decision::Retry { delay, reason } => {
                let delay = retry_delay(delay, deliveries);
                warn!(stage, event_id, outcome = "retry", deliveries, delay_ms = delay.as_millis() as u64, reason = %reason, "transient failure, redelivering later");
                if let Err(e) = reply(message, AckKind::Nak(Some(delay))).await {
                    warn!(stage, event_id, error = %e, "nak not sent, the message will be redelivered after ack wait");
                }
                metrics::counter!("newswire_messages_total", "stage" => stage, "outcome" => "retry")
                    .increment(1);
            }
            Decision::DeadLetter { reason } => {
                match self
                    .dead_letter(message, &reason, event_id, deliveries)
                    .await
                {
                    Ok(()) => {
                        error!(stage, event_id, outcome = "dead_letter", deliveries, subject = %message.subject, reason = %reason, "message dead-lettered and terminated");
                        if let Err(e) = reply(message, AckKind::Term).await {
                            warn!(stage, event_id, error = %e, "term not sent, the message will be redelivered and dead-lettered again");
                        }
                        metrics::counter!("newswire_messages_total", "stage" => stage, "outcome" => "dead_letter")
                            .increment(1);
                    }
                    Err(e) => {
                        error!(stage, event_id, outcome = "retry", reason = %reason, error = %e, "dead-letter stream unavailable, redelivering later");
                        let _ = reply(message, AckKind::Nak(Some(Duration::from_secs(5)))).await;
                        metrics::counter!("newswire_messages_total", "stage" => stage, "outcome" => "retry")
                            .increment(1);
                    }
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        reason: &str,
        event_id: &str,
        deliveries: i64,
    ) -> Result<(), async_nats::Error> {
        let mut headers = HeaderMap::new();
        headers.insert(dlq_headers::STAGE, self.stage);
        // Header values are single lines.
        headers.insert(
            dlq_headers::ERROR,
            reason.replace(['\r', '\n'], " ").as_str(),
        );
        headers.insert(dlq_headers::DELIVERIES, deliveries.to_string().as_str());
        headers.insert(dlq_headers::SUBJECT, message.subject.as_str());
        headers.insert(dlq_headers::EVENT_ID, event_id);
        if let Ok(info) = message.info() {
            headers.insert(dlq_headers::STREAM, info.stream);
            headers.insert(
                dlq_headers::SEQUENCE,
                info.stream_sequence.to_string().as_str(),
            );
            // A message dead-lettered again (redelivered before its term reached the server,
            // or its term lost) is dropped by the dead-letter stream's duplicate window.
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!(
                    "dlq-{}-{}-{}",
                    self.stage, info.stream, info.stream_sequence
                )
                .as_str(),
            );
        }
        let mut payload: Bytes = message.payload.clone();
        // Leave room for the headers: a dead letter must always fit.
        let room = (self.js.client().server_info().max_payload).saturating_sub(8 * 1024);
        if payload.len() > room {
            headers.insert(dlq_headers::TRUNCATED, payload.len().to_string().as_str());
            payload = payload.slice(..room);
        }
        self.js
            .publish_with_headers(self.dlq_subject.clone(), headers, payload)
            .await?
            .await?;
        Ok(())
    }
}

/// How long sending an ack, nak or term may wait. The send only queues the reply for the
/// client's connection; while the client reconnects its queue is not read, and a stage
/// settling a backlog would fill it and then wait for as long as the broker is away. The
/// message is redelivered after its ack wait instead.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends `kind` for `message`, within [`REPLY_TIMEOUT`].
async fn reply(message: &jetstream::Message, kind: AckKind) -> Result<(), async_nats::Error> {
    match tokio::time::timeout(REPLY_TIMEOUT, message.ack_with(kind)).await {
        Ok(sent) => sent,
        Err(_) => Err(format!(
            "not queued within {} s: the connection is down",
            REPLY_TIMEOUT.as_secs()
        )
        .into()),
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    /// Settings that make no single identity are refused, wherever they came from.
    #[test]
    fn auth_settings_must_make_one_identity() {
        let auth = |f: fn(&mut NatsAuth)| {
            let mut auth = NatsAuth::default();
            f(&mut auth);
            auth.check()
        };
        assert!(auth(|_| {}).is_ok());
        assert!(
            auth(|a| {
                a.user = Some("sink".into());
                a.password = Some("pw".into());
            })
            .is_ok()
        );
        assert!(auth(|a| a.token = Some("t".into())).is_ok());
        assert!(
            auth(|a| a.user = Some("sink".into())).is_err(),
            "no password"
        );
        assert!(auth(|a| a.password = Some("pw".into())).is_err(), "no user");
        assert!(
            auth(|a| {
                a.user = Some("sink".into());
                a.password = Some("pw".into());
                a.token = Some("t".into());
            })
            .is_err(),
            "two kinds"
        );
        assert!(
            auth(|a| a.tls_cert = Some("client.pem".into())).is_err(),
            "a certificate without its key"
        );
        assert!(
            auth(|a| a.tls_key = Some("client.key".into())).is_err(),
            "a key without its certificate"
        );
    }

    /// Set-up that JetStream did not answer within its patience exits 69 (restart later);
    /// what a restart cannot fix does not.
    #[test]
    fn set_up_failures_are_unavailable_and_configuration_is_not() {
        let stream = NatsError::Stream {
            stream: "NEWS_RAW".into(),
            reason: "timed out".into(),
        };
        let consumer = NatsError::Consumer {
            stream: "NEWS_RAW".into(),
            consumer: "classifier".into(),
            reason: "no leader".into(),
        };
        let mismatch = NatsError::StreamMismatch {
            stream: "NEWS_RAW".into(),
            found: vec!["other.>".into()],
            expected: "news.raw.>".into(),
        };
        let url = NatsError::Url {
            url: "nats://".into(),
            reason: "no host".into(),
        };
        assert!(stream.is_unavailable() && consumer.is_unavailable());
        assert!(!mismatch.is_unavailable() && !url.is_unavailable());
        assert!(!NatsError::Auth("two kinds of credentials".into()).is_unavailable());
    }

    #[test]
    fn retry_delays_double_with_each_delivery_up_to_five_minutes() {
        let base = Duration::from_secs(5);
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(base, n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
        assert_eq!(retry_delay(base, 0), base);
        assert_eq!(retry_delay(base, 1_000), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(Duration::from_secs(600), 1), MAX_RETRY_DELAY);
    }
}
