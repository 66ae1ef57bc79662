//! Optional authentication: with `AUTH_JWT_SECRET`, only a valid token for this client id
//! (and channel) gets past the handshake.

use backend::auth::{Claims, TokenAuthority};
use protocol::ServerFrame;

use crate::{helpers::*, on_every_engine};

const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

on_every_engine!(connections_need_a_valid_token_when_a_secret_is_set);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn connections_need_a_valid_token_when_a_secret_is_set(engine: Engine) {
    let d = Deployment::start(engine, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let authority = TokenAuthority::new(SECRET.as_bytes());
    let token = |sub: &str, exp: u64, channels: Option<Vec<String>>| {
        authority.issue(&Claims {
            sub: sub.into(),
            exp,
            nbf: None,
            channels,
            name: None,
        })
    };
    let url = d.a().ws_url("room", "alice");
    let refused = |reason: &'static str| {
        move |r: Result<Client, Refused>| {
            let refused = r.err().unwrap_or_else(|| panic!("accepted: {reason}"));
            assert_eq!(refused.status, 401, "{reason}");
            assert_eq!(refused.body["error"], "unauthorized", "{reason}");
        }
    };
    refused("no token")(Client::try_connect(&url, &[]).await);
    refused("garbage")(Client::try_connect(&format!("{url}?token=abc.def.ghi"), &[]).await);
    // Past the default clock leeway (30 s): nothing tolerates it.
    let expired = token("alice", now() - 120, None);
    refused("expired")(Client::try_connect(&format!("{url}?token={expired}"), &[]).await);
    let bobs = token("bob", now() + 60, None);
    refused("someone else's")(Client::try_connect(&format!("{url}?token={bobs}"), &[]).await);
    let elsewhere = token("alice", now() + 60, Some(vec!["other".into()]));
    refused("other channel")(Client::try_connect(&format!("{url}?token={elsewhere}"), &[]).await);
    let forged =
        TokenAuthority::new(b"not-the-secret-not-the-secret-not-the-secret").issue(&Claims {
            sub: "alice".into(),
            exp: now() + 60,
            nbf: None,
            channels: None,
            name: None,
        });
    refused("forged")(Client::try_connect(&format!("{url}?token={forged}"), &[]).await);

    let good = token("alice", now() + 60, Some(vec!["room".into()]));
    let (mut alice, _) = Client::join(&format!("{url}?token={good}")).await;
    alice.say_acked("authenticated").await;
    let bearer = format!("Bearer {}", token("alice", now() + 60, None));
    assert!(
        Client::try_connect(&url, &[("Authorization", &bearer)])
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_command_issues_tokens_the_backend_accepts() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chat-token"))
        .args(["--sub", "alice", "--channels", "room,lobby", "--ttl", "60"])
        .env("AUTH_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap();
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    Client::join(&format!(
        "{}?token={}",
        d.a().ws_url("lobby", "alice"),
        token.trim()
    ))
    .await;
    let weak = std::process::Command::new(env!("CARGO_BIN_EXE_chat-token"))
        .args(["--sub", "alice"])
        .env("AUTH_JWT_SECRET", "short")
        .output()
        .unwrap();
    assert!(!weak.status.success(), "a short secret must be refused");
}

/// The scheme's name is case-insensitive (RFC 7235): `bearer` is `Bearer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let token = TokenAuthority::new(SECRET.as_bytes()).issue(&Claims {
        sub: "alice".into(),
        exp: now() + 60,
        nbf: None,
        channels: None,
        name: None,
    });
    let url = d.a().ws_url("room", "alice");
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let header = format!("{scheme} {token}");
        let mut alice = Client::try_connect(&url, &[("Authorization", &header)])
            .await
            .unwrap_or_else(|r| panic!("{scheme:?} refused: {r:?}"));
        assert!(matches!(alice.next().await, ServerFrame::Welcome { .. }));
    }
    let basic = format!("Basic {token}");
    let refused = Client::try_connect(&url, &[("Authorization", &basic)])
        .await
        .err()
        .expect("another scheme is no token");
    assert_eq!(refused.status, 401);
}

fn chat_token(secret: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chat-token"))
        .args(args)
        .env("AUTH_JWT_SECRET", secret)
        .output()
        .unwrap()
}

/// A lifetime no expiry can hold is refused with a message, not wrapped around into a
/// token that has already expired.
#[test]
fn the_token_command_refuses_a_lifetime_it_cannot_express() {
    for ttl in [
        "18446744073709551615",
        "99999999999999999999",
        "0",
        "-1",
        "soon",
    ] {
        let output = chat_token(SECRET, &["--sub", "alice", "--ttl", ttl]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--ttl {ttl}: {output:?}");
        assert!(output.stdout.is_empty(), "--ttl {ttl}: a token was printed");
        assert!(
            stderr.contains("--ttl takes whole seconds from 1 to 315360000 (ten years)"),
            "--ttl {ttl}: {stderr}"
        );
    }
    let longest = chat_token(SECRET, &["--sub", "alice", "--ttl", "315360000"]);
    assert!(longest.status.success(), "{longest:?}");
}

/// A secret read from a file or a secret manager often ends in a newline: the command and
/// the backend must both read it as the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_with_surrounding_whitespace_means_the_same_key_to_both() {
    let padded = format!("  {SECRET}\n");
    let output = chat_token(&padded, &["--sub", "alice", "--ttl", "60"]);
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap();
    for configured in [padded.as_str(), SECRET] {
        let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", configured)]).await;
        let url = format!("{}?token={}", d.a().ws_url("room", "alice"), token.trim());
        let mut alice = Client::try_connect(&url, &[])
            .await
            .unwrap_or_else(|r| panic!("backend with {configured:?} refused it: {r:?}"));
        assert!(matches!(alice.next().await, ServerFrame::Welcome { .. }));
    }
}

const PREVIOUS: &str = "the-secret-being-rotated-out-0123456789";

fn signed(secret: &str, exp: u64, nbf: Option<u64>) -> String {
    TokenAuthority::new(secret.as_bytes()).issue(&Claims {
        sub: "alice".into(),
        exp,
        nbf,
        channels: None,
        name: None,
    })
}

/// During a rotation both secrets verify; a third is still a forgery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_the_previous_secret_still_verifies() {
    let d = Deployment::start(
        Engine::Embedded,
        &[
            ("AUTH_JWT_SECRET", SECRET),
            ("AUTH_JWT_PREVIOUS_SECRET", PREVIOUS),
        ],
    )
    .await;
    let url = d.a().ws_url("room", "alice");
    for secret in [SECRET, PREVIOUS] {
        let token = signed(secret, now() + 60, None);
        let (mut alice, _) = Client::join(&format!("{url}?token={token}")).await;
        alice.say_acked("signed with a known secret").await;
    }
    let unknown = signed("an-unknown-secret-that-is-long-enough-0", now() + 60, None);
    let refused = Client::try_connect(&format!("{url}?token={unknown}"), &[])
        .await
        .err()
        .expect("a token signed with an unknown secret");
    assert_eq!(refused.status, 401);
}

/// `exp` and `nbf` are read with the clock leeway (30 s by default): a token that expired
/// 10 s ago, or starts in 10 s, is taken, and the connection is not ended at once; one that
/// expired a minute ago is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_leeway_tolerates_a_little_skew_and_no_more() {
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let url = d.a().ws_url("room", "alice");
    for (token, what) in [
        (signed(SECRET, now() - 10, None), "expired 10 s ago"),
        (
            signed(SECRET, now() + 60, Some(now() + 10)),
            "valid in 10 s",
        ),
    ] {
        let (mut alice, _) = Client::join(&format!("{url}?token={token}")).await;
        alice.say_acked(what).await;
    }
    let stale = signed(SECRET, now() - 60, None);
    let refused = Client::try_connect(&format!("{url}?token={stale}"), &[])
        .await
        .err()
        .expect("a token expired a minute ago");
    assert_eq!(refused.status, 401);

    let strict = Deployment::start(
        Engine::Embedded,
        &[("AUTH_JWT_SECRET", SECRET), ("AUTH_CLOCK_LEEWAY_SECS", "0")],
    )
    .await;
    let url = strict.a().ws_url("room", "alice");
    let just_expired = signed(SECRET, now() - 10, None);
    let refused = Client::try_connect(&format!("{url}?token={just_expired}"), &[])
        .await
        .err()
        .expect("no leeway");
    assert_eq!(refused.status, 401);
}

/// `chat-token --name` puts the display name in the token, and the backend takes tokens with
/// the claim as it takes tokens without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_name_claim_is_carried_by_the_token_command_and_accepted() {
    let output = chat_token(
        SECRET,
        &["--sub", "alice", "--name", " Zoë B. ", "--ttl", "60"],
    );
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let d = Deployment::start(Engine::Embedded, &[("AUTH_JWT_SECRET", SECRET)]).await;
    let url = d.a().ws_url("room", "alice");
    let client = protocol::ClientId::parse("alice").unwrap();
    let channel = protocol::ChannelId::parse("room").unwrap();
    let claims = TokenAuthority::new(SECRET.as_bytes())
        .verify_now(&token, &client, &channel)
        .unwrap();
    assert_eq!(claims.name.as_deref(), Some("Zoë B."));
    let (mut alice, _) = Client::join(&format!("{url}?token={token}")).await;
    alice.say_acked("named").await;
    let empty = chat_token(SECRET, &["--sub", "alice", "--name", "  "]);
    assert!(!empty.status.success(), "{empty:?}");
}
