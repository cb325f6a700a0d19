//! The private nats-servers the tests, the demo and the benchmark start.

use newswire_shared::local_server::NatsServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_reported_with_the_servers_log_and_another_port_is_tried() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Another process holds the port.
    let holder = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("binds");
    let port = holder.local_addr().expect("address").port();
    let e = NatsServerProcess::start("127.0.0.1", port, &dir.path().join("taken"), &[])
        .await
        .expect_err("the port is taken");
    assert!(e.is_port_taken(), "{e}");
    let message = e.to_string();
    assert!(message.contains("exited before it was ready"), "{message}");
    assert!(message.contains("address already in use"), "{message}");

    let mut server =
        NatsServerProcess::start_on_free_port("127.0.0.1", &dir.path().join("free"), &[])
            .await
            .expect("starts on a free port");
    assert!(!server.url().ends_with(&format!(":{port}")));
    server.stop().await;
}

#[tokio::test]
async fn a_port_held_by_another_nats_server_is_not_taken_for_this_one() {
    // Parallel tests each start their own server: one that finds its port taken by another's
    // must fail (and try another port), not report the other server as its own.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut other =
        NatsServerProcess::start_on_free_port("127.0.0.1", &dir.path().join("other"), &[])
            .await
            .expect("the other server starts");
    let e = NatsServerProcess::start("127.0.0.1", other.port, &dir.path().join("late"), &[])
        .await
        .expect_err("the port is the other server's");
    assert!(e.is_port_taken(), "{e}");
    other.stop().await;
}
