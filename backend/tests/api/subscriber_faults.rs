//! Only the subscriber connection breaks while Redis stays up (cut, or hung without an
//! error): the instance reconnects, backfills what its clients missed, and they see every
//! message once, in order.

use std::time::{Duration, Instant};

use crate::{helpers::*, proxy::Proxy};

/// Instance A reaches Redis through a proxy the test can break; instance B directly.
async fn setup() -> (RedisServer, Proxy, TestApp, TestApp) {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(vec![([127, 0, 0, 1], redis.port).into()]).await;
    let via_proxy = format!("redis://127.0.0.1:{}", proxy.port);
    let fast_ping = [("SUBSCRIBER_PING_SECS", "1")];
    let a = TestApp::spawn(Some(&via_proxy), &fast_ping);
    let b = TestApp::spawn(Some(&redis.url()), &fast_ping);
    (redis, proxy, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_subscriber_backfills_what_its_clients_missed() {
    let (_redis, proxy, a, b) = setup().await;
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    bob.say_acked("m0").await;
    assert_eq!(alice.next_message().await.message, "m0");

    proxy.refuse(true);
    proxy.cut();
    let mut not_ready = false;
    for _ in 0..50 {
        if matches!(http_get(&a.http_url("/readyz")).await, Ok((503, _))) {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        not_ready,
        "an instance without its subscriber must not be ready"
    );
    for i in 1..=5 {
        bob.say_acked(&format!("m{i}")).await;
    }
    alice.expect_no_message(Duration::from_millis(300)).await;

    proxy.refuse(false);
    let missed = alice.messages(5).await;
    assert_eq!(texts(&missed), ["m1", "m2", "m3", "m4", "m5"]);
    bob.say_acked("m6").await;
    assert_eq!(alice.next_message().await.message, "m6");
    alice.expect_no_message(Duration::from_millis(300)).await;
    assert_eq!(
        metric(a.metrics_port, "chat_redis_reconnects_total").await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_subscriber_is_detected_by_ping_and_backfilled() {
    let (_redis, proxy, a, b) = setup().await;
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    bob.say_acked("m0").await;
    assert_eq!(alice.next_message().await.message, "m0");

    // The socket stays open but nothing crosses it any more: no error will ever come.
    proxy.hang();
    let hung_at = Instant::now();
    for i in 1..=3 {
        bob.say_acked(&format!("m{i}")).await;
    }
    let missed = alice.messages(3).await;
    assert_eq!(texts(&missed), ["m1", "m2", "m3"]);
    assert!(
        hung_at.elapsed() < Duration::from_secs(5),
        "took {:?} to notice",
        hung_at.elapsed()
    );
    bob.say_acked("m4").await;
    assert_eq!(alice.next_message().await.message, "m4");
    alice.expect_no_message(Duration::from_millis(300)).await;
}
