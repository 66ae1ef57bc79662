//! `typing`: passed on to the channel's other members on every instance, never to the
//! sender's own connections, never stored, and at most one per client id per 2 s, whichever
//! instances its connections are on.

use std::time::Duration;

use protocol::{DisplayName, ServerFrame};

use crate::{helpers::*, names::named_url, on_every_engine, paging::page_before};

on_every_engine!(typing_reaches_the_others_once_per_two_seconds_and_is_not_kept);

/// Reads until the message `text`, returning how many typing frames came first (and who
/// they named).
async fn typing_before(client: &mut Client, text: &str) -> Vec<(String, Option<String>)> {
    let mut typing = Vec::new();
    loop {
        match client.next().await {
            ServerFrame::Typing { client_id, name } => {
                typing.push((client_id.into_string(), name.map(DisplayName::into_string)))
            }
            ServerFrame::Message(m) if m.message == text => return typing,
            _ => {}
        }
    }
}

async fn typing_reaches_the_others_once_per_two_seconds_and_is_not_kept(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, _) = Client::join(&named_url(d.a(), "room", "alice", "李雷")).await;
    let (mut alice_too, _) = Client::join(&d.b().ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;

    for _ in 0..10 {
        alice.send_text(r#"{"type":"typing"}"#).await;
    }
    // The signal and the message travel the same ordered path: typing arrives first.
    alice.say_acked("burst done").await;
    let heard = typing_before(&mut bob, "burst done").await;
    assert_eq!(heard, [("alice".to_owned(), Some("李雷".to_owned()))]);
    assert!(typing_before(&mut alice, "burst done").await.is_empty());
    assert!(typing_before(&mut alice_too, "burst done").await.is_empty());

    // Within the 2 s: dropped.
    alice.send_text(r#"{"type":"typing"}"#).await;
    alice.say_acked("still within").await;
    assert!(typing_before(&mut bob, "still within").await.is_empty());
    // After: passed on again, once for the client id, from whichever of its connections
    // on the instance.
    let (mut alice_again, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    alice.send_text(r#"{"type":"typing"}"#).await;
    alice_again.send_text(r#"{"type":"typing"}"#).await;
    // (Not `say_acked`: its nonces would repeat alice's, and a repeated nonce is a retry.)
    alice.say_acked("later").await;
    let mut heard = typing_before(&mut bob, "later").await;
    alice_again
        .send_text(r#"{"type":"send","message":"later still","nonce":"again-1"}"#)
        .await;
    heard.extend(typing_before(&mut bob, "later still").await);
    assert_eq!(heard.len(), 1, "{heard:?}");

    // The same client id typing on both instances at once: still one, not one per instance.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    alice.send_text(r#"{"type":"typing"}"#).await;
    alice_too.send_text(r#"{"type":"typing"}"#).await;
    // Both have long reached every instance before the message that ends the count is sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    alice_too
        .send_text(r#"{"type":"send","message":"both at once","nonce":"too-1"}"#)
        .await;
    let heard = typing_before(&mut bob, "both at once").await;
    assert_eq!(heard.len(), 1, "{heard:?}");

    // Not history: a page has the three messages only, and a new member hears no typing.
    let (page, _) = page_before(&mut bob, "99999999999999-0", 50).await;
    assert_eq!(page.len(), 5);
    let (mut carol, _) = Client::join(&d.a().ws_url("room", "carol")).await;
    bob.say_acked("for carol").await;
    assert!(typing_before(&mut carol, "for carol").await.is_empty());
}
