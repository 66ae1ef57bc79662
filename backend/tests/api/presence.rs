//! Presence across instances: join on a client id's first connection, leave on its last.

use std::time::Duration;

use protocol::{PresenceEvent, ServerFrame};

use crate::{helpers::*, on_every_engine};

on_every_engine!(
    presence_follows_client_ids_across_instances,
    a_large_channel_hears_the_count_once_a_second_instead_of_each_join,
    join_leave_churn_reaches_members_coalesced,
);

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
            ..
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

/// What a member heard while others came and went: every `presence` event, and the counts
/// of the `online` frames in the order they came.
#[derive(Debug, Default)]
struct Heard {
    presence: Vec<(PresenceEvent, String, u64)>,
    counts: Vec<u64>,
}

/// Reads frames until `done` holds for what was heard, or panics after `patience`.
async fn listen(
    client: &mut Client,
    heard: &mut Heard,
    patience: Duration,
    done: impl Fn(&Heard) -> bool,
) {
    let deadline = tokio::time::Instant::now() + patience;
    while !done(heard) {
        let frame = tokio::time::timeout_at(deadline, client.next())
            .await
            .unwrap_or_else(|_| panic!("not heard in time: {heard:?}"));
        match frame {
            ServerFrame::Presence {
                event,
                client_id,
                online_count,
                ..
            } => heard
                .presence
                .push((event, client_id.to_string(), online_count)),
            ServerFrame::Online { online_count } => heard.counts.push(online_count),
            _ => {}
        }
    }
}

async fn a_large_channel_hears_the_count_once_a_second_instead_of_each_join(engine: Engine) {
    const CROWD: usize = 8;
    let d = Deployment::start(engine, &[("PRESENCE_DETAIL_MAX", "2")]).await;
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (_bob, _) = Client::join(&d.b().ws_url("room", "bob")).await;
    let mut heard = Heard::default();
    // Up to the limit, every join is announced.
    listen(&mut alice, &mut heard, PATIENCE, |h| {
        h.presence.iter().any(|(_, who, _)| who == "bob")
    })
    .await;
    assert_eq!(
        heard.presence.last(),
        Some(&(PresenceEvent::Join, "bob".into(), 2))
    );

    // Past it, members hear only the count, at most once a second per instance.
    let started = std::time::Instant::now();
    let mut crowd = Vec::new();
    for i in 0..CROWD {
        let app = if i % 2 == 0 { d.a() } else { d.b() };
        crowd.push(
            Client::join(&app.ws_url("room", &format!("guest{i}")))
                .await
                .0,
        );
    }
    let total = 2 + CROWD as u64;
    listen(&mut alice, &mut heard, PATIENCE, |h| {
        h.counts.last() == Some(&total)
    })
    .await;
    let seconds = started.elapsed().as_secs();
    assert!(
        heard
            .presence
            .iter()
            .all(|(_, who, _)| !who.starts_with("guest")),
        "a join was announced in a large channel: {heard:?}"
    );
    assert!(
        heard.counts.windows(2).all(|w| w[0] <= w[1]) && heard.counts.iter().all(|c| *c > 2),
        "{heard:?}"
    );
    let instances = if matches!(engine, Engine::Embedded) {
        1
    } else {
        2
    };
    assert!(
        heard.counts.len() as u64 <= instances * (seconds + 2),
        "{} counts in {seconds} s: {heard:?}",
        heard.counts.len()
    );

    // Back under the limit, events are announced again, and no older count overtakes them.
    heard = Heard::default();
    for guest in crowd {
        guest.close().await;
    }
    listen(&mut alice, &mut heard, PATIENCE, |h| {
        h.presence.iter().any(|(_, _, count)| *count == 2)
    })
    .await;
    let (event, who, _) = heard
        .presence
        .last()
        .cloned()
        .unwrap_or_else(|| unreachable!());
    assert_eq!(event, PresenceEvent::Leave);
    assert!(who.starts_with("guest"), "{heard:?}");
    let quiet = tokio::time::timeout(
        Duration::from_millis(1500),
        listen(&mut alice, &mut heard, PATIENCE, |h| !h.counts.is_empty()),
    )
    .await;
    assert!(quiet.is_err(), "a stale count after the leave: {heard:?}");
}

/// One client connects and disconnects 300 times as fast as it can, while another comes and
/// stays: a watching member hears about it in a bounded number of frames (once 600, one per
/// event), and ends up with the right view of who is online.
async fn join_leave_churn_reaches_members_coalesced(engine: Engine) {
    const CYCLES: u32 = 300;
    const BATCH_MS: u64 = 200;
    let d = Deployment::start(engine, &[("PRESENCE_BATCH_MS", "200")]).await;
    let (mut watcher, welcome) = Client::join(&d.a().ws_url("room", "watcher")).await;
    let mut online: std::collections::BTreeSet<String> = online(&welcome).0.into_iter().collect();
    let mut count = 0;
    let mut frames = 0;
    let mut apply = |frame: ServerFrame| {
        if let ServerFrame::Presence {
            event,
            client_id,
            online_count,
            ..
        } = frame
        {
            frames += 1;
            count = online_count;
            match event {
                PresenceEvent::Join => online.insert(client_id.to_string()),
                PresenceEvent::Leave => online.remove(client_id.as_str()),
            };
        }
    };
    let started = std::time::Instant::now();
    for i in 0..CYCLES {
        let (churner, _) = Client::join(&d.b().ws_url("room", "churner")).await;
        drop(churner);
        if i == CYCLES / 2 {
            let (stayer, _) = Client::join(&d.b().ws_url("room", "stayer")).await;
            std::mem::forget(stayer);
        }
    }
    let churn = started.elapsed();
    // Read what came, until nothing more for a few batches.
    while let Ok(frame) =
        tokio::time::timeout(Duration::from_millis(4 * BATCH_MS + 500), watcher.next()).await
    {
        apply(frame);
    }
    let windows = churn.as_millis() as u64 / BATCH_MS + 3;
    // At most one frame per client id (watcher, churner, stayer) per batch.
    let bound = 3 * windows;
    assert!(
        frames <= bound,
        "{frames} presence frames for {CYCLES} cycles in {churn:?} (bound {bound})"
    );
    let expected: std::collections::BTreeSet<String> =
        ["stayer", "watcher"].map(String::from).into();
    assert_eq!(online, expected);
    assert_eq!(count, 2);
}
