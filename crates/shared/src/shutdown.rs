//! Shutdown signals: the first SIGTERM or Ctrl-C starts an orderly shutdown, a second exits at once.

use tracing::{info, warn};

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on, in a task of its own, and returns a
/// future that resolves on the first one. A second signal exits the process at once with status
/// 130, even while the stage is busy finishing its batch. Call it inside the runtime.
pub fn signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    let (trigger, shutdown) = channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutdown signal received, finishing in-flight work (signal again to exit at once)");
        trigger.trigger();
        wait_for_signal().await;
        warn!("second shutdown signal, exiting now");
        std::process::exit(130);
    });
    shutdown.wait()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM, only Ctrl-C stops the process");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A shutdown switch for in-process stages: `trigger()` once, every `Shutdown` clone resolves.
#[derive(Debug)]
pub struct Trigger(tokio::sync::watch::Sender<bool>);

/// The receiving side of a [`Trigger`].
#[derive(Debug, Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

/// A linked trigger and shutdown future source.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Whether the trigger has fired (or been dropped), for loops that check between steps.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once the trigger fires (or is dropped).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
