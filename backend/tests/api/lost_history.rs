//! A channel's history is lost and created again by a new message: a client resuming from
//! before the loss must be told `recovered: false`, never handed the new history as if it
//! continued the old one. One test per way of losing history, on every engine it applies to.
//!
//! Each test: bob receives `x` and leaves, `missed` is sent, the history is lost, `new`
//! creates the channel again, and then
//! - bob resumes with `since=x` and the welcome's epoch;
//! - carol, who joined while the channel was still empty and left before `x`, resumes with
//!   `since=0-0` and her epoch (nothing in the new history can tell her position is stale
//!   but the epoch);
//! - an old client resumes with `since=x` and no epoch;
//!
//! and none is recovered. Before the loss the same resumes are recovered, so the test tells
//! the two apart.

use std::collections::HashMap;

use protocol::{Epoch, MessageId, ServerFrame};

use crate::{cluster_harness::RedisCluster, helpers::*, redis_faults::wait_until_ready};

const CHANNEL: &str = "room";

/// Where the clients stood before the loss.
struct Positions {
    /// The id of `x`, the last message bob received.
    x: MessageId,
    /// The epoch bob was welcomed with.
    bob: Epoch,
    /// The epoch carol was welcomed with, in the still empty channel.
    carol: Epoch,
}

fn welcome_of(frame: &ServerFrame) -> (bool, Epoch) {
    match frame {
        ServerFrame::Welcome {
            recovered, epoch, ..
        } => (
            *recovered,
            epoch
                .clone()
                .expect("every welcome names the history's epoch"),
        ),
        other => panic!("not a welcome: {other:?}"),
    }
}

fn resume_url(app: &TestApp, client: &str, since: MessageId, epoch: Option<&Epoch>) -> String {
    let url = format!("{}?since={since}", app.ws_url(CHANNEL, client));
    match epoch {
        Some(epoch) => format!("{url}&epoch={epoch}"),
        None => url,
    }
}

/// Resumes and returns whether the welcome said recovered, and the replayed texts.
async fn resume(
    app: &TestApp,
    client: &str,
    since: MessageId,
    epoch: Option<&Epoch>,
    replayed: usize,
) -> (bool, Epoch, Vec<String>) {
    let (mut client, welcome) = Client::join(&resume_url(app, client, since, epoch)).await;
    let (recovered, epoch) = welcome_of(&welcome);
    let texts = client.message_texts(replayed).await;
    client.close().await;
    (recovered, epoch, texts)
}

/// Everything up to the loss: carol joins the empty channel, bob receives `x`, both leave,
/// `missed` is sent. Checks that resuming now would be recovered.
async fn before_the_loss(a: &TestApp, b: &TestApp) -> Positions {
    let (carol, welcome) = Client::join(&b.ws_url(CHANNEL, "carol")).await;
    let (_, carol_epoch) = welcome_of(&welcome);
    carol.close().await;
    let (mut alice, _) = Client::join(&a.ws_url(CHANNEL, "alice")).await;
    let (mut bob, welcome) = Client::join(&b.ws_url(CHANNEL, "bob")).await;
    let (_, bob_epoch) = welcome_of(&welcome);
    assert_eq!(bob_epoch, carol_epoch, "one history, one epoch");
    alice.say_acked("x").await;
    let x = bob.next_message().await.id;
    bob.close().await;
    alice.say_acked("missed").await;
    alice.close().await;

    let positions = Positions {
        x,
        bob: bob_epoch,
        carol: carol_epoch,
    };
    // The history is intact: every one of these resumes is recovered.
    let (recovered, _, texts) = resume(b, "bob", x, Some(&positions.bob), 1).await;
    assert!(recovered);
    assert_eq!(texts, ["missed"]);
    let (recovered, _, texts) =
        resume(b, "carol", MessageId::ZERO, Some(&positions.carol), 2).await;
    assert!(recovered);
    assert_eq!(texts, ["x", "missed"]);
    assert!(resume(a, "bob", x, None, 1).await.0);
    positions
}

/// `new` creates the channel again, then every resume from before the loss is refused.
async fn after_the_loss(a: &TestApp, b: &TestApp, before: &Positions) {
    let (mut alice, _) = Client::join(&a.ws_url(CHANNEL, "alice")).await;
    alice.say_acked("new").await;
    alice.close().await;

    let resumes = [
        ("bob", before.x, Some(&before.bob)),
        ("carol", MessageId::ZERO, Some(&before.carol)),
        ("bob", before.x, None),
    ];
    for (client, since, epoch) in resumes {
        let (recovered, epoch_now, texts) = resume(b, client, since, epoch, 1).await;
        assert!(
            !recovered,
            "{client} resumed from {since} (epoch {epoch:?}) across a lost history"
        );
        assert_ne!(epoch_now, before.bob, "the new history has a new epoch");
        // What is left: the new history's last messages.
        assert_eq!(texts, ["new"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_without_persistence() {
    let mut d = Deployment::start(Engine::Redis, &[]).await;
    let before = before_the_loss(d.a(), d.b()).await;
    d.redis.as_mut().unwrap().restart().await;
    wait_until_ready(d.a()).await;
    wait_until_ready(d.b()).await;
    after_the_loss(d.a(), d.b(), &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_flushall() {
    let d = Deployment::start(Engine::Redis, &[]).await;
    let before = before_the_loss(d.a(), d.b()).await;
    let redis = d.redis.as_ref().unwrap();
    let () = redis.command(&mut redis::cmd("FLUSHALL")).await;
    after_the_loss(d.a(), d.b(), &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stream_deleted() {
    let d = Deployment::start(Engine::Redis, &[]).await;
    let before = before_the_loss(d.a(), d.b()).await;
    let redis = d.redis.as_ref().unwrap();
    let deleted: u32 = redis
        .command(redis::cmd("DEL").arg(format!("{{chat:{CHANNEL}}}:log")))
        .await;
    assert_eq!(deleted, 1);
    after_the_loss(d.a(), d.b(), &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_backend_restart() {
    let mut old = TestApp::spawn(None, &[]);
    let before = before_the_loss(&old, &old).await;
    old.stop().await;
    let new = TestApp::spawn(None, &[]);
    after_the_loss(&new, &new, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_flushall() {
    let d = Deployment::start(Engine::Cluster, &[]).await;
    let before = before_the_loss(d.a(), d.b()).await;
    let cluster = d.cluster.as_ref().unwrap();
    for port in cluster.primaries().await {
        let () = RedisCluster::command(port, &redis::cmd("FLUSHALL"))
            .await
            .unwrap();
    }
    after_the_loss(d.a(), d.b(), &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_stream_deleted() {
    let d = Deployment::start(Engine::Cluster, &[]).await;
    let before = before_the_loss(d.a(), d.b()).await;
    let cluster = d.cluster.as_ref().unwrap();
    let key = format!("{{chat:{CHANNEL}}}:log");
    let mut deleted = 0;
    // Only the primary owning the key's slot deletes it; the others answer MOVED.
    for port in cluster.primaries().await {
        if let Ok(n) = RedisCluster::command::<u32>(port, redis::cmd("DEL").arg(&key)).await {
            deleted += n;
        }
    }
    assert_eq!(deleted, 1);
    after_the_loss(d.a(), d.b(), &before).await;
}

/// A failover to a replica that lacks the newest entries, reproduced on one Redis: the
/// stream is put back to what it was before `x` (entries, last id, counters), as the replica
/// would have it, and a new message follows. The epoch survives (the replica had the
/// stream), so only the rule that a resume position must be an entry of the history tells
/// bob that `x` and what came after are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_failover_to_a_replica_without_the_newest_entries() {
    let d = Deployment::start(Engine::Redis, &[]).await;
    let redis = d.redis.as_ref().unwrap();
    let log = format!("{{chat:{CHANNEL}}}:log");
    let (mut alice, _) = Client::join(&d.a().ws_url(CHANNEL, "alice")).await;
    let (mut bob, welcome) = Client::join(&d.b().ws_url(CHANNEL, "bob")).await;
    let (_, epoch) = welcome_of(&welcome);
    alice.say_acked("w").await;
    assert_eq!(bob.next_message().await.message, "w");
    // What the replica has: everything up to w.
    let replica: HashMap<String, redis::Value> = redis
        .command(redis::cmd("XINFO").arg("STREAM").arg(&log))
        .await;
    let field = |name: &str| -> String {
        match &replica[name] {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            redis::Value::Int(n) => n.to_string(),
            other => panic!("{name} is {other:?}"),
        }
    };
    let (last, added) = (field("last-generated-id"), field("entries-added"));
    // XSETID cannot set it back to 0-0; 1-0, older than any message, is the same to a
    // resume.
    assert_eq!(field("max-deleted-entry-id"), "0-0");
    let deleted = "1-0";

    let x_id = alice.say_acked("x").await;
    let x = bob.next_message().await.id;
    bob.close().await;
    let missed = alice.say_acked("missed").await;
    let (recovered, _, texts) = resume(d.b(), "bob", x, Some(&epoch), 1).await;
    assert!(recovered, "before the failover nothing is lost");
    assert_eq!(texts, ["missed"]);

    // The failover: the new primary lacks x and missed.
    let _: u32 = redis
        .command(redis::cmd("XDEL").arg(&log).arg(&x_id).arg(&missed))
        .await;
    let () = redis
        .command(
            redis::cmd("XSETID")
                .arg(&log)
                .arg(&last)
                .arg("ENTRIESADDED")
                .arg(&added)
                .arg("MAXDELETEDID")
                .arg(deleted),
        )
        .await;
    alice.say_acked("new").await;

    let (mut bob, welcome) = Client::join(&resume_url(d.b(), "bob", x, Some(&epoch))).await;
    let (recovered, epoch_now) = welcome_of(&welcome);
    assert_eq!(
        epoch_now, epoch,
        "the replica had the stream, and so its epoch"
    );
    assert!(
        !recovered,
        "x and what followed it were lost in the failover"
    );
    let texts: Vec<String> = bob.message_texts(2).await;
    assert_eq!(texts, ["w", "new"]);
}
