//! Everything refused before the upgrade gets an HTTP status and a JSON body.

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    bad_ids_and_since_are_400_with_json,
    a_plain_get_is_400_with_json,
    foreign_browser_origins_are_403,
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

async fn foreign_browser_origins_are_403(engine: Engine) {
    let d = Deployment::start(engine, &[("ALLOWED_ORIGINS", "https://chat.example.com")]).await;
    let url = d.a().ws_url("room", "alice");
    let refused = Client::try_connect(&url, &[("Origin", "https://evil.example")])
        .await
        .err()
        .expect("foreign origin accepted");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"], "origin_not_allowed");
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
