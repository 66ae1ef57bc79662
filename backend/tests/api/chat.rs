//! Sending and receiving: one order for everyone, acks, isolation, bad frames.

use std::time::Duration;

use protocol::{ChatMessage, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    every_member_on_every_instance_sees_one_order,
    channels_are_isolated,
    bad_frames_are_answered_and_the_connection_stays_usable,
    an_oversized_websocket_message_closes_with_1009,
    a_retried_send_is_stored_once_even_on_another_instance,
);

fn ids(messages: &[ChatMessage]) -> Vec<String> {
    messages.iter().map(|m| m.id.to_string()).collect()
}

async fn every_member_on_every_instance_sees_one_order(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let (mut carol, _) = Client::join(&d.b().ws_url("room", "carol")).await;

    // Both send without waiting for acks, from different instances, interleaved.
    let mut nonces = Vec::new();
    for i in 0..20 {
        nonces.push(alice.say(&format!("a{i}")).await);
        bob.say(&format!("b{i}")).await;
    }

    // Alice gets her 20 acks and all 40 messages, in either interleaving.
    let mut seen_by_alice = Vec::new();
    let mut acks = Vec::new();
    while seen_by_alice.len() < 40 || acks.len() < 20 {
        match alice.next().await {
            ServerFrame::Message(m) => seen_by_alice.push(m),
            ServerFrame::Ack { nonce, id } => acks.push((nonce.unwrap(), id)),
            ServerFrame::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let seen_by_bob = bob.messages(40).await;
    let seen_by_carol = carol.messages(40).await;

    assert_eq!(ids(&seen_by_alice), ids(&seen_by_bob));
    assert_eq!(seen_by_alice, seen_by_carol);
    assert!(
        seen_by_alice.windows(2).all(|w| w[0].id < w[1].id),
        "ids must strictly increase"
    );
    for (who, prefix) in [("alice", 'a'), ("bob", 'b')] {
        let own: Vec<&str> = seen_by_alice
            .iter()
            .filter(|m| m.client_id.as_str() == who)
            .map(|m| m.message.as_str())
            .collect();
        let sent: Vec<String> = (0..20).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(own, sent, "{who}'s messages must keep their send order");
    }
    // Every ack names the id under which that very message was delivered.
    assert_eq!(
        acks.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        nonces
    );
    for (i, (_, id)) in acks.iter().enumerate() {
        let delivered = seen_by_alice.iter().find(|m| m.id == *id).unwrap();
        assert_eq!(delivered.message, format!("a{i}"));
        assert!(delivered.time.ends_with('Z') && delivered.time.len() == 24);
    }
}

async fn channels_are_isolated(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room-1", "alice")).await;
    let (mut dave, _) = Client::join(&d.b().ws_url("room-2", "dave")).await;
    alice.say_acked("only for room 1").await;
    dave.expect_no_message(Duration::from_millis(500)).await;
    dave.say_acked("only for room 2").await;
    let got = alice.next_message().await;
    assert_eq!(got.message, "only for room 1");
    alice.expect_no_message(Duration::from_millis(500)).await;
}

async fn bad_frames_are_answered_and_the_connection_stays_usable(engine: Engine) {
    let d = Deployment::start(engine, &[("MAX_MESSAGE_CHARS", "10")]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let cases = [
        ("not json", ErrorCode::BadFrame, None),
        (
            r#"{"type":"shout","message":"x","nonce":"n1"}"#,
            ErrorCode::BadFrame,
            Some("n1"),
        ),
        (
            r#"{"type":"send","nonce":"n2"}"#,
            ErrorCode::BadFrame,
            Some("n2"),
        ),
        (
            r#"{"type":"send","message":"","nonce":"n3"}"#,
            ErrorCode::BadFrame,
            Some("n3"),
        ),
        (
            r#"{"type":"send","message":"12345678901","nonce":"n4"}"#,
            ErrorCode::TooLarge,
            Some("n4"),
        ),
    ];
    for (text, expected_code, expected_nonce) in cases {
        alice.send_text(text).await;
        match alice.reply().await {
            ServerFrame::Error {
                code,
                nonce,
                message,
            } => {
                assert_eq!(code, expected_code, "{text}");
                assert_eq!(nonce.as_deref(), expected_nonce, "{text}");
                assert!(!message.is_empty());
            }
            other => panic!("{text}: expected an error, got {other:?}"),
        }
    }
    alice.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert!(matches!(
        alice.next().await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    // Still usable, and exactly ten characters (emoji count as one) are fine.
    alice.say_acked("👋👋👋👋👋👋👋👋👋👋").await;
}

async fn an_oversized_websocket_message_closes_with_1009(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let huge = format!(
        r#"{{"type":"send","message":"{}"}}"#,
        "x".repeat(64 * 1024 + 1)
    );
    alice.send_text(huge).await;
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
}

/// A client that stops answering pings is closed (1001) after the pong timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_answers_pings_is_closed() {
    let d = Deployment::start(
        Engine::Embedded,
        &[("PING_INTERVAL_SECS", "1"), ("PONG_TIMEOUT_SECS", "1")],
    )
    .await;
    let (mut mute, _) = Client::join(&d.a().ws_url("room", "mute")).await;
    // Not reading means not answering pings: tungstenite replies only while it is read.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let close = mute.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);

    // A client that keeps reading (and so answers pings) stays connected.
    let (mut lively, _) = Client::join(&d.a().ws_url("room", "lively")).await;
    lively.expect_no_message(Duration::from_millis(3000)).await;
    lively.say_acked("still here").await;
}

async fn a_retried_send_is_stored_once_even_on_another_instance(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let send = r#"{"type":"send","message":"only once","nonce":"retry-1"}"#;

    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice.send_text(send).await;
    let first = ack_id(&mut alice).await;
    // Cut off before it saw the ack (say), alice reconnects elsewhere and retries.
    alice.close().await;
    let (mut alice, _) = Client::join(&d.b().ws_url("room", "alice")).await;
    alice.send_text(send).await;
    assert_eq!(
        ack_id(&mut alice).await,
        first,
        "a retry must ack the original id"
    );

    // The same nonce from someone else is a different send.
    let (mut carol, _) = Client::join(&d.a().ws_url("room", "carol")).await;
    carol.send_text(send).await;
    let carols = ack_id(&mut carol).await;
    assert_ne!(carols, first);

    let seen = bob.messages(2).await;
    assert_eq!(
        seen.iter()
            .map(|m| (m.client_id.as_str(), m.id.to_string()))
            .collect::<Vec<_>>(),
        [("alice", first), ("carol", carols)]
    );
    bob.expect_no_message(Duration::from_millis(300)).await;
}

async fn ack_id(client: &mut Client) -> String {
    loop {
        match client.reply().await {
            ServerFrame::Ack { id, .. } => return id.to_string(),
            ServerFrame::Message(_) => {}
            other => panic!("expected an ack, got {other:?}"),
        }
    }
}
