//! `POST /token`: guest tokens the backend accepts, only for this page's own origin, only
//! when the frontend holds the backend's secret; and what the page is told about tokens.

use backend::auth::TokenAuthority;
use frontend::token_settings::TokenSettings;
use protocol::{ChannelId, ClientId};

use crate::helpers::{BACKEND_ORIGIN, Response, TestApp, spawn_app, spawn_app_with};

const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

fn settings(pairs: &[(&'static str, &'static str)]) -> TokenSettings {
    TokenSettings::read(&|name| {
        Ok(pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string()))
    })
    .unwrap()
}

async fn guest_app() -> TestApp {
    spawn_app_with(settings(&[("AUTH_JWT_SECRET", SECRET)])).await
}

/// A request as the page sends it: JSON, from its own origin.
async fn ask(app: &TestApp, body: &str) -> Response {
    let origin = app.address.clone();
    app.post_with(
        "/token",
        &[
            ("Origin", &origin),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        body,
    )
    .await
}

fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[actix_web::test]
async fn a_guest_token_is_one_the_backend_verifies() {
    let app = guest_app().await;

    let response = ask(
        &app,
        r#"{"client_id":"k3-x_9","name":"  Zoë 🌻 ","channel":"team-chat"}"#,
    )
    .await;

    assert_eq!(response.status.as_u16(), 200, "{}", response.text());
    assert_eq!(response.header("cache-control"), "no-store");
    let body = json(&response);
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert!((now() + 899..=now() + 900).contains(&expires_at), "{body}");
    let token = body["token"].as_str().unwrap();
    let client = ClientId::parse("k3-x_9").unwrap();
    let channel = ChannelId::parse("team-chat").unwrap();
    let claims = TokenAuthority::new(SECRET.as_bytes())
        .verify_now(token, &client, &channel)
        .unwrap();
    assert_eq!(claims.name.as_deref(), Some("Zoë 🌻"));
    assert_eq!(claims.exp, expires_at);
    assert_eq!(claims.channels, Some(vec!["team-chat".to_owned()]));
    let elsewhere = ChannelId::parse("other").unwrap();
    assert!(
        TokenAuthority::new(SECRET.as_bytes())
            .verify_now(token, &client, &elsewhere)
            .is_err(),
        "one channel only"
    );
}

#[actix_web::test]
async fn cross_site_and_malformed_requests_are_refused() {
    let app = guest_app().await;
    let good = r#"{"client_id":"alice","name":"Alice","channel":"room"}"#;
    let own = app.address.clone();

    for (headers, status, error) in [
        (
            vec![
                ("Origin", "https://evil.example"),
                ("Content-Type", "application/json"),
            ],
            403,
            "origin_not_allowed",
        ),
        (
            vec![("Content-Type", "application/json")],
            403,
            "origin_not_allowed",
        ),
        (
            vec![("Origin", own.as_str()), ("Content-Type", "text/plain")],
            415,
            "unsupported_media_type",
        ),
        (
            vec![
                ("Origin", own.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            415,
            "unsupported_media_type",
        ),
        (
            vec![("Origin", own.as_str())],
            415,
            "unsupported_media_type",
        ),
    ] {
        let response = app.post_with("/token", &headers, good).await;
        assert_eq!(response.status.as_u16(), status, "{headers:?}");
        assert_eq!(json(&response)["error"], error, "{headers:?}");
    }

    for (body, error) in [
        (
            r#"{"client_id":"a b","name":"A","channel":"room"}"#,
            "invalid_client_id",
        ),
        (
            r#"{"client_id":"alice","name":"A","channel":"x/y"}"#,
            "invalid_channel",
        ),
        (
            r#"{"client_id":"alice","name":" ","channel":"room"}"#,
            "invalid_name",
        ),
        (
            r#"{"client_id":"alice","name":"a\u0007","channel":"room"}"#,
            "invalid_name",
        ),
        // Invisible characters only: the backend would refuse the name, so no token for it.
        (
            r#"{"client_id":"alice","name":"\u200b\u200b","channel":"room"}"#,
            "invalid_name",
        ),
        (r#"{"client_id":"alice","channel":"room"}"#, "bad_request"),
        ("not json", "bad_request"),
    ] {
        let response = ask(&app, body).await;
        assert_eq!(response.status.as_u16(), 400, "{body}");
        assert_eq!(json(&response)["error"], error, "{body}");
    }
    let long = format!(
        r#"{{"client_id":"alice","name":"{}","channel":"room"}}"#,
        "é".repeat(65)
    );
    assert_eq!(json(&ask(&app, &long).await)["error"], "invalid_name");
}

#[actix_web::test]
async fn without_the_secret_there_is_no_token_endpoint() {
    for app in [
        spawn_app().await,
        spawn_app_with(settings(&[(
            "TOKEN_URL",
            "https://auth.example/chat-token",
        )]))
        .await,
    ] {
        let response = ask(
            &app,
            r#"{"client_id":"alice","name":"Alice","channel":"room"}"#,
        )
        .await;
        assert_eq!(response.status.as_u16(), 404);
    }
}

#[actix_web::test]
async fn one_address_gets_a_small_budget() {
    let app = guest_app().await;
    let body = r#"{"client_id":"alice","name":"Alice","channel":"room"}"#;
    for _ in 0..20 {
        assert_eq!(ask(&app, body).await.status.as_u16(), 200);
    }
    let refused = ask(&app, body).await;
    assert_eq!(refused.status.as_u16(), 429);
    assert_eq!(json(&refused)["error"], "rate_limited");
    assert_eq!(refused.header("retry-after"), "2");
}

#[actix_web::test]
async fn the_page_is_told_where_tokens_come_from() {
    let off = spawn_app().await.get("/c/room").await;
    assert!(!off.text().contains("data-token-"), "{}", off.text());

    let guest = guest_app().await.get("/c/room").await;
    assert!(
        guest
            .text()
            .contains(r#"data-token-url="/token" data-token-mode="guest""#),
        "{}",
        guest.text()
    );

    let operator = spawn_app_with(settings(&[(
        "TOKEN_URL",
        "https://Auth.example.test/chat/token?aud=chat",
    )]))
    .await
    .get("/")
    .await;
    assert!(
        operator.text().contains(
            r#"data-token-url="https://auth.example.test/chat/token?aud=chat" data-token-mode="operator""#
        ),
        "{}",
        operator.text()
    );
    assert!(
        operator
            .header("content-security-policy")
            .contains(&format!(
                "connect-src 'self' {BACKEND_ORIGIN} https://auth.example.test;"
            )),
        "{}",
        operator.header("content-security-policy")
    );
}
