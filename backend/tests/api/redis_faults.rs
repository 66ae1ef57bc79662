//! Redis goes away and comes back: a clear refusal while it is away, never a silent drop,
//! and afterwards either a gap-free continuation (data kept) or a clear `recovered: false`
//! (data lost).

use std::time::Duration;

use protocol::{ErrorCode, MessageId, ServerFrame};
use tokio::io::AsyncReadExt;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_without_persistence_is_signalled_not_silent() {
    let mut d = Deployment::start(Engine::Redis, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    alice.say_acked("before").await;
    let last_seen = bob.next_message().await.id;

    d.redis.as_mut().unwrap().kill();
    refused_while_down(&d, &mut alice).await;

    d.redis.as_mut().unwrap().restart().await;
    wait_until_ready(d.a()).await;
    // History is gone: both are told to resume, and resuming says what happened.
    for client in [&mut alice, &mut bob] {
        let close = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1013);
    }
    let (mut bob, welcome) = Client::join(&format!(
        "{}?since={last_seen}",
        d.b().ws_url("room", "bob")
    ))
    .await;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            recovered: false,
            ..
        }
    ));
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice.say_acked("after").await;
    assert_eq!(bob.next_message().await.message, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_persistence_continues_without_a_gap() {
    let data = tempdir();
    let redis = RedisServer::start_on(stable_port(), Some(data.clone())).await;
    let url = redis.url();
    let mut d = Deployment {
        instances: vec![
            TestApp::spawn(Some(&url), &[]),
            TestApp::spawn(Some(&url), &[]),
        ],
        redis: Some(redis),
        cluster: None,
    };
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let before = alice.say_acked("before").await;
    assert_eq!(bob.next_message().await.message, "before");

    d.redis.as_mut().unwrap().kill();
    refused_while_down(&d, &mut alice).await;
    d.redis.as_mut().unwrap().restart().await;
    wait_until_ready(d.a()).await;
    wait_until_ready(d.b()).await;

    // Same connections, no close: the next message simply arrives, once, after "before".
    let after = alice.say_acked("after").await;
    let got = bob.next_message().await;
    assert_eq!(
        (got.message.as_str(), got.id.to_string()),
        ("after", after.clone())
    );
    assert!(before.parse::<MessageId>().unwrap() < after.parse::<MessageId>().unwrap());
    bob.expect_no_message(Duration::from_millis(300)).await;
    let _ = std::fs::remove_dir_all(data);
}

/// While Redis is down: sends get `unavailable` with their nonce, `/readyz` is 503, and a
/// new connection is refused with a reason (1013) rather than left hanging.
async fn refused_while_down(d: &Deployment, alice: &mut Client) {
    let nonce = alice.say("lost?").await;
    loop {
        match alice.reply().await {
            ServerFrame::Error { code, nonce: n, .. } => {
                assert_eq!(code, ErrorCode::Unavailable);
                assert_eq!(n.as_deref(), Some(nonce.as_str()));
                break;
            }
            ServerFrame::Message(m) if m.message != "lost?" => {}
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    let (status, body) = http_get(&d.a().http_url("/readyz")).await.unwrap();
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    let mut carol = Client::connect(&d.b().ws_url("room", "carol")).await;
    assert!(matches!(
        carol.reply().await,
        ServerFrame::Error {
            code: ErrorCode::Unavailable,
            ..
        }
    ));
    assert_eq!(u16::from(carol.closed().await.unwrap().code), 1013);
}

/// `/readyz` is public: while Redis is down it answers a fixed reason, never Redis' own
/// error text (which names hosts, ports and versions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_tells_a_fixed_reason_not_the_redis_error() {
    let mut redis = RedisServer::start().await;
    let app = TestApp::spawn(Some(&redis.url()), &[]);
    wait_until_ready(&app).await;
    redis.kill();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let body = loop {
        match http_get_text(&app.http_url("/readyz")).await.unwrap() {
            (503, body) => break body,
            _ if tokio::time::Instant::now() > deadline => panic!("/readyz stayed ready"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "status": "unavailable",
            "message": "the message store is unavailable; see the backend's logs",
        }),
        "{body}"
    );
    for leak in ["refused", "error", "127.0.0.1", &redis.port.to_string()] {
        assert!(!body.to_lowercase().contains(leak), "{leak:?} in {body}");
    }
}

/// The cause goes to the log instead, once when it starts (not once per probe) and once
/// when it clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_logs_the_cause_once_per_change_not_per_probe() {
    let mut redis = RedisServer::start().await;
    let (port, mut backend) = logging_backend(&redis.url()).await;
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    redis.kill();
    let mut refused = 0;
    while refused < 20 {
        if let Ok((503, _)) = http_get(&readyz).await {
            refused += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis.restart().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !matches!(http_get(&readyz).await, Ok((200, _))) {
        assert!(tokio::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    backend.start_kill().unwrap();
    let mut logs = String::new();
    backend
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    let not_ready: Vec<&str> = logs.lines().filter(|l| l.contains("Not ready")).collect();
    // Redis down, then possibly the pub/sub connection still down after it came back.
    assert!(
        (1..=2).contains(&not_ready.len()),
        "{refused} refused probes logged {} times:\n{logs}",
        not_ready.len()
    );
    assert!(not_ready[0].contains(r#""error":""#), "{}", not_ready[0]);
    assert_eq!(logs.matches("Ready again").count(), 1, "{logs}");
}

/// The backend binary on `redis_url`, logging `/readyz`'s lines as JSON to a pipe; ready.
async fn logging_backend(redis_url: &str) -> (u16, tokio::process::Child) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
            .env("PORT", port.to_string())
            .env("METRICS_PORT", "0")
            .env("REDIS_URL", redis_url)
            .env("REDIS_TIMEOUT_SECS", "1")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "backend::routes::readiness_log=info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("backend binary");
        for _ in 0..100 {
            if child.try_wait().unwrap().is_some() {
                break; // the port was taken meanwhile
            }
            if let Ok((200, _)) = http_get(&format!("http://127.0.0.1:{port}/readyz")).await {
                return (port, child);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("no backend process became ready");
}

pub async fn wait_until_ready(app: &TestApp) {
    for _ in 0..100 {
        if matches!(http_get(&app.http_url("/readyz")).await, Ok((200, _))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance did not become ready again");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-redis-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
