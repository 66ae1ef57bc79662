//! A token is not only checked at the handshake: a connection ends when its token expires
//! (close 4401, which the page answers by getting a new token), unless the client sent a
//! `refresh` with a new one. And the application-level `ping` a browser can see.

use std::time::{Duration, Instant};

use backend::auth::{Claims, TokenAuthority, unix_now};
use protocol::{ErrorCode, ServerFrame};

use crate::helpers::*;

const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

fn token(sub: &str, exp: u64) -> String {
    TokenAuthority::new(SECRET.as_bytes()).issue(&Claims {
        sub: sub.into(),
        exp,
        nbf: None,
        channels: Some(vec!["room".into()]),
        name: None,
    })
}

#[tokio::test]
async fn a_connection_ends_with_4401_when_its_token_expires() {
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let url = d.a().ws_url("room", "alice");
    let expires = unix_now() + 2;
    let (mut alice, _) = Client::join(&format!("{url}?token={}", token("alice", expires))).await;
    alice.say_acked("while the token is valid").await;
    let close = alice.closed().await.expect("a close frame");
    let closed_at = unix_now();
    assert_eq!(u16::from(close.code), 4401);
    assert!(close.reason.contains("expired"), "{}", close.reason);
    assert!(
        closed_at >= expires && closed_at <= expires + 2,
        "closed at {closed_at}, the token expired at {expires}"
    );
}

#[tokio::test]
async fn a_refreshed_connection_outlives_its_first_token_and_a_bad_refresh_changes_nothing() {
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let url = d.a().ws_url("room", "alice");
    let first = unix_now() + 2;
    let (mut alice, _) = Client::join(&format!("{url}?token={}", token("alice", first))).await;

    // Someone else's token does not refresh alice's connection.
    alice
        .send_text(format!(
            r#"{{"type":"refresh","token":"{}","nonce":"r1"}}"#,
            token("bob", first + 60)
        ))
        .await;
    match alice.reply().await {
        ServerFrame::Error { code, nonce, .. } => {
            assert_eq!(
                (code, nonce.as_deref()),
                (ErrorCode::Unauthorized, Some("r1"))
            );
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }

    let later = unix_now() + 60;
    alice
        .send_text(format!(
            r#"{{"type":"refresh","token":"{}","nonce":"r2"}}"#,
            token("alice", later)
        ))
        .await;
    match alice.reply().await {
        ServerFrame::Refreshed { expires_at, nonce } => {
            assert_eq!((expires_at, nonce.as_deref()), (later, Some("r2")));
        }
        other => panic!("expected refreshed, got {other:?}"),
    }
    // Past the first token's expiry the connection still works.
    tokio::time::sleep(Duration::from_secs(first + 2 - unix_now())).await;
    alice.say_acked("after the first token expired").await;
}

#[tokio::test]
async fn an_application_ping_is_answered_with_a_pong_carrying_its_nonce() {
    let d = Deployment::start(Engine::Embedded, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let sent = Instant::now();
    alice.send_text(r#"{"type":"ping","nonce":"hb-1"}"#).await;
    match alice.reply().await {
        ServerFrame::Pong { nonce } => assert_eq!(nonce.as_deref(), Some("hb-1")),
        other => panic!("expected a pong, got {other:?}"),
    }
    assert!(sent.elapsed() < Duration::from_secs(1));
}

const PREVIOUS: &str = "the-secret-being-rotated-out-0123456789";

/// During a rotation a connection can be refreshed with a token the previous secret signed
/// (an issuer not yet switched over), and keeps going until that token's expiry.
#[tokio::test]
async fn during_a_rotation_a_refresh_signed_with_the_previous_secret_is_taken() {
    let d = Deployment::start(
        Engine::Embedded,
        &[
            ("AUTH_JWT_SECRET", SECRET),
            ("AUTH_JWT_PREVIOUS_SECRET", PREVIOUS),
        ],
    )
    .await;
    let url = d.a().ws_url("room", "alice");
    let (mut alice, _) =
        Client::join(&format!("{url}?token={}", token("alice", unix_now() + 60))).await;
    let later = unix_now() + 120;
    let old_key = TokenAuthority::new(PREVIOUS.as_bytes()).issue(&Claims {
        sub: "alice".into(),
        exp: later,
        nbf: None,
        channels: Some(vec!["room".into()]),
        name: Some("Alice".into()),
    });
    alice
        .send_text(format!(
            r#"{{"type":"refresh","token":"{old_key}","nonce":"r1"}}"#
        ))
        .await;
    match alice.reply().await {
        ServerFrame::Refreshed { expires_at, nonce } => {
            assert_eq!((expires_at, nonce.as_deref()), (later, Some("r1")));
        }
        other => panic!("expected refreshed, got {other:?}"),
    }
}
