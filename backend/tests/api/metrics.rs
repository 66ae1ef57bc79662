//! `/metrics` counts what happened, per instance.

use protocol::ServerFrame;

use crate::{helpers::*, on_every_engine};

on_every_engine!(metrics_count_messages_errors_and_connections);

async fn metrics_count_messages_errors_and_connections(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    for i in 0..3 {
        alice.say_acked(&format!("m{i}")).await;
    }
    alice.send_text("not json").await;
    loop {
        if let ServerFrame::Error { .. } = alice.reply().await {
            break;
        }
    }
    bob.messages(3).await;

    let a = d.a().metrics_port;
    assert_eq!(metric(a, "chat_messages_in_total").await, 3.0);
    assert_eq!(
        metric(a, r#"chat_errors_total{code="bad_frame"}"#).await,
        1.0
    );
    assert_eq!(
        metric(a, r#"chat_errors_total{code="unavailable"}"#).await,
        0.0
    );
    assert_eq!(metric(a, "chat_channels").await, 1.0);
    // Alice's join read its first page of history, alone or shared with another joiner's.
    let reads = metric(a, "chat_history_reads_total").await
        + metric(a, "chat_history_reads_shared_total").await;
    assert_eq!(reads, if d.instances.len() == 1 { 2.0 } else { 1.0 });
    let expected_connections = if d.instances.len() == 1 { 2.0 } else { 1.0 };
    assert_eq!(metric(a, "chat_connections").await, expected_connections);
    // Bob's instance delivered the three messages to him, and timed each.
    let b = d.b().metrics_port;
    assert!(metric(b, "chat_messages_out_total").await >= 3.0);
    assert!(metric(b, "chat_pubsub_lag_seconds_count").await >= 3.0);
}

on_every_engine!(welcome_names_the_instance_as_metrics_do);

async fn welcome_names_the_instance_as_metrics_do(engine: Engine) {
    let d = Deployment::start(engine, &[("K_REVISION", "rev-7")]).await;
    let mut names = Vec::new();
    for app in &d.instances {
        let (_client, welcome) = Client::join(&app.ws_url("room", "alice")).await;
        let ServerFrame::Welcome { instance, .. } = welcome else {
            unreachable!()
        };
        assert!(instance.starts_with("rev-7-"), "{instance}");
        let (_, text) = http_get_text(&format!("http://127.0.0.1:{}/metrics", app.metrics_port))
            .await
            .unwrap();
        assert!(text.contains(&format!(
            "chat_instance_info{{instance_id=\"{instance}\"}} 1"
        )));
        names.push(instance);
    }
    names.dedup();
    assert_eq!(
        names.len(),
        d.instances.len(),
        "instances must not share an id"
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_only() {
    let app = TestApp::spawn(None, &[]);
    let (status, _) = http_get_text(&app.http_url("/metrics")).await.unwrap();
    assert_eq!(status, 404, "the public port must not serve /metrics");
    let (status, text) = http_get_text(&format!("http://127.0.0.1:{}/metrics", app.metrics_port))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("chat_build_info{version=\""), "{text}");
    let rss = metric(app.metrics_port, "process_resident_memory_bytes").await;
    assert!(rss > 1_048_576.0, "resident memory {rss}");
    assert!(metric(app.metrics_port, "process_open_fds").await >= 4.0);
    assert!(metric(app.metrics_port, "process_cpu_seconds_total").await >= 0.0);
    let started = metric(app.metrics_port, "process_start_time_seconds").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started <= now && started > now - 600.0,
        "{started} vs {now}"
    );
}

const SECRET: &str = "metrics-secret-that-is-long-enough-0123456789";

#[tokio::test]
async fn refused_upgrades_are_counted_by_reason() {
    let app = TestApp::spawn(
        None,
        &[
            ("AUTH_JWT_SECRET", SECRET),
            ("MAX_CONNECTIONS_PER_CLIENT", "1"),
        ],
    );
    let refused = |reason: &str| {
        let series = format!("chat_upgrades_refused_total{{reason=\"{reason}\"}}");
        let port = app.metrics_port;
        async move { metric(port, &series).await }
    };
    for reason in [
        "bad_request",
        "token",
        "origin",
        "not_websocket",
        "limit_client",
    ] {
        assert_eq!(refused(reason).await, 0.0, "{reason}");
    }

    let authority = backend::auth::TokenAuthority::new(SECRET.as_bytes());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = authority.issue(&backend::auth::Claims {
        sub: "alice".into(),
        exp,
        nbf: None,
        channels: None,
        name: None,
    });
    let with_token = |channel: &str| format!("{}?token={token}", app.ws_url(channel, "alice"));

    // An invalid channel id, twice.
    for _ in 0..2 {
        let refusal = Client::try_connect(&with_token("no%20spaces"), &[]).await;
        assert_eq!(refusal.err().map(|r| r.status), Some(400));
    }
    // No token.
    let refusal = Client::try_connect(&app.ws_url("room", "alice"), &[]).await;
    assert_eq!(refusal.err().map(|r| r.status), Some(401));
    // A browser from a page the backend does not serve: refused with a close code.
    let Ok(mut evil) =
        Client::try_connect(&with_token("room"), &[("Origin", "http://evil.example")]).await
    else {
        panic!("a browser's refusal is a close after the upgrade");
    };
    assert_eq!(evil.closed().await.map(|c| u16::from(c.code)), Some(4403));
    // A plain GET of the WebSocket path.
    let path = format!("/ws/room/alice?token={token}");
    let (status, _) = http_get(&app.http_url(&path)).await.unwrap();
    assert_eq!(status, 400);
    // A second connection for a client allowed one.
    let (_alice, _) = Client::join(&with_token("room")).await;
    let refusal = Client::try_connect(&with_token("room"), &[]).await;
    assert_eq!(refusal.err().map(|r| r.status), Some(429));

    assert_eq!(refused("bad_request").await, 2.0);
    assert_eq!(refused("token").await, 1.0);
    assert_eq!(refused("origin").await, 1.0);
    assert_eq!(refused("not_websocket").await, 1.0);
    assert_eq!(refused("limit_client").await, 1.0);
    assert_eq!(refused("limit_address").await, 0.0);
}

/// A client that keeps being refused is logged once per reason, not once per attempt.
#[tokio::test]
async fn refusals_are_logged_once_per_source_and_reason() {
    use tokio::io::AsyncBufReadExt;

    let port = free_port();
    let metrics_port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("PORT", port.to_string())
        .env("METRICS_PORT", metrics_port.to_string())
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("backend binary");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut ready = false;
    for _ in 0..100 {
        if matches!(
            http_get(&format!("http://127.0.0.1:{port}/readyz")).await,
            Ok((200, _))
        ) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "backend did not become ready");

    let url = |channel: &str| format!("ws://127.0.0.1:{port}/ws/{channel}/alice");
    for _ in 0..30 {
        let refusal = Client::try_connect(&url("no%20spaces"), &[]).await;
        assert_eq!(refusal.err().map(|r| r.status), Some(400));
    }
    for _ in 0..10 {
        let (status, _) = http_get(&format!("http://127.0.0.1:{port}/ws/room/alice"))
            .await
            .unwrap();
        assert_eq!(status, 400);
    }
    assert_eq!(
        metric(
            metrics_port,
            r#"chat_upgrades_refused_total{reason="bad_request"}"#
        )
        .await,
        30.0
    );
    let _ = child.start_kill();
    let _ = child.wait().await;

    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut refusal_lines = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(std::time::Duration::from_secs(5), lines.next_line()).await
    {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Refused a WebSocket upgrade"))
        {
            refusal_lines.push(entry);
        }
    }
    let reasons: Vec<&str> = refusal_lines
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["bad_request", "not_websocket"],
        "{refusal_lines:#?}"
    );
    assert_eq!(refusal_lines[0]["source"], "127.0.0.1");
    // The second line says how many were left out before it.
    assert_eq!(refusal_lines[1]["suppressed"], 29);
}
