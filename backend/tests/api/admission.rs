//! One client cannot take every connection slot, nor refresh its send budget by reconnecting.
//! These limits are per instance and do not depend on the bus: they run on the embedded one.

use std::time::Duration;

use protocol::{ErrorCode, ServerFrame};

use crate::helpers::*;

/// Connects until admitted again (a closed connection's slot is given back after its cleanup).
async fn admitted_again(url: &str, headers: &[(&str, &str)]) -> Client {
    for _ in 0..50 {
        if let Ok(client) = Client::try_connect(url, headers).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never admitted again to {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_id_cannot_take_every_connection() {
    let d = Deployment::start(Engine::Embedded, &[("MAX_CONNECTIONS_PER_CLIENT", "2")]).await;
    let (_one, _) = Client::join(&d.a().ws_url("room-1", "greedy")).await;
    let (two, _) = Client::join(&d.a().ws_url("room-2", "greedy")).await;
    let refused = Client::try_connect(&d.a().ws_url("room-3", "greedy"), &[])
        .await
        .err()
        .expect("a third connection of one client id was accepted");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"], "too_many_connections_for_client");
    // Others are still welcome, and the client gets its slot back when one closes.
    let (_other, _) = Client::join(&d.a().ws_url("room-3", "modest")).await;
    two.close().await;
    admitted_again(&d.a().ws_url("room-3", "greedy"), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection_and_x_forwarded_for_counts_only_behind_a_proxy() {
    let direct = Deployment::start(Engine::Embedded, &[("MAX_CONNECTIONS_PER_ADDRESS", "2")]).await;
    let url = |client: &str| direct.a().ws_url("room", client);
    let _one = Client::connect(&url("c1")).await;
    let two = Client::try_connect(&url("c2"), &[("x-forwarded-for", "198.51.100.1")])
        .await
        .expect("a second connection");
    // Not behind a proxy, the header is the client's say-so: the socket's address counts.
    let refused = Client::try_connect(&url("c3"), &[("x-forwarded-for", "198.51.100.2")])
        .await
        .err()
        .expect("a third connection from one address was accepted");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"], "too_many_connections_from_address");
    two.close().await;
    admitted_again(&url("c3"), &[]).await;

    let proxied = Deployment::start(
        Engine::Embedded,
        &[
            ("MAX_CONNECTIONS_PER_ADDRESS", "2"),
            ("TRUSTED_PROXY_HOPS", "1"),
        ],
    )
    .await;
    let url = |client: &str| proxied.a().ws_url("room", client);
    // The proxy appends the address it saw; what a client put in front of it does not count.
    let from = |spoofed: &'static str| [("x-forwarded-for", spoofed)];
    let _one = Client::try_connect(&url("c1"), &from("10.1.1.1, 203.0.113.7"))
        .await
        .expect("first");
    let _two = Client::try_connect(&url("c2"), &from("10.2.2.2, 203.0.113.7"))
        .await
        .expect("second");
    let refused = Client::try_connect(&url("c3"), &from("10.3.3.3, 203.0.113.7"))
        .await
        .err()
        .expect("a third connection from one forwarded address was accepted");
    assert_eq!(refused.status, 429);
    // Another address behind the same proxy (the same socket peer here) is welcome.
    Client::try_connect(&url("c4"), &from("203.0.113.8"))
        .await
        .expect("another forwarded address was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_does_not_refill_the_send_budget() {
    let d = Deployment::start(
        Engine::Embedded,
        &[("RATE_LIMIT_PER_SEC", "0.1"), ("RATE_LIMIT_BURST", "5")],
    )
    .await;
    let mut accepted = 0;
    // Each connection spends what it can; the budget is the client id's, not the socket's
    // (it refills by one send every 10 s, far slower than this test).
    for _ in 0..4 {
        let (mut flooder, _) = Client::join(&d.a().ws_url("room", "flooder")).await;
        for i in 0..5 {
            flooder.say(&format!("m{i}")).await;
        }
        let mut answered = 0;
        while answered < 5 {
            match flooder.reply().await {
                ServerFrame::Ack { .. } => {
                    accepted += 1;
                    answered += 1;
                }
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => answered += 1,
                ServerFrame::Message(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        flooder.close().await;
    }
    assert!(
        accepted <= 6,
        "{accepted} of 20 sends over fresh connections were accepted"
    );
    // Another client id has its own budget.
    let (mut other, _) = Client::join(&d.a().ws_url("room", "other")).await;
    other.say_acked("hello").await;
}
