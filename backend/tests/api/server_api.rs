//! The server API (`/api/v1`), as an app that embeds the chat calls it: over HTTP with a key,
//! on one instance, while the members it concerns are connected to the other.

use std::time::Duration;

use protocol::DisplayName;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{helpers::*, names::named_url, on_every_engine};

const KEY: &str = "test-api-key-0123456789abcdef";
const OTHER_KEY: &str = "previous-api-key-0123456789abcdef";

/// One HTTP call: status, head and the body as JSON (null when it is not JSON).
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String, serde_json::Value) {
    let host = format!("127.0.0.1:{}", app.port);
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(key) = key {
        request.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, head.to_owned(), json)
}

async fn post(app: &TestApp, channel: &str, message: &str, key: Option<&str>) -> serde_json::Value {
    let body = serde_json::json!({"message": message, "idempotency_key": key}).to_string();
    let path = format!("/api/v1/channels/{channel}/messages");
    let (status, _, json) = call(app, "POST", &path, Some(KEY), Some(&body)).await;
    assert_eq!(status, 201, "{json}");
    json
}

#[tokio::test]
async fn the_api_is_off_without_keys_and_refuses_calls_without_one() {
    let off = TestApp::spawn(None, &[]);
    let (status, _, json) = call(
        &off,
        "GET",
        "/api/v1/channels/room/presence",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!((status, json["error"].as_str()), (404, Some("not_found")));

    let keys = format!("{KEY},{OTHER_KEY}");
    let on = TestApp::spawn(None, &[("API_KEYS", &keys)]);
    let path = "/api/v1/channels/room/presence";
    for key in [
        None,
        Some("wrong-key-0123456789abcdefgh"),
        Some(&KEY[..KEY.len() - 1]),
    ] {
        let (status, head, json) = call(&on, "GET", path, key, None).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (401, Some("unauthorized")),
            "{key:?}"
        );
        assert!(
            head.to_lowercase().contains("www-authenticate: bearer"),
            "{head}"
        );
    }
    for key in [KEY, OTHER_KEY] {
        assert_eq!(call(&on, "GET", path, Some(key), None).await.0, 200);
    }
    // Calls it cannot serve say why, in the same shape.
    let (status, _, json) = call(
        &on,
        "POST",
        "/api/v1/channels/room/messages",
        Some(KEY),
        Some("{}"),
    )
    .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("bad_request")),
        "{json}"
    );
    let (status, _, json) = call(
        &on,
        "GET",
        "/api/v1/channels/__control/presence",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 400, "{json}");
    let (status, _, _) = call(&on, "GET", "/api/v1/nothing", Some(KEY), None).await;
    assert_eq!(status, 404);
}

on_every_engine!(posts_reach_every_member_once_and_stay_in_history);

async fn posts_reach_every_member_once_and_stay_in_history(engine: Engine) {
    let d = Deployment::start(engine, &[("API_KEYS", KEY)]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let first = post(d.a(), "room", "Deploy finished", Some("deploy-42")).await;
    // The same idempotency key again: nothing new, the first id.
    let again = post(d.b(), "room", "Deploy finished", Some("deploy-42")).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["client_id"], "system");
    for member in [&mut alice, &mut bob] {
        let heard = member.next_message().await;
        assert_eq!(heard.id.to_string(), first["id"].as_str().unwrap());
        assert_eq!(heard.client_id.as_str(), "system");
        assert_eq!(heard.name.as_ref().map(DisplayName::as_str), Some("System"));
        assert_eq!(heard.message, "Deploy finished");
        member.expect_no_message(Duration::from_millis(300)).await;
    }
    let (status, _, page) = call(
        d.b(),
        "GET",
        "/api/v1/channels/room/messages",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["id"], first["id"]);
    assert_eq!(page["more"], false);
}

on_every_engine!(history_pages_back_and_forth_without_gaps);

async fn history_pages_back_and_forth_without_gaps(engine: Engine) {
    let d = Deployment::start(engine, &[("API_KEYS", KEY), ("HISTORY_MAX", "100")]).await;
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(
            post(d.a(), "busy", &format!("m{i}"), None).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let kept = &ids[20..];
    let page = |query: String| {
        let app = d.b();
        async move {
            let path = format!("/api/v1/channels/busy/messages{query}");
            let (status, _, json) = call(app, "GET", &path, Some(KEY), None).await;
            assert_eq!(status, 200, "{json}");
            let ids: Vec<String> = json["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, json["more"].as_bool().unwrap())
        }
    };
    // Newest first by pages, back to the oldest kept: every kept message once, in order.
    let (newest, more) = page("?limit=40".into()).await;
    assert_eq!((newest.as_slice(), more), (&kept[60..], true));
    let (middle, more) = page(format!("?before={}&limit=40", newest[0])).await;
    assert_eq!((middle.as_slice(), more), (&kept[20..60], true));
    let (oldest, more) = page(format!("?before={}&limit=40", middle[0])).await;
    assert_eq!((oldest.as_slice(), more), (&kept[..20], false));
    // Forward from an id that is kept.
    let (after, more) = page(format!("?after={}&limit=30", kept[10])).await;
    assert_eq!((after.as_slice(), more), (&kept[11..41], true));
    // From one that is no longer kept: the caller is told, not given a gap.
    let path = format!("/api/v1/channels/busy/messages?after={}", ids[5]);
    let (status, _, json) = call(d.b(), "GET", &path, Some(KEY), None).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (410, Some("gone")),
        "{json}"
    );
    for bad in [
        "?limit=0",
        "?limit=101",
        "?before=x",
        "?before=1-0&after=2-0",
        "?page=2",
    ] {
        let path = format!("/api/v1/channels/busy/messages{bad}");
        assert_eq!(
            call(d.b(), "GET", &path, Some(KEY), None).await.0,
            400,
            "{bad}"
        );
    }
}

on_every_engine!(presence_lists_who_is_online_with_names);

async fn presence_lists_who_is_online_with_names(engine: Engine) {
    let d = Deployment::start(engine, &[("API_KEYS", KEY)]).await;
    let (_zoe, _) = Client::join(&named_url(d.a(), "room", "zoe", "Zoë Smith")).await;
    let (_li, _) = Client::join(&named_url(d.b(), "room", "li", "李雷")).await;
    let (_anon, _) = Client::join(&d.b().ws_url("room", "anon")).await;
    let (status, _, json) = call(
        d.a(),
        "GET",
        "/api/v1/channels/room/presence",
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json["online_count"], 3);
    let mut online: Vec<(String, serde_json::Value)> = json["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["client_id"].as_str().unwrap().to_owned(),
                e["name"].clone(),
            )
        })
        .collect();
    online.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        online,
        [
            ("anon".to_owned(), serde_json::Value::Null),
            ("li".to_owned(), "李雷".into()),
            ("zoe".to_owned(), "Zoë Smith".into()),
        ]
    );
}

on_every_engine!(a_disconnect_closes_the_client_wherever_it_is_connected);

async fn a_disconnect_closes_the_client_wherever_it_is_connected(engine: Engine) {
    let d = Deployment::start(engine, &[("API_KEYS", KEY)]).await;
    let (mut troll_here, _) = Client::join(&d.b().ws_url("room", "troll")).await;
    let (mut troll_there, _) = Client::join(&d.b().ws_url("other", "troll")).await;
    let (mut alice, _) = Client::join(&d.b().ws_url("room", "alice")).await;

    // From one channel, through the other instance.
    let path = "/api/v1/channels/room/clients/troll?reason=spamming%20links";
    let (status, _, _) = call(d.a(), "DELETE", path, Some(KEY), None).await;
    assert_eq!(status, 202);
    let close = troll_here.closed().await.expect("a close frame");
    assert_eq!(
        (u16::from(close.code), close.reason.as_str()),
        (4000, "spamming links")
    );
    troll_there.say_acked("still here elsewhere").await;
    alice.say_acked("still here").await;

    // From every channel.
    let (mut again, _) = Client::join(&d.a().ws_url("room", "troll")).await;
    let (status, _, _) = call(d.a(), "DELETE", "/api/v1/clients/troll", Some(KEY), None).await;
    assert_eq!(status, 202);
    for member in [&mut troll_there, &mut again] {
        let close = member.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 4000);
        assert_eq!(close.reason.as_str(), "disconnected by the server");
    }
    alice.say_acked("alice stays").await;
    // Clients cannot join the channel that carries it.
    let refused = Client::try_connect(&d.a().ws_url("__control", "eve"), &[]).await;
    assert_eq!(refused.err().map(|r| r.status), Some(400));
}
