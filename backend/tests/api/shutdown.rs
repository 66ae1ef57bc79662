//! Stopping an instance: clients are told to reconnect elsewhere (1012), the process exits
//! within Cloud Run's 10 s grace.

use std::time::{Duration, Instant};

use crate::{helpers::*, on_every_engine};

on_every_engine!(stopping_closes_every_websocket_with_1012);

async fn stopping_closes_every_websocket_with_1012(engine: Engine) {
    let mut d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.a().ws_url("other", "bob")).await;
    let started = Instant::now();
    d.instances[0].stop().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    for client in [&mut alice, &mut bob] {
        let close = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1012);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_clients_with_1012_and_exits_in_time() {
    let mut backend = BackendProcess::start(&[]).await;
    let (mut alice, _) = Client::join(&backend.ws_url("room", "alice")).await;
    alice.say_acked("hello").await;

    let pid = backend.pid().to_string();
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1012);
    let status = tokio::time::timeout(Duration::from_secs(10), backend.wait())
        .await
        .expect("backend did not exit within 10 s");
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Clients of a stopping instance are closed in batches over the spread window, not all in
/// the same millisecond (they would all reconnect at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_clients_in_batches() {
    let mut d = Deployment::start(Engine::Embedded, &[("SHUTDOWN_SPREAD_MS", "1000")]).await;
    let mut waiting = Vec::new();
    for i in 0..40 {
        let (mut client, _) = Client::join(&d.a().ws_url("room", &format!("c{i}"))).await;
        waiting.push(tokio::spawn(async move {
            let close = client.closed().await.expect("a close frame");
            (u16::from(close.code), Instant::now())
        }));
    }
    let started = Instant::now();
    d.instances[0].stop().await;
    let mut closed_at = Vec::new();
    for task in waiting {
        let (code, at) = task.await.unwrap();
        assert_eq!(code, 1012);
        closed_at.push(at);
    }
    let first = closed_at.iter().min().unwrap();
    let last = closed_at.iter().max().unwrap();
    assert!(
        last.duration_since(*first) >= Duration::from_millis(600),
        "closes were not spread: {:?}",
        last.duration_since(*first)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Connections leave before a platform request timeout would cut them: after at most
/// `CONNECTION_MAX_AGE_SECS` (in its last tenth), with 1012 so the client resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_connections_are_retired_before_the_request_timeout() {
    let d = Deployment::start(Engine::Embedded, &[("CONNECTION_MAX_AGE_SECS", "1")]).await;
    let started = Instant::now();
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1012);
    let age = started.elapsed();
    assert!(
        age >= Duration::from_millis(850) && age < Duration::from_millis(1500),
        "{age:?}"
    );
}
