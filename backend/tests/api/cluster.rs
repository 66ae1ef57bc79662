//! Cluster mode specifics: channels spread over every shard, and Redis cost stays one
//! connection per node per instance, whatever the number of clients and channels.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::Value;
use tokio::sync::watch;

use crate::{
    chatters::{Record, chatter, converged, report, wait_for},
    cluster_harness::RedisCluster,
    helpers::*,
};

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
        // Each instance: one command connection and one subscriber connection per primary;
        // plus our CLIENT LIST caller.
        assert!(list.lines().count() <= 2 * 2 + 1, "{list}");
    }
}

/// Two instances on `cluster`, ready, and aware of the replicas (if any).
async fn instances_on(cluster: &RedisCluster) -> [TestApp; 2] {
    let seeds = cluster.seeds();
    let env = [
        ("REDIS_CLUSTER_URLS", seeds.as_str()),
        ("REDIS_WAIT_TIMEOUT_MS", "1000"),
        ("RATE_LIMIT_BURST", "100"),
    ];
    let instances = [TestApp::spawn(None, &env), TestApp::spawn(None, &env)];
    for app in &instances {
        crate::redis_faults::wait_until_ready(app).await;
    }
    // Give the instances a moment to learn how many replicas the primaries have.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    instances
}

/// `per_primary` channel names owned by each primary, from `prefix-0`, `prefix-1`, …
async fn channels_on_every_primary(
    cluster: &RedisCluster,
    prefix: &str,
    per_primary: usize,
) -> Vec<(String, u16)> {
    let primaries = cluster.primaries().await;
    let candidates: Vec<String> = (0..100).map(|i| format!("{prefix}-{i}")).collect();
    let events: Vec<String> = candidates
        .iter()
        .map(|c| format!("{{chat:{c}}}:events"))
        .collect();
    let owner_of = owners(cluster, &events).await;
    let mut channels = Vec::new();
    for primary in &primaries {
        channels.extend(
            candidates
                .iter()
                .filter(|c| owner_of[&format!("{{chat:{c}}}:events")] == *primary)
                .take(per_primary)
                .map(|c| (c.clone(), *primary)),
        );
    }
    assert_eq!(channels.len(), per_primary * primaries.len());
    channels
}

/// Four chatting clients per channel (spread over both instances) while `fault` runs;
/// returns the delivery figures once everything has settled, asserting they are perfect.
async fn chat_during(
    instances: &[TestApp; 2],
    channels: &[(String, u16)],
    fault: impl std::future::Future<Output = ()>,
) -> String {
    let (sending, sending_rx) = watch::channel(false);
    let (done, done_rx) = watch::channel(false);
    let mut records = Vec::new();
    let mut tasks = Vec::new();
    for (i, (channel, _)) in channels.iter().enumerate() {
        for n in 0..4 {
            let record = Arc::new(Mutex::new(Record::default()));
            records.push((i, record.clone()));
            let base = instances[n % 2].ws_url(channel, &format!("c{i}-{n}"));
            tasks.push(tokio::spawn(chatter(
                base,
                record,
                sending_rx.clone(),
                done_rx.clone(),
            )));
        }
    }
    wait_for(Duration::from_secs(20), || {
        records.iter().all(|(_, r)| r.lock().unwrap().connected)
    })
    .await
    .expect("clients did not connect");
    sending.send_replace(true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    fault.await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    sending.send_replace(false);
    let settled = wait_for(Duration::from_secs(40), || converged(&records).is_none()).await;
    done.send_replace(true);
    for task in tasks {
        let _ = task.await;
    }
    let figures = report(&records);
    println!("{figures}");
    assert!(settled.is_ok(), "did not converge: {figures}");
    for zero in [" lost=0 ", " duplicated=0 ", " reordered=0 ", " unacked=0 "] {
        assert!(figures.contains(zero), "{figures}");
    }
    figures
}

/// Clients chatting in channels on every shard while one primary is SIGKILLed: its replica
/// is promoted, instances find the new owner, resubscribe and backfill, and every acked
/// message reaches every client exactly once, in one order per channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failover_loses_nothing() {
    let mut cluster = RedisCluster::start(3, 1).await;
    let instances = instances_on(&cluster).await;
    let channels = channels_on_every_primary(&cluster, "fo", 2).await;
    let victim = channels[0].1;
    let nodes = &mut cluster.nodes;
    chat_during(&instances, &channels, async {
        nodes.iter_mut().find(|n| n.port == victim).unwrap().kill();
    })
    .await;
    let promoted = cluster.primaries().await;
    assert_eq!(promoted.len(), 3, "a replica must have taken over");
    assert!(!promoted.contains(&victim));
}

/// The slot of a live channel moves to another primary while its clients chat: writes meet
/// ASK/MOVED, the old owner drops the shard subscriptions (SUNSUBSCRIBE), and instances
/// follow the slot without a gap or a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_a_live_channel_loses_nothing() {
    let cluster = RedisCluster::start(3, 0).await;
    let instances = instances_on(&cluster).await;
    let channels = channels_on_every_primary(&cluster, "rs", 1).await;
    let (moving, source) = channels[0].clone();
    let target = cluster
        .primaries()
        .await
        .into_iter()
        .find(|p| *p != source)
        .unwrap();
    let primaries = cluster.primaries().await;
    chat_during(&instances, &channels, async {
        migrate_slot(
            &format!("{{chat:{moving}}}:events"),
            source,
            target,
            &primaries,
        )
        .await;
    })
    .await;
    let after = owners(&cluster, &[format!("{{chat:{moving}}}:events")]).await;
    assert_eq!(
        after.values().next(),
        Some(&target),
        "the slot must have moved"
    );
}

/// Moves `key`'s slot from `source` to `target` the way `redis-cli --cluster reshard` does.
async fn migrate_slot(key: &str, source: u16, target: u16, primaries: &[u16]) {
    let cmd = |parts: &[&str]| {
        let mut c = redis::cmd(parts[0]);
        for p in &parts[1..] {
            c.arg(*p);
        }
        c
    };
    let slot: i64 = RedisCluster::command(source, &cmd(&["CLUSTER", "KEYSLOT", key]))
        .await
        .unwrap();
    let slot = slot.to_string();
    let source_id: String = RedisCluster::command(source, &cmd(&["CLUSTER", "MYID"]))
        .await
        .unwrap();
    let target_id: String = RedisCluster::command(target, &cmd(&["CLUSTER", "MYID"]))
        .await
        .unwrap();
    let _: () = RedisCluster::command(
        target,
        &cmd(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id]),
    )
    .await
    .unwrap();
    let _: () = RedisCluster::command(
        source,
        &cmd(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id]),
    )
    .await
    .unwrap();
    loop {
        let keys: Vec<String> =
            RedisCluster::command(source, &cmd(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"]))
                .await
                .unwrap();
        if keys.is_empty() {
            break;
        }
        let target_port = target.to_string();
        let mut migrate = cmd(&[
            "MIGRATE",
            "127.0.0.1",
            &target_port,
            "",
            "0",
            "5000",
            "KEYS",
        ]);
        for key in &keys {
            migrate.arg(key);
        }
        let _: redis::Value = RedisCluster::command(source, &migrate).await.unwrap();
        // Let writes meet the half-moved slot for a moment.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for node in std::iter::once(target).chain(primaries.iter().copied()) {
        let _: redis::RedisResult<()> = RedisCluster::command(
            node,
            &cmd(&["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]),
        )
        .await;
    }
}
