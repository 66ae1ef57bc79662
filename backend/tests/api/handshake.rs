//! Everything refused before the upgrade gets an HTTP status and a JSON body.

use tokio_tungstenite::tungstenite;

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    bad_ids_and_since_are_400_with_json,
    a_plain_get_is_400_with_json,
    foreign_browser_origins_are_closed_with_4403,
    probes_answer,
);

async fn bad_ids_and_since_are_400_with_json(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let port = d.a().port;
    let long = "x".repeat(65);
    let cases = [
        ("/ws/bad%20room/alice".to_string(), "invalid_channel"),
        (format!("/ws/{long}/alice"), "invalid_channel"),
        ("/ws/room/al%7Bice%7D".to_string(), "invalid_client"),
        (
            "/ws/room/alice?since=yesterday".to_string(),
            "invalid_since",
        ),
        ("/ws/room/alice?since=1-2-3".to_string(), "invalid_since"),
        (
            "/ws/room/alice?since=1-0&epoch=a:b".to_string(),
            "invalid_epoch",
        ),
    ];
    for (path, code) in cases {
        let refused = Client::try_connect(&format!("ws://127.0.0.1:{port}{path}"), &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} was accepted"));
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.body["error"], code, "{path}");
        assert!(refused.body["message"].as_str().unwrap().len() > 5);
    }
    // The longest valid ids and a valid since are accepted.
    let max = "y".repeat(64);
    Client::join(&d.a().ws_url(&max, &format!("{max}?since=0-0"))).await;
}

async fn a_plain_get_is_400_with_json(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (status, body) = http_get(&d.a().http_url("/ws/room/alice")).await.unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["error"], "not_websocket");
    // Validation comes first: a bad id on a plain GET is still about the id.
    let (status, body) = http_get(&d.a().http_url("/ws/b%20d/alice")).await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_channel"))
    );
}

/// A browser cannot read a refused upgrade's status: it gets the upgrade and a close with
/// 4403 and the reason instead, and never a `welcome`.
async fn foreign_browser_origins_are_closed_with_4403(engine: Engine) {
    let d = Deployment::start(engine, &[("ALLOWED_ORIGINS", "https://chat.example.com")]).await;
    let url = d.a().ws_url("room", "alice");
    let (code, reason) = refused_by_close(&url, &[("Origin", "https://evil.example")]).await;
    assert_eq!(code, 4403);
    assert!(reason.contains("origin"), "{reason}");
    assert!(
        Client::try_connect(&url, &[("Origin", "https://chat.example.com")])
            .await
            .is_ok()
    );
    // No Origin header: not a browser, allowed.
    assert!(Client::try_connect(&url, &[]).await.is_ok());
}

async fn probes_answer(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (status, _) = http_get(&d.a().http_url("/healthz")).await.unwrap();
    assert_eq!(status, 200);
    // Ready once the bus is: on Redis, when the pub/sub connection is up (promptly).
    let mut ready = false;
    for _ in 0..50 {
        if matches!(http_get(&d.a().http_url("/readyz")).await, Ok((200, _))) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready);
}

#[tokio::test]
async fn an_upgrade_to_another_path_is_404_with_json() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    for path in ["/elsewhere", "/ws/room", "/ws/room/alice/extra", "/healthz"] {
        let refused = Client::try_connect(&format!("ws://127.0.0.1:{}{path}", d.a().port), &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} was accepted"));
        assert_eq!(refused.status, 404, "{path}");
        assert_eq!(refused.body["error"], "not_found", "{path}");
    }
}

/// A client may send its first frame right behind its request head, before the `101`: those
/// bytes arrive with the head and must not be lost in the hand-over to the WebSocket.
#[tokio::test]
async fn a_frame_sent_along_with_the_handshake_is_not_lost() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let d = Deployment::start(Engine::Embedded, &[]).await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", d.a().port))
        .await
        .unwrap();
    let send = br#"{"type":"send","message":"early bird","nonce":"e1"}"#;
    let mask = [1u8, 2, 3, 4];
    let mut bytes = b"GET /ws/room/early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    bytes.extend([0x81, 0x80 | send.len() as u8]);
    bytes.extend(mask);
    bytes.extend(send.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    socket.write_all(&bytes).await.unwrap();
    let mut seen = Vec::new();
    let acked = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains(r#""nonce":"e1""#) {
                return;
            }
        }
    })
    .await;
    let seen = String::from_utf8_lossy(&seen);
    assert!(acked.is_ok(), "no ack for the early frame: {seen}");
    assert!(seen.starts_with("HTTP/1.1 101"), "{seen}");
    assert!(seen.contains(r#""type":"ack""#), "{seen}");
}

/// Connects as a browser would and expects the server to close at once, before any frame;
/// the close code and reason.
pub async fn refused_by_close(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut client = Client::try_connect(url, headers)
        .await
        .unwrap_or_else(|r| panic!("{url}: refused with a status instead of a close: {r:?}"));
    match client.next_raw().await {
        tungstenite::Message::Close(Some(frame)) => (frame.code.into(), frame.reason.to_string()),
        other => panic!("{url}: expected a close, got {other:?}"),
    }
}
