//! A send that no replica confirms in time was still stored and published: its sender hears
//! `not_confirmed`, never "not stored", and a resend with the same nonce is acked with the
//! original id once a replica has the message — never a second message.

use std::time::Duration;

use protocol::{ErrorCode, MessageId, ServerFrame};

use crate::{cluster_harness::RedisCluster, helpers::*};

/// Acks wait for one replica, briefly, so a paused replica shows at once.
const WAITING: [(&str, &str); 2] = [
    ("REDIS_WAIT_REPLICAS", "1"),
    ("REDIS_WAIT_TIMEOUT_MS", "300"),
];

fn send_frame(message: &str, nonce: &str) -> String {
    serde_json::json!({"type": "send", "message": message, "nonce": nonce}).to_string()
}

/// The answer to the send with `nonce`: its `ack` id, or its `error` code and text. Any
/// `message` frames read meanwhile are collected in `seen`.
async fn answer(
    client: &mut Client,
    nonce: &str,
    seen: &mut Vec<MessageId>,
) -> Result<MessageId, (ErrorCode, String)> {
    loop {
        match client.next().await {
            ServerFrame::Ack { nonce: n, id } if n.as_deref() == Some(nonce) => return Ok(id),
            ServerFrame::Error {
                code,
                message,
                nonce: n,
            } if n.as_deref() == Some(nonce) => return Err((code, message)),
            ServerFrame::Message(m) => seen.push(m.id),
            _ => {}
        }
    }
}

/// Waits until `instances` backends have asked `primary` for its replicas (`ROLE`): they
/// then know of the replica, which was in sync before they started, and acks wait for it.
async fn wait_until_replicas_known(primary: &RedisServer, instances: u64) {
    for _ in 0..100 {
        let stats: String = primary
            .command(redis::cmd("INFO").arg("commandstats"))
            .await;
        let calls = stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_role:calls="))
            .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0);
        if calls >= instances {
            // Counted calls may all be one instance's (a retry): past one refresh period
            // every instance has read the replicas at least once since it started.
            tokio::time::sleep(Duration::from_secs(6)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the instances never asked for the replicas");
}

/// Resends until acked (the replica catches up within a few waits); the ack's id.
async fn resend_until_acked(client: &mut Client, message: &str, nonce: &str) -> MessageId {
    let mut seen = Vec::new();
    for _ in 0..20 {
        client.send_text(send_frame(message, nonce)).await;
        match answer(client, nonce, &mut seen).await {
            Ok(id) => {
                assert!(seen.is_empty(), "a resend delivered {seen:?} again");
                return id;
            }
            Err((ErrorCode::NotConfirmed, _)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(other) => panic!("resend refused: {other:?}"),
        }
    }
    panic!("the resend was never acked after the replica came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_no_replica_confirms_is_not_confirmed_and_its_resend_acks_the_original() {
    let primary = RedisServer::start().await;
    let replica = RedisServer::start_replica_of(&primary).await;
    let url = primary.url();
    let (a, b) = (
        TestApp::spawn(Some(&url), &WAITING),
        TestApp::spawn(Some(&url), &WAITING),
    );
    wait_until_replicas_known(&primary, 2).await;
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    // Alice's second tab, on the other instance, whose connections wrote nothing since.
    let (mut alice_tab, _) = Client::join(&b.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    // Acked while the replica answers; and the replica has everything written so far.
    let first = alice.say_acked("confirmed").await;
    assert_eq!(bob.next_message().await.id.to_string(), first);
    assert_eq!(alice_tab.next_message().await.id.to_string(), first);
    assert_eq!(alice.next_message().await.id.to_string(), first);

    replica.signal("STOP");
    alice.send_text(send_frame("held", "n-held")).await;
    let mut seen = Vec::new();
    let (code, text) = answer(&mut alice, "n-held", &mut seen)
        .await
        .expect_err("acked although the replica is stopped");
    assert_eq!(code, ErrorCode::NotConfirmed, "{text}");
    assert!(text.contains("stored"), "{text}");
    assert!(text.contains("same nonce"), "{text}");
    // It was stored and published: everyone has it, with its id, the sender included.
    let held = bob.next_message().await;
    assert_eq!(held.message, "held");
    assert_eq!(alice_tab.next_message().await.id, held.id);
    if seen.is_empty() {
        seen.push(alice.next_message().await.id);
    }
    assert_eq!(seen, [held.id]);

    // A resend on a connection that wrote nothing since is not acked while no replica has
    // the original either.
    alice_tab.send_text(send_frame("held", "n-held")).await;
    let mut again = Vec::new();
    let still = answer(&mut alice_tab, "n-held", &mut again).await;
    assert!(
        matches!(still, Err((ErrorCode::NotConfirmed, _))),
        "a resend was answered {still:?} while the replica was stopped"
    );
    assert!(
        again.is_empty(),
        "the resend was delivered again: {again:?}"
    );

    replica.signal("CONT");
    assert_eq!(
        resend_until_acked(&mut alice_tab, "held", "n-held").await,
        held.id
    );
    // Shown once: nothing more reaches anyone, and the history has it once.
    bob.expect_no_message(Duration::from_millis(500)).await;
    alice.expect_no_message(Duration::from_millis(100)).await;
    let (mut carol, _) = Client::join(&a.ws_url("room", "carol")).await;
    let history: Vec<String> = carol.message_texts(2).await;
    assert_eq!(history, ["confirmed", "held"]);
    carol.expect_no_message(Duration::from_millis(300)).await;
}

/// The same on a cluster whose replicas stop answering: the sender hears `not_confirmed`
/// while the other instance's client has the message, and the resend is acked with its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_send_no_replica_confirms_is_not_confirmed_and_its_resend_acks_the_original()
{
    let cluster = RedisCluster::start(3, 1).await;
    let seeds = cluster.seeds();
    let env: Vec<(&str, &str)> = WAITING
        .into_iter()
        .chain([("REDIS_CLUSTER_URLS", seeds.as_str())])
        .collect();
    let (a, b) = (TestApp::spawn(None, &env), TestApp::spawn(None, &env));
    for app in [&a, &b] {
        crate::redis_faults::wait_until_ready(app).await;
    }
    let (mut alice, _) = Client::join(&a.ws_url("room", "alice")).await;
    let (mut bob, _) = Client::join(&b.ws_url("room", "bob")).await;
    let first = alice.say_acked("confirmed").await;
    assert_eq!(bob.next_message().await.id.to_string(), first);
    assert_eq!(alice.next_message().await.id.to_string(), first);

    // Every replica stops; the send follows at once, before the cluster marks them failed
    // (the node timeout is 1 s) and the instances stop waiting for them.
    let replicas = cluster.replicas().await;
    assert_eq!(replicas.len(), 3);
    for replica in &replicas {
        replica.signal("STOP");
    }
    alice.send_text(send_frame("held", "n-held")).await;
    let mut seen = Vec::new();
    let refused = answer(&mut alice, "n-held", &mut seen).await;
    for replica in &replicas {
        replica.signal("CONT");
    }
    let (code, text) = refused.expect_err("acked although every replica is stopped");
    assert_eq!(code, ErrorCode::NotConfirmed, "{text}");
    let held = bob.next_message().await;
    assert_eq!(held.message, "held");
    if seen.is_empty() {
        seen.push(alice.next_message().await.id);
    }
    assert_eq!(seen, [held.id]);

    assert_eq!(
        resend_until_acked(&mut alice, "held", "n-held").await,
        held.id
    );
    bob.expect_no_message(Duration::from_millis(500)).await;
    let (mut carol, _) = Client::join(&b.ws_url("room", "carol")).await;
    let history: Vec<String> = carol.message_texts(2).await;
    assert_eq!(history, ["confirmed", "held"]);
}
