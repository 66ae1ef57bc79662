//! Abuse and bad input: every limit refuses clearly, and nothing already accepted is lost.

use std::time::{Duration, Instant};

use protocol::{ErrorCode, PresenceEvent, ServerFrame};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    sends_over_the_rate_get_rate_limited_and_the_connection_stays,
    connections_over_the_cap_get_503_before_the_upgrade,
    a_slow_consumer_is_closed_without_slowing_the_others,
);

async fn sends_over_the_rate_get_rate_limited_and_the_connection_stays(engine: Engine) {
    let d = Deployment::start(
        engine,
        &[("RATE_LIMIT_PER_SEC", "2"), ("RATE_LIMIT_BURST", "3")],
    )
    .await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let mut nonces = Vec::new();
    for i in 0..5 {
        nonces.push(alice.say(&format!("m{i}")).await);
    }
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < 5 {
        match alice.reply().await {
            ServerFrame::Ack { nonce, .. } => acked.push(nonce.unwrap()),
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                nonce,
                message,
            } => {
                assert!(message.contains("try again"), "{message}");
                limited.push(nonce.unwrap());
            }
            ServerFrame::Message(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(acked, nonces[..3]);
    assert_eq!(limited, nonces[3..]);
    // The bucket refills at the configured rate and the connection is still usable.
    tokio::time::sleep(Duration::from_millis(600)).await;
    alice.say_acked("later").await;
}

async fn connections_over_the_cap_get_503_before_the_upgrade(engine: Engine) {
    let d = Deployment::start(engine, &[("MAX_CONNECTIONS", "2")]).await;
    let (_one, _) = Client::join(&d.a().ws_url("room", "one")).await;
    let (two, _) = Client::join(&d.a().ws_url("room", "two")).await;
    let refused = Client::try_connect(&d.a().ws_url("room", "three"), &[])
        .await
        .err()
        .expect("a third connection was accepted");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["error"], "too_many_connections");
    // A slot frees up when a connection closes.
    two.close().await;
    let mut admitted = false;
    for _ in 0..50 {
        if Client::try_connect(&d.a().ws_url("room", "three"), &[])
            .await
            .is_ok()
        {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted);
}

async fn a_slow_consumer_is_closed_without_slowing_the_others(engine: Engine) {
    let d = Deployment::start(
        engine,
        &[
            ("OUTBOUND_QUEUE_BYTES", "65536"),
            ("RATE_LIMIT_PER_SEC", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
        ],
    )
    .await;
    let mut sloth = Client::connect_with_small_buffer(&d.b().ws_url("room", "sloth")).await;
    let (mut reader, _) = Client::join(&d.b().ws_url("room", "reader")).await;
    let (mut talker, _) = Client::join(&d.a().ws_url("room", "talker")).await;
    let text = "x".repeat(4000);
    let mut worst = Duration::ZERO;
    // The sloth never reads; the reader reads everything, and each delivery is timed. The
    // sloth's leave (seen by the reader) tells when the server gave up on it.
    let mut sloth_left = false;
    for i in 0..3000 {
        let sent = Instant::now();
        talker.say_acked(&format!("{i} {text}")).await;
        loop {
            match reader.next().await {
                ServerFrame::Message(m) => {
                    assert!(m.message.starts_with(&format!("{i} ")));
                    break;
                }
                ServerFrame::Presence {
                    event: PresenceEvent::Leave,
                    client_id,
                    ..
                } if client_id.as_str() == "sloth" => sloth_left = true,
                _ => {}
            }
        }
        worst = worst.max(sent.elapsed());
        if sloth_left {
            break;
        }
    }
    assert!(sloth_left, "the slow consumer was never closed");
    assert!(
        worst < Duration::from_millis(500),
        "the reader waited up to {worst:?} for a message"
    );
    let close = sloth.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1013);
    assert_eq!(
        metric(d.b().metrics_port, "chat_slow_consumer_closes_total").await,
        1.0
    );
    assert!(metric(d.b().metrics_port, "chat_fanout_queue_drops_total").await >= 1.0);
}

/// A client that reads nothing at all leaves the server unable to send even its close frame;
/// the kernel gives up on the socket after `STALLED_SOCKET_TIMEOUT_SECS` instead of holding it
/// for as long as the client lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_is_cut_off_after_the_stall_timeout() {
    let d = Deployment::start(
        Engine::Embedded,
        &[
            ("STALLED_SOCKET_TIMEOUT_SECS", "1"),
            ("OUTBOUND_QUEUE_BYTES", "65536"),
            ("RATE_LIMIT_PER_SEC", "100000"),
            ("RATE_LIMIT_BURST", "100000"),
        ],
    )
    .await;
    let sloth = Client::connect_with_small_buffer(&d.a().ws_url("room", "sloth")).await;
    let sloth_port = sloth.local_port();
    let (mut talker, _) = Client::join(&d.a().ws_url("room", "talker")).await;
    let text = "x".repeat(4000);
    let mut closed = false;
    for i in 0..3000 {
        talker.say_acked(&format!("{i} {text}")).await;
        if i % 50 == 49
            && metric(d.a().metrics_port, "chat_slow_consumer_closes_total").await >= 1.0
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the slow consumer was never closed");
    assert!(
        tcp_established(d.a().port, sloth_port),
        "the connection should still be stuck open right after the close"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while tcp_established(d.a().port, sloth_port) {
        assert!(
            Instant::now() < deadline,
            "the server still holds the stalled connection"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(sloth);
}

/// Whether the kernel has an established TCP connection from `local_port` to `remote_port`
/// on the loopback (from the server's side, as `/proc/net/tcp` lists it).
fn tcp_established(local_port: u16, remote_port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port =
        |address: &str| u16::from_str_radix(address.rsplit(':').next().unwrap(), 16).unwrap();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3
            && port(fields[1]) == local_port
            && port(fields[2]) == remote_port
            && fields[3] == "01"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_handshake_is_cut_off() {
    let d = Deployment::start(Engine::Embedded, &[("HANDSHAKE_TIMEOUT_SECS", "1")]).await;
    let mut slow = TcpStream::connect(("127.0.0.1", d.a().port)).await.unwrap();
    slow.write_all(b"GET /ws/room/slow HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer))
        .await
        .expect("the server kept a half-sent request open");
    assert!(read.is_ok() || buffer.is_empty());
    let answer = String::from_utf8_lossy(&buffer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "unexpected answer {answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}
