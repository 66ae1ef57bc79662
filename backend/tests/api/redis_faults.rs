//! What users see when Redis is away: a clear refusal, never a silent drop.

use std::time::Duration;

use protocol::{ErrorCode, ServerFrame};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_sends_are_refused_and_the_instance_is_not_ready() {
    let mut d = Deployment::start(Engine::Redis, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    alice.say_acked("before").await;
    assert_eq!(bob.next_message().await.message, "before");

    let redis = d.redis.as_mut().unwrap();
    let port = redis.port;
    redis.kill();

    let nonce = alice.say("lost?").await;
    loop {
        match alice.next().await {
            ServerFrame::Error { code, nonce: n, .. } => {
                assert_eq!(code, ErrorCode::Unavailable);
                assert_eq!(n.as_deref(), Some(nonce.as_str()));
                break;
            }
            ServerFrame::Ack { .. } => panic!("a send was acked while Redis was down"),
            _ => {}
        }
    }
    let (status, body) = http_get(&d.a().http_url("/readyz")).await.unwrap();
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    // A new connection is refused with a reason rather than left hanging.
    let mut carol = Client::connect(&d.b().ws_url("room", "carol")).await;
    assert!(matches!(
        carol.reply().await,
        ServerFrame::Error {
            code: ErrorCode::Unavailable,
            ..
        }
    ));
    assert_eq!(u16::from(carol.closed().await.unwrap().code), 1013);

    // Redis comes back on the same port: ready again, and chat flows across instances.
    d.redis = Some(RedisServer::start_on(port).await);
    let mut ready = false;
    for _ in 0..50 {
        if matches!(http_get(&d.a().http_url("/readyz")).await, Ok((200, _))) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "instance did not become ready again");
    // The subscriber reconnects with backoff; retry until the message crosses over.
    let mut crossed = false;
    for attempt in 0..20 {
        alice.say_acked(&format!("after {attempt}")).await;
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(500), bob.next_message()).await {
            assert!(m.message.starts_with("after"));
            crossed = true;
            break;
        }
    }
    assert!(
        crossed,
        "messages did not cross instances after Redis came back"
    );
}
