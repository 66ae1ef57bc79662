//! `Bus::presence`, the read-only roster (names included) the server API serves, on every
//! engine: what joins and leaves left, changing nothing itself.

use std::{collections::HashMap, sync::Arc, time::Duration};

use backend::{
    bus::{Bus, embedded::EmbeddedBus, redis::RedisBus},
    config::{BusSettings, Settings},
    hub::Hub,
    metrics::Metrics,
};
use protocol::{ChannelId, ClientId, DisplayName};

use crate::{cluster_harness::RedisCluster, helpers::*, on_every_engine};

on_every_engine!(presence_lists_who_is_in_with_their_names);

/// A bus of `engine` (with `extra` settings) and what it needs kept alive beside it.
async fn bus_of(
    engine: Engine,
    extra: &[(&str, &str)],
) -> (Arc<dyn Bus>, Option<RedisServer>, Option<RedisCluster>) {
    let mut vars: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (mut redis, mut cluster) = (None, None);
    match engine {
        Engine::Embedded => {}
        Engine::Redis => {
            let server = RedisServer::start().await;
            vars.insert("REDIS_URL".to_owned(), server.url());
            redis = Some(server);
        }
        Engine::Cluster => {
            let nodes = RedisCluster::start(3, 0).await;
            vars.insert("REDIS_CLUSTER_URLS".to_owned(), nodes.seeds());
            cluster = Some(nodes);
        }
    }
    let settings = Settings::from_vars(vars).unwrap();
    let metrics = Arc::new(Metrics::default());
    let hub = Arc::new(Hub::new(metrics.clone(), 100));
    let bus: Arc<dyn Bus> = match settings.bus {
        BusSettings::Embedded => EmbeddedBus::start(hub, settings.channels),
        BusSettings::Redis(r) => RedisBus::start(r, settings.channels, hub, metrics).unwrap(),
    };
    (bus, redis, cluster)
}

async fn presence_lists_who_is_in_with_their_names(engine: Engine) {
    let (bus, _redis, _cluster) = bus_of(engine, &[]).await;
    let room = ChannelId::parse("room").unwrap();
    let (zoe, anon) = (
        ClientId::parse("zoe").unwrap(),
        ClientId::parse("anon").unwrap(),
    );
    let name = DisplayName::parse("Zoë Smith").unwrap();
    join_when_up(&bus, &room, &zoe, Some(&name)).await;
    bus.join_presence(&room, &anon, None, &"i-2".into())
        .await
        .unwrap();

    let roster = bus.presence(&room).await.unwrap();
    let mut online: Vec<&str> = roster.online.iter().map(ClientId::as_str).collect();
    online.sort();
    assert_eq!((online, roster.online_count), (vec!["anon", "zoe"], 2));
    assert_eq!(roster.names.len(), 1);
    assert_eq!(roster.names.get(&zoe), Some(&name));
    // Reading changed nothing.
    assert_eq!(bus.presence(&room).await.unwrap(), roster);

    bus.leave_presence(&room, &zoe, &"i-1".into())
        .await
        .unwrap();
    let roster = bus.presence(&room).await.unwrap();
    assert_eq!((roster.online, roster.online_count), (vec![anon], 1));
    assert!(roster.names.is_empty());
    let empty = bus
        .presence(&ChannelId::parse("nobody").unwrap())
        .await
        .unwrap();
    assert_eq!((empty.online.len(), empty.online_count), (0, 0));
}

/// Joins `client` as connection `i-1`, retrying while Redis may still be starting up under
/// the bus.
async fn join_when_up(
    bus: &Arc<dyn Bus>,
    room: &ChannelId,
    client: &ClientId,
    name: Option<&DisplayName>,
) {
    for _ in 0..50 {
        if bus
            .join_presence(room, client, name, &"i-1".into())
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bus never answered");
}

/// A refresh pushes back the member's expiry in the roster itself, not only in its
/// connections: the read-only roster (which prunes nothing) still lists a member refreshed
/// before its TTL ran out, once the TTL from the join has; however many are refreshed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_member_stays_listed_past_the_ttl_of_its_join() {
    let (bus, _redis, _cluster) = bus_of(Engine::Redis, &[("PRESENCE_TTL_SECS", "1")]).await;
    let room = ChannelId::parse("room").unwrap();
    let zoe = ClientId::parse("zoe").unwrap();
    join_when_up(&bus, &room, &zoe, None).await;
    let joined = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Many members at once too (the script adds them to the roster in batches).
    let mut members = vec![(zoe.clone(), "i-1".into())];
    for i in 0..450 {
        members.push((ClientId::parse(&format!("m{i}")).unwrap(), "i-1".into()));
    }
    bus.refresh_presence(&room, &members).await.unwrap();
    tokio::time::sleep_until(joined + Duration::from_millis(1200)).await;
    let roster = bus.presence(&room).await.unwrap();
    // zoe's join set her to expire at 1 s: counted only if the refresh moved her on.
    assert_eq!(roster.online_count, 451);
}

/// The periodic refresh of every channel at once (on one Redis, in pipelines of scripts)
/// refreshes each channel, more than one pipeline's worth, even after Redis has forgotten
/// its scripts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_every_channel_at_once_refreshes_each() {
    let (bus, redis, _cluster) = bus_of(Engine::Redis, &[("PRESENCE_TTL_SECS", "3")]).await;
    let zoe = ClientId::parse("zoe").unwrap();
    let rooms: Vec<ChannelId> = (0..150)
        .map(|i| ChannelId::parse(&format!("room-{i}")).unwrap())
        .collect();
    let first = tokio::time::Instant::now();
    for room in &rooms {
        join_when_up(&bus, room, &zoe, None).await;
    }
    let last = tokio::time::Instant::now();
    assert!(
        last - first < Duration::from_secs(2),
        "joins took {:?}",
        last - first
    );
    let _: String = redis
        .as_ref()
        .unwrap()
        .command(redis::cmd("SCRIPT").arg("FLUSH"))
        .await;
    tokio::time::sleep_until(last + Duration::from_millis(500)).await;
    let channels: Vec<_> = rooms
        .iter()
        .map(|room| (room.clone(), vec![(zoe.clone(), "i-1".into())]))
        .collect();
    let failed = bus.refresh_presence_all(&channels).await;
    assert!(failed.is_empty(), "{failed:?}");
    // Every join's own expiry has passed; only the refresh keeps zoe listed.
    tokio::time::sleep_until(last + Duration::from_millis(3100)).await;
    let mut missing = Vec::new();
    for room in &rooms {
        if bus.presence(room).await.unwrap().online_count != 1 {
            missing.push(room.to_string());
        }
    }
    assert!(missing.is_empty(), "not refreshed: {missing:?}");
}
