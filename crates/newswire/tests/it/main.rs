//! Tests of the `newswire` binary itself, against real nats-server processes.

mod commands;
mod faults;
#[cfg(feature = "otel")]
mod otel;
mod services;

use std::process::Output;

use tokio::process::Command;

/// The binary under test, with a private subject prefix.
pub fn newswire(prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newswire"));
    command
        .env("NEWSWIRE_PREFIX", prefix)
        .env_remove("NATS_URL")
        .env_remove("NEWSWIRE_STORE")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// Sends SIGTERM to a running child.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// SIGTERM, then the service must exit 0 within `timeout`.
pub async fn stop_gracefully(child: &mut tokio::process::Child, timeout: std::time::Duration) {
    sigterm(child);
    let status = tokio::time::timeout(timeout, child.wait())
        .await
        .expect("stops in time")
        .expect("exits");
    assert_eq!(status.code(), Some(0));
}

pub async fn output(command: &mut Command) -> Output {
    tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .expect("command finishes within 120s")
        .expect("command runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
