//! Input after the upgrade that arrives too slowly, or announces too much: each is closed
//! with its code in bounded time, and nothing of an oversized frame is buffered.

use std::time::{Duration, Instant};

use crate::conformance::{
    cases::{CONT, TEXT, frame_with},
    client::{Got, RawClient},
};
use crate::helpers::*;

/// The message timeout these tests run with.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(1);

async fn backend() -> BackendProcess {
    BackendProcess::start(&[("MESSAGE_TIMEOUT_SECS", "1")]).await
}

/// The first frame after the client's own join: the close, and how long it took.
async fn close_code(client: &mut RawClient, since: Instant) -> (Option<u16>, Duration) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match client.frame(deadline).await {
            Some(Got::Close(code)) => return (code, since.elapsed()),
            Some(Got::Text(text)) if text.contains(r#""type":"presence""#) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn assert_closed_for_slowness(code: Option<u16>, took: Duration) {
    assert_eq!(code, Some(1008), "policy violation");
    assert!(
        took >= MESSAGE_TIMEOUT && took < MESSAGE_TIMEOUT + Duration::from_millis(800),
        "closed after {took:?}, the timeout is {MESSAGE_TIMEOUT:?}"
    );
}

#[tokio::test]
async fn a_frame_header_and_then_nothing_is_closed_with_1008_after_the_message_timeout() {
    let backend = backend().await;
    let mut client = RawClient::connect(backend.port, "slow").await.unwrap();
    let frame = frame_with(true, 0, TEXT, br#"{"type":"send","message":"hi"}"#);
    let started = Instant::now();
    client.write(&frame[..6]).await;
    let (code, took) = close_code(&mut client, started).await;
    assert_closed_for_slowness(code, took);
    assert!(
        client
            .closed_by(Instant::now() + Duration::from_secs(1))
            .await
    );
}

#[tokio::test]
async fn a_frame_sent_one_byte_at_a_time_too_slowly_is_closed_with_1008() {
    let backend = backend().await;
    let mut client = RawClient::connect(backend.port, "drip").await.unwrap();
    let frame = frame_with(true, 0, TEXT, br#"{"type":"send","message":"drip, drip"}"#);
    let started = Instant::now();
    let mut sent = 0;
    // A byte every 150 ms: each byte is progress, yet the message never completes in time.
    let (code, took) = loop {
        client.write(&frame[sent..=sent]).await;
        sent += 1;
        let deadline = Instant::now() + Duration::from_millis(150);
        if let Some(got) = client.frame(deadline).await {
            match got {
                Got::Close(code) => break (code, started.elapsed()),
                Got::Text(text) if text.contains(r#""type":"presence""#) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
        assert!(sent < frame.len(), "the whole frame went through");
    };
    assert_closed_for_slowness(code, took);
}

#[tokio::test]
async fn an_unfinished_fragmented_message_is_bounded_in_time() {
    let backend = backend().await;
    let mut client = RawClient::connect(backend.port, "fragments").await.unwrap();
    let started = Instant::now();
    // Every fragment arrives whole and promptly; the message itself never ends.
    client
        .write(&frame_with(false, 0, TEXT, b"{\"type\":"))
        .await;
    let (code, took) = loop {
        client.write(&frame_with(false, 0, CONT, b" ")).await;
        let deadline = Instant::now() + Duration::from_millis(100);
        match client.frame(deadline).await {
            Some(Got::Close(code)) => break (code, started.elapsed()),
            Some(Got::Text(text)) if text.contains(r#""type":"presence""#) => {}
            Some(other) => panic!("expected a close frame, got {other:?}"),
            None => assert!(started.elapsed() < PATIENCE, "never closed"),
        }
    };
    assert_closed_for_slowness(code, took);
}

#[tokio::test]
async fn an_endless_frame_is_refused_on_its_header_and_grows_nothing() {
    let backend = backend().await;
    let rss = || rss_kib(backend.pid());
    let mut client = RawClient::connect(backend.port, "endless").await.unwrap();
    let before = rss();
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    client.write(&header).await;
    // Keep streaming payload: none of it may be held.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..256 {
        if !client.try_write(&chunk).await {
            break;
        }
    }
    let (code, _) = close_code(&mut client, Instant::now()).await;
    assert_eq!(code, Some(1009));
    let grown = rss().saturating_sub(before);
    assert!(grown < 4 * 1024, "the backend grew by {grown} KiB");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}
