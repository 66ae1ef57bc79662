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

    let a = d.a().port;
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
    let expected_connections = if d.instances.len() == 1 { 2.0 } else { 1.0 };
    assert_eq!(metric(a, "chat_connections").await, expected_connections);
    // Bob's instance delivered the three messages to him, and timed each.
    let b = d.b().port;
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
        let (_, text) = http_get_text(&app.http_url("/metrics")).await.unwrap();
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
