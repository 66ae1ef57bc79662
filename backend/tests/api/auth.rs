//! Optional authentication: with `AUTH_JWT_SECRET`, only a valid token for this client id
//! (and channel) gets past the handshake.

use backend::auth::{Claims, TokenAuthority};

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
    let expired = token("alice", now() - 1, None);
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
