//! `Bus::presence`, the read-only roster (names included) the server API serves, on every
//! engine: what joins and leaves left, changing nothing itself.

use std::{collections::HashMap, sync::Arc};

use backend::{
    bus::{Bus, embedded::EmbeddedBus, redis::RedisBus},
    config::{BusSettings, Settings},
    hub::Hub,
    metrics::Metrics,
};
use protocol::{ChannelId, ClientId, DisplayName};

use crate::{cluster_harness::RedisCluster, helpers::*, on_every_engine};

on_every_engine!(presence_lists_who_is_in_with_their_names);

/// A bus of `engine` with what it needs kept alive beside it.
async fn bus_of(engine: Engine) -> (Arc<dyn Bus>, Option<RedisServer>, Option<RedisCluster>) {
    let mut vars = HashMap::new();
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
    let (bus, _redis, _cluster) = bus_of(engine).await;
    let room = ChannelId::parse("room").unwrap();
    let (zoe, anon) = (
        ClientId::parse("zoe").unwrap(),
        ClientId::parse("anon").unwrap(),
    );
    let name = DisplayName::parse("Zoë Smith").unwrap();
    // Redis may still be starting up under the bus: the first call may need a retry.
    let mut joined = None;
    for _ in 0..50 {
        match bus
            .join_presence(&room, &zoe, Some(&name), &"i-1".into())
            .await
        {
            Ok(roster) => {
                joined = Some(roster);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert!(joined.is_some(), "the bus never answered");
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
