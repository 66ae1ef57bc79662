//! Redis cost is per instance, not per client: one subscriber connection per instance,
//! subscribed to a channel only while the instance has local members in it (and to the one
//! control channel all the time).

use std::time::Duration;

use crate::helpers::*;

async fn pubsub_channels(redis: &RedisServer) -> Vec<String> {
    let mut channels: Vec<String> = redis.command(redis::cmd("PUBSUB").arg("CHANNELS")).await;
    channels.sort();
    channels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_subscriber_per_instance_and_subscriptions_follow_local_members() {
    let d = Deployment::start(Engine::Redis, &[("REDIS_POOL_SIZE", "4")]).await;
    let redis = d.redis.as_ref().unwrap();
    let mut clients = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { d.a() } else { d.b() };
        let (mut client, _) =
            Client::join(&app.ws_url(&format!("room-{}", i % 5), &format!("c{i}"))).await;
        client.say_acked("hi").await;
        clients.push(client);
    }
    let list: String = redis.command(redis::cmd("CLIENT").arg("LIST")).await;
    let subscribers = list
        .lines()
        .filter(|l| {
            l.split(' ')
                .any(|f| f.starts_with("flags=") && f.contains('P'))
        })
        .count();
    assert_eq!(
        subscribers, 2,
        "one pub/sub connection per instance:\n{list}"
    );
    // Each instance: one subscriber plus at most its pool; plus our own CLIENT LIST caller.
    assert!(list.lines().count() <= 2 * (1 + 4) + 1, "{list}");
    // Besides the rooms with local members, the one control channel every instance listens on
    // from the start (server API disconnects), sorted first.
    let expected: Vec<String> = std::iter::once("{chat:__control}:events".to_owned())
        .chain((0..5).map(|r| format!("{{chat:room-{r}}}:events")))
        .collect();
    assert_eq!(pubsub_channels(redis).await, expected);

    // Empty room-0 entirely: both instances unsubscribe from it, and only from it.
    let mut kept = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        if i % 5 == 0 {
            client.close().await;
        } else {
            kept.push(client);
        }
    }
    let mut unsubscribed = false;
    for _ in 0..50 {
        let left: Vec<String> = expected
            .iter()
            .filter(|c| !c.contains("room-0"))
            .cloned()
            .collect();
        if pubsub_channels(redis).await == left {
            unsubscribed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        unsubscribed,
        "still subscribed: {:?}",
        pubsub_channels(redis).await
    );
}

/// Calls of `command` Redis has counted since it started (`INFO commandstats`).
async fn calls_of(redis: &RedisServer, command: &str) -> u64 {
    let info: String = redis.command(redis::cmd("INFO").arg("commandstats")).await;
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// A send costs Redis one request: a pooled connection that answered a moment ago is not
/// pinged (nor sent UNWATCH) again before its next command, which would double the requests
/// and the wake-ups of Redis per message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_one_request_without_a_ping_before_it() {
    let d = Deployment::start(Engine::Redis, &[]).await;
    let redis = d.redis.as_ref().unwrap();
    let (mut alice, _) = Client::join(&d.a().ws_url("room", "alice")).await;
    alice.say_acked("warm up").await;
    let (pings, scripts) = (
        calls_of(redis, "ping").await,
        calls_of(redis, "evalsha").await,
    );
    for i in 0..40 {
        alice.say_acked(&format!("m{i}")).await;
    }
    let sent = calls_of(redis, "evalsha").await - scripts;
    let pinged = calls_of(redis, "ping").await - pings;
    assert!(sent >= 40, "{sent} scripts for 40 sends");
    // Probes and the subscriber's keep-alive ping now and then; not once per send.
    assert!(pinged < 10, "{pinged} pings for 40 sends");
}
