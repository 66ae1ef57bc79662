//! Refusals a browser can see: a request with an `Origin` (every browser's) that is refused
//! is upgraded and closed at once with a 4xxx code and a reason, since a browser's WebSocket
//! API hides HTTP statuses (it would only see 1006). Without an `Origin` the same refusals
//! keep their HTTP status and JSON body.

use backend::auth::{Claims, TokenAuthority};

use crate::{handshake::refused_by_close, helpers::*};

const SECRET: &str = "test-secret-that-is-long-enough-0123456789";
const PAGE: &str = "https://chat.example.com";

fn token(sub: &str, exp_in: i64, channels: Option<Vec<String>>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    TokenAuthority::new(SECRET.as_bytes()).issue(&Claims {
        sub: sub.into(),
        exp: (now + exp_in) as u64,
        nbf: None,
        channels,
        name: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_close_codes_with_reasons_and_other_clients_keep_the_statuses() {
    let d = Deployment::start(
        Engine::Embedded,
        &[("AUTH_JWT_SECRET", SECRET), ("ALLOWED_ORIGINS", PAGE)],
    )
    .await;
    let url = d.a().ws_url("room", "alice");
    let valid = token("alice", 60, None);
    let cases = [
        (url.clone(), PAGE, 4401, "token is required", Some(401)),
        (
            format!("{url}?token={}", token("alice", -120, None)),
            PAGE,
            4401,
            "expired",
            Some(401),
        ),
        (
            format!(
                "{url}?token={}",
                token("alice", 60, Some(vec!["other".into()]))
            ),
            PAGE,
            4403,
            "channel",
            Some(401),
        ),
        (
            format!("{url}?token={valid}"),
            "https://evil.example",
            4403,
            "origin",
            None,
        ),
        (
            format!("{}?token={valid}", d.a().ws_url("b%20d", "alice")),
            PAGE,
            4400,
            "channel id",
            Some(400),
        ),
    ];
    for (url, origin, code, words, status) in cases {
        let (closed_with, reason) = refused_by_close(&url, &[("Origin", origin)]).await;
        assert_eq!(closed_with, code, "{url} from {origin}: {reason}");
        assert!(reason.contains(words), "{url}: {reason:?} lacks {words:?}");
        // Not a browser: the HTTP status and body, as before (no origin check without one).
        let Some(status) = status else { continue };
        let refused = Client::try_connect(&url, &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} accepted without an Origin"));
        assert_eq!(refused.status, status, "{url}");
        assert!(refused.body["message"].as_str().unwrap().contains(words));
    }
    // The page's own origin with a valid token is let in.
    let (mut alice, _) = Client::join(&format!("{url}?token={valid}")).await;
    alice.say_acked("in").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_over_the_connection_cap_gets_4429_and_others_503() {
    let d = Deployment::start(
        Engine::Embedded,
        &[("MAX_CONNECTIONS", "1"), ("ALLOWED_ORIGINS", PAGE)],
    )
    .await;
    let (_one, _) = Client::join(&d.a().ws_url("room", "one")).await;
    let url = d.a().ws_url("room", "two");
    let (code, reason) = refused_by_close(&url, &[("Origin", PAGE)]).await;
    assert_eq!(code, 4429);
    assert!(reason.contains("connection limit"), "{reason}");
    let refused = Client::try_connect(&url, &[])
        .await
        .err()
        .expect("accepted");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["error"], "too_many_connections");
}

/// A browser-like request that is no valid upgrade (no `Sec-WebSocket-Key`) cannot be
/// upgraded to carry a close code: it still gets its refusal, as an HTTP status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_that_cannot_be_upgraded_keeps_its_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let d = Deployment::start(Engine::Embedded, &[("ALLOWED_ORIGINS", PAGE)]).await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", d.a().port))
        .await
        .unwrap();
    socket
        .write_all(
            b"GET /ws/room/alice HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
              Origin: https://evil.example\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .expect("no answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer:?}");
    assert!(answer.contains("origin_not_allowed"), "{answer}");
}
