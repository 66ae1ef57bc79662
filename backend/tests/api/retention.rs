//! Channels nobody uses are forgotten after `CHANNEL_TTL_SECS`, on every engine, and a
//! resume from a forgotten channel is honest about it (`recovered: false`).

use std::time::Duration;

use protocol::{Epoch, MessageId, ServerFrame};

use crate::{cluster_harness::RedisCluster, helpers::*, on_every_engine};

on_every_engine!(
    an_idle_channel_is_forgotten_and_its_resume_is_not_recovered,
    a_channel_in_use_is_kept_past_the_ttl,
);

/// A two-second TTL; nonces expire faster, so nothing of a forgotten channel lingers for
/// another reason. Presence keeps its 30 s TTL: its refresh (every 10 s) must not be what
/// keeps the channel in these short tests, only messages and joins.
const SHORT_TTL: &[(&str, &str)] = &[("CHANNEL_TTL_SECS", "2"), ("DEDUPE_WINDOW_SECS", "1")];
/// The same with presence refreshed three times a second: a connected member keeps the
/// channel in use.
const SHORT_TTL_FAST_PRESENCE: &[(&str, &str)] = &[
    ("CHANNEL_TTL_SECS", "2"),
    ("DEDUPE_WINDOW_SECS", "1"),
    ("PRESENCE_TTL_SECS", "1"),
];
const TTL: Duration = Duration::from_secs(2);

fn welcome_of(frame: &ServerFrame) -> (bool, Epoch) {
    match frame {
        ServerFrame::Welcome {
            recovered, epoch, ..
        } => (*recovered, epoch.clone().expect("an epoch")),
        other => panic!("not a welcome: {other:?}"),
    }
}

fn resume_url(app: &TestApp, client: &str, since: MessageId, epoch: &Epoch) -> String {
    format!("{}?since={since}&epoch={epoch}", app.ws_url("room", client))
}

/// How many keys the deployment's Redis holds (summed over a cluster's primaries); `None`
/// on the embedded bus.
async fn stored_keys(d: &Deployment) -> Option<u64> {
    if let Some(redis) = &d.redis {
        return Some(redis.command(&mut redis::cmd("DBSIZE")).await);
    }
    let cluster = d.cluster.as_ref()?;
    let mut total = 0;
    for port in cluster.primaries().await {
        total += RedisCluster::command::<u64>(port, &redis::cmd("DBSIZE"))
            .await
            .unwrap();
    }
    Some(total)
}

async fn an_idle_channel_is_forgotten_and_its_resume_is_not_recovered(engine: Engine) {
    let d = Deployment::start(engine, SHORT_TTL).await;
    let (mut alice, welcome) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (_, epoch) = welcome_of(&welcome);
    let first: MessageId = alice.say_acked("m0").await.parse().unwrap();
    let mut last = first;
    // Each message keeps the channel for another TTL: it outlives the first one.
    for i in 1..6 {
        tokio::time::sleep(TTL / 4).await;
        last = alice.say_acked(&format!("m{i}")).await.parse().unwrap();
    }
    let (bob, welcome) = Client::join(&resume_url(d.b(), "bob", first, &epoch)).await;
    assert!(
        welcome_of(&welcome).0,
        "the channel was kept by its messages"
    );
    bob.close().await;
    alice.close().await;
    if let Some(keys) = stored_keys(&d).await {
        assert!(keys > 0, "the channel is stored while in use");
    }

    // Nobody sends or joins for longer than the TTL: the channel is forgotten.
    tokio::time::sleep(TTL * 2).await;
    if let Some(keys) = stored_keys(&d).await {
        assert_eq!(keys, 0, "an idle channel leaves nothing behind");
    }
    let (mut bob, welcome) = Client::join(&resume_url(d.b(), "bob", last, &epoch)).await;
    let (recovered, epoch_now) = welcome_of(&welcome);
    assert!(!recovered, "the history bob resumed from expired");
    assert_ne!(epoch_now, epoch);
    bob.expect_no_message(Duration::from_millis(300)).await;
}

async fn a_channel_in_use_is_kept_past_the_ttl(engine: Engine) {
    let d = Deployment::start(engine, SHORT_TTL_FAST_PRESENCE).await;
    let (mut alice, welcome) = Client::join(&d.a().ws_url("room", "alice")).await;
    let (_, epoch) = welcome_of(&welcome);
    let x: MessageId = alice.say_acked("x").await.parse().unwrap();
    // Alice stays, silent, for two TTLs: a channel with a member is in use.
    tokio::time::sleep(TTL * 2).await;
    let (mut bob, welcome) = Client::join(&resume_url(d.b(), "bob", MessageId::ZERO, &epoch)).await;
    let (recovered, epoch_now) = welcome_of(&welcome);
    assert!(recovered, "the channel was kept while alice was in it");
    assert_eq!(epoch_now, epoch);
    assert_eq!(bob.next_message().await.id, x);
    drop(alice);
}
