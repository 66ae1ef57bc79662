//! WebSocket framing from the client's side: fragmented messages, pings, bad text and the
//! closing handshake. Framing does not depend on the bus, so these run on the embedded one.

use protocol::{PresenceEvent, ServerFrame};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    },
};

use crate::helpers::*;

fn fragment(data: &[u8], opcode: Data, is_final: bool) -> Message {
    Message::Frame(Frame::message(
        data.to_vec(),
        OpCode::Data(opcode),
        is_final,
    ))
}

#[tokio::test]
async fn a_fragmented_message_is_put_back_together() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.a().ws_url("room", "bob")).await;
    let frame = r#"{"type":"send","message":"héllo in three parts","nonce":"f1"}"#.as_bytes();
    // Split inside the two-byte "é" too: only the whole message must be UTF-8.
    let cut = frame.iter().position(|&b| b == 0xc3).unwrap() + 1;
    alice
        .send_raw(fragment(&frame[..cut], Data::Text, false))
        .await;
    alice
        .send_raw(fragment(&frame[cut..40], Data::Continue, false))
        .await;
    alice
        .send_raw(fragment(&frame[40..], Data::Continue, true))
        .await;
    loop {
        match alice.reply().await {
            ServerFrame::Ack { nonce, .. } => break assert_eq!(nonce.as_deref(), Some("f1")),
            ServerFrame::Message(_) => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    assert_eq!(bob.next_message().await.message, "héllo in three parts");
}

#[tokio::test]
async fn fragments_adding_up_past_the_limit_close_with_1009() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let part = vec![b'x'; 40 * 1024];
    alice.send_raw(fragment(&part, Data::Text, false)).await;
    alice.send_raw(fragment(&part, Data::Continue, true)).await;
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice
        .send_raw(fragment(&[b'{', 0xff, 0xfe, b'}'], Data::Text, true))
        .await;
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1007);
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload_in_order() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice.say("before the ping").await;
    alice
        .send_raw(Message::Ping(b"are you there".to_vec().into()))
        .await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match alice.next_raw().await {
            Message::Text(text) => match serde_json::from_str(&text).unwrap() {
                ServerFrame::Presence { .. } => {}
                frame => seen.push(format!("{frame:?}")),
            },
            Message::Pong(payload) => {
                assert_eq!(&payload[..], b"are you there");
                seen.push("pong".into());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The message's echo and ack were queued before the pong.
    assert_eq!(seen[2], "pong", "{seen:?}");
}

#[tokio::test]
async fn a_client_close_is_answered_with_1000_then_a_hang_up_and_the_others_see_it_leave() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.a().ws_url("room", "bob")).await;
    bob.send_raw(Message::Close(None)).await;
    let close = bob.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1000);
    hangs_up_soon(&mut bob).await;
    loop {
        if let ServerFrame::Presence {
            event, client_id, ..
        } = alice.next().await
            && client_id.as_str() == "bob"
            && event == PresenceEvent::Leave
        {
            break;
        }
    }
}

#[tokio::test]
async fn a_server_close_is_followed_by_a_hang_up_once_the_client_answers() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice
        .send_raw(fragment(&[b'x'; 70 * 1024], Data::Text, true))
        .await;
    // Reading the close frame makes the client answer it.
    let close = alice.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
    hangs_up_soon(&mut alice).await;
}

/// After the closing handshake the server hangs up at once, so the client learns the
/// connection is over (a browser's `close` event) without waiting out a linger timeout.
async fn hangs_up_soon(client: &mut Client) {
    let since = std::time::Instant::now();
    assert!(client.closed().await.is_none());
    assert!(
        since.elapsed() < std::time::Duration::from_millis(500),
        "the server kept the TCP connection open for {:?} after the closing handshake",
        since.elapsed()
    );
}
