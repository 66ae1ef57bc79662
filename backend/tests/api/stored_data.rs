//! Redis data as earlier versions wrote it is read as it was: during a rolling deploy old and
//! new instances share one Redis, and after it the data stays. Streams trimmed with `XDEL`
//! and streams from before epochs (no consumer group) are written here by hand, as those
//! versions left them.

use std::{collections::HashMap, sync::Arc};

use backend::{
    bus::{Bus, redis::RedisBus},
    config::{BusSettings, Settings},
    hub::Hub,
    metrics::Metrics,
};
use protocol::{ChannelId, Epoch, MessageId, ServerFrame};

use crate::helpers::*;

fn welcome_of(frame: &ServerFrame) -> (bool, Epoch) {
    match frame {
        ServerFrame::Welcome {
            recovered, epoch, ..
        } => (
            *recovered,
            epoch.clone().expect("a welcome names the epoch"),
        ),
        other => panic!("not a welcome: {other:?}"),
    }
}

/// Milliseconds the key has left to live (-1: no expiry, -2: no key).
async fn pttl(redis: &RedisServer, key: &str) -> i64 {
    redis.command(redis::cmd("PTTL").arg(key)).await
}

/// A stream from before epochs, its oldest entry trimmed: resuming from that trimmed entry
/// loses nothing, so it is recovered; the stream gets an epoch (and an expiry) on that first
/// use and keeps its messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_from_before_epochs_resumes_and_gets_an_epoch() {
    let d = Deployment::start(Engine::Redis, &[]).await;
    let redis = d.redis.as_ref().unwrap();
    let log = "{chat:old}:log";
    for (id, text) in [("1000-0", "one"), ("2000-0", "two"), ("3000-0", "three")] {
        let _: String = redis
            .command(
                redis::cmd("XADD")
                    .arg(log)
                    .arg(id)
                    .arg("c")
                    .arg("alice")
                    .arg("m")
                    .arg(text),
            )
            .await;
    }
    let _: u64 = redis
        .command(redis::cmd("XDEL").arg(log).arg("1000-0"))
        .await;

    let since = MessageId::new(1000, 0);
    let url = format!("{}?since={since}", d.a().ws_url("old", "bob"));
    let (mut bob, welcome) = Client::join(&url).await;
    let (recovered, epoch) = welcome_of(&welcome);
    assert!(recovered, "nothing after the last trimmed entry was lost");
    let texts: Vec<String> = bob.message_texts(2).await;
    assert_eq!(texts, ["two", "three"]);

    let groups: Vec<Vec<redis::Value>> = redis
        .command(redis::cmd("XINFO").arg("GROUPS").arg(log))
        .await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(
        groups[0].contains(&redis::Value::BulkString(
            format!("epoch:{epoch}").into_bytes()
        )),
        "{groups:?}"
    );
    assert!(
        pttl(redis, log).await > 0,
        "the channel is kept for its TTL"
    );

    // The same stream read by the other instance: the same epoch, still recovered.
    let url = format!(
        "{}?since={since}&epoch={epoch}",
        d.b().ws_url("old", "carol")
    );
    let (_carol, welcome) = Client::join(&url).await;
    assert_eq!(welcome_of(&welcome), (true, epoch));
}

/// A channel's stream, made (empty, with its epoch) by the first read of its history,
/// expires unless used: it is created with the channel TTL, not forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_channel_stream_is_made_with_an_expiry() {
    let redis = RedisServer::start().await;
    let settings =
        Settings::from_vars(HashMap::from([("REDIS_URL".to_owned(), redis.url())])).unwrap();
    let BusSettings::Redis(redis_settings) = settings.bus else {
        panic!("a Redis bus")
    };
    let metrics = Arc::new(Metrics::default());
    let hub = Arc::new(Hub::new(metrics.clone(), 100));
    let bus = RedisBus::start(redis_settings, settings.channels, hub, metrics).unwrap();
    let room = ChannelId::parse("fresh").unwrap();
    let mut read = None;
    // Redis may still be starting up under the bus: the first call may need a retry.
    for _ in 0..50 {
        if let Ok(history) = bus.history(&room, None, 10).await {
            read = Some(history);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(read.is_some_and(|h| h.messages.is_empty()));
    assert!(pttl(&redis, "{chat:fresh}:log").await > 0);
}
