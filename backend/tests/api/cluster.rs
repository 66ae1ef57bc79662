//! Cluster mode specifics: channels spread over every shard, and Redis cost stays one
//! connection per node per instance, whatever the number of clients and channels.

use std::collections::HashMap;

use redis::Value;

use crate::{cluster_harness::RedisCluster, helpers::*};

/// The primary (by port) that owns each of the given keys' slots.
async fn owners(cluster: &RedisCluster, keys: &[String]) -> HashMap<String, u16> {
    let seed = cluster.nodes[0].port;
    let slots: Vec<Value> = RedisCluster::command(seed, redis::cmd("CLUSTER").arg("SLOTS"))
        .await
        .unwrap();
    let mut ranges = Vec::new();
    for range in slots {
        let Value::Array(parts) = range else { continue };
        let int = |v: &Value| match v {
            Value::Int(i) => *i,
            _ => -1,
        };
        let Some(Value::Array(primary)) = parts.get(2) else {
            continue;
        };
        ranges.push((int(&parts[0]), int(&parts[1]), int(&primary[1]) as u16));
    }
    let mut owners = HashMap::new();
    for key in keys {
        let slot: i64 = RedisCluster::command(seed, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .await
            .unwrap();
        let owner = ranges
            .iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .map(|(_, _, port)| *port)
            .unwrap();
        owners.insert(key.clone(), owner);
    }
    owners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_spread_over_every_shard_with_one_connection_per_node() {
    let d = Deployment::start(Engine::Cluster, &[]).await;
    let cluster = d.cluster.as_ref().unwrap();
    let primaries = cluster.primaries().await;
    assert_eq!(primaries.len(), 3);

    // Pick channels until every primary owns at least two of them.
    let candidates: Vec<String> = (0..60).map(|i| format!("room-{i}")).collect();
    let events: Vec<String> = candidates
        .iter()
        .map(|c| format!("{{chat:{c}}}:events"))
        .collect();
    let owner_of = owners(cluster, &events).await;
    let mut chosen: Vec<(String, u16)> = Vec::new();
    for primary in &primaries {
        let mine = candidates
            .iter()
            .filter(|c| owner_of[&format!("{{chat:{c}}}:events")] == *primary)
            .take(2);
        chosen.extend(mine.map(|c| (c.clone(), *primary)));
    }
    assert_eq!(
        chosen.len(),
        6,
        "every primary must own some of 60 channels"
    );

    let mut clients = Vec::new();
    for (i, (channel, _)) in chosen.iter().enumerate() {
        for (j, app) in d.instances.iter().enumerate() {
            let (mut client, _) = Client::join(&app.ws_url(channel, &format!("c{i}-{j}"))).await;
            client.say_acked("hello").await;
            clients.push(client);
        }
    }
    for (channel, primary) in &chosen {
        let shard_channel = format!("{{chat:{channel}}}:events");
        let counts: Vec<Value> = RedisCluster::command(
            *primary,
            redis::cmd("PUBSUB").arg("SHARDNUMSUB").arg(&shard_channel),
        )
        .await
        .unwrap();
        assert_eq!(
            counts.get(1),
            Some(&Value::Int(2)),
            "both instances subscribe {shard_channel} on its own shard"
        );
    }
    for primary in &primaries {
        let list: String = RedisCluster::command(*primary, redis::cmd("CLIENT").arg("LIST"))
            .await
            .unwrap();
        let subscribers = list
            .lines()
            .filter(|l| {
                l.split(' ')
                    .any(|f| f.starts_with("ssub=") && f != "ssub=0")
            })
            .count();
        assert_eq!(
            subscribers, 2,
            "one subscribing connection per instance:\n{list}"
        );
        // Each instance: one multiplexed connection per node for everything, plus the
        // cluster client's own management connection; plus our CLIENT LIST caller.
        assert!(list.lines().count() <= 2 * 2 + 1, "{list}");
    }
}
