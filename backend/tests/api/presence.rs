//! Presence across instances: join on a client id's first connection, leave on its last.

use std::time::Duration;

use protocol::{PresenceEvent, ServerFrame};

use crate::{helpers::*, on_every_engine};

on_every_engine!(presence_follows_client_ids_across_instances);

fn online(welcome: &ServerFrame) -> (Vec<String>, u64) {
    match welcome {
        ServerFrame::Welcome {
            online,
            online_count,
            ..
        } => {
            let mut ids: Vec<String> = online.iter().map(|c| c.to_string()).collect();
            ids.sort();
            (ids, *online_count)
        }
        other => panic!("not a welcome: {other:?}"),
    }
}

async fn next_presence(client: &mut Client) -> (PresenceEvent, String, u64) {
    loop {
        if let ServerFrame::Presence {
            event,
            client_id,
            online_count,
        } = client.next().await
        {
            return (event, client_id.to_string(), online_count);
        }
    }
}

async fn presence_follows_client_ids_across_instances(engine: Engine) {
    let d = Deployment::start(engine, &[]).await;
    let (mut alice, welcome) = Client::join(&d.a().ws_url("room", "alice")).await;
    assert_eq!(online(&welcome), (vec!["alice".into()], 1));

    let (bob, welcome) = Client::join(&d.b().ws_url("room", "bob")).await;
    assert_eq!(online(&welcome), (vec!["alice".into(), "bob".into()], 2));
    // Alice's own join may reach her too; what matters is bob's.
    let mut event = next_presence(&mut alice).await;
    if event.1 == "alice" {
        event = next_presence(&mut alice).await;
    }
    assert_eq!(event, (PresenceEvent::Join, "bob".into(), 2));

    // A second connection of bob's is not a join, and closing one of two is not a leave.
    let (bob_again, welcome) = Client::join(&d.a().ws_url("room", "bob")).await;
    assert_eq!(online(&welcome).1, 2);
    bob.close().await;
    alice.expect_no_message(Duration::from_millis(300)).await;
    let quiet = tokio::time::timeout(Duration::from_millis(300), next_presence(&mut alice)).await;
    assert!(quiet.is_err(), "unexpected presence event {quiet:?}");

    bob_again.close().await;
    assert_eq!(
        next_presence(&mut alice).await,
        (PresenceEvent::Leave, "bob".into(), 1)
    );
}

/// An instance that dies without cleaning up (SIGKILL) leaves no ghost for longer than the
/// presence TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_leaves_no_ghosts_beyond_the_ttl() {
    const TTL: &[(&str, &str)] = &[("PRESENCE_TTL_SECS", "2")];
    let redis = RedisServer::start().await;
    let mut doomed = BackendProcess::start(&[("REDIS_URL", &redis.url()), TTL[0]]).await;
    let survivor = TestApp::spawn(Some(&redis.url()), TTL);

    let (_ghost, _) = Client::join(&doomed.ws_url("room", "ghost")).await;
    let (mut alice, welcome) = Client::join(&survivor.ws_url("room", "alice")).await;
    assert_eq!(online(&welcome), (vec!["alice".into(), "ghost".into()], 2));

    doomed.kill();
    let killed = std::time::Instant::now();
    // The survivor announces the ghost's leave once its presence has expired (TTL, plus at
    // most one refresh period of a third of it).
    let mut event = next_presence(&mut alice).await;
    if event.1 == "alice" {
        event = next_presence(&mut alice).await;
    }
    assert_eq!(event, (PresenceEvent::Leave, "ghost".into(), 1));
    assert!(
        killed.elapsed() < Duration::from_millis(4000),
        "{:?}",
        killed.elapsed()
    );
    let (_bob, welcome) = Client::join(&survivor.ws_url("room", "bob")).await;
    assert_eq!(
        online(&welcome),
        (vec!["alice".into(), "bob".into()], 2),
        "the killed instance's client is still listed"
    );
}
