//! The chaos test: many clients chatting in many channels across two instances behind a
//! round-robin proxy, while one instance is stopped (SIGTERM) and restarted, the other is
//! killed (SIGKILL) and restarted, and Redis (with persistence) is killed and restarted —
//! or, in the cluster variant, one primary of a 3-primary cluster is SIGKILLed and its
//! replica takes over.
//! Clients behave like the browser page: they reconnect with `since` and resend unacked
//! messages with their nonce. At the end, per channel, every acked message must have reached
//! every client exactly once, in one order.
//!
//! Bounded by default (200 clients, 20 channels, ~20 s of chat); scale it with
//! `CHAOS_CLIENTS`, `CHAOS_CHANNELS` and `CHAOS_SECS`. It prints its figures. Run it with
//! `cargo test -p backend --test api chaos -- --ignored --nocapture --test-threads=1`
//! (scripts/test does).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use crate::{
    chatters::{Record, chatter, converged, report, wait_for},
    cluster_harness::RedisCluster,
    helpers::*,
    proxy::Proxy,
};

/// Where messages are kept, and the fault the test deals it.
enum Store {
    /// One Redis with an append-only file, killed and restarted.
    Redis {
        server: RedisServer,
        data: std::path::PathBuf,
    },
    /// 3 primaries with a replica each; one primary is SIGKILLed.
    Cluster(RedisCluster),
}

impl Store {
    async fn start(cluster: bool) -> Self {
        if cluster {
            return Store::Cluster(RedisCluster::start(3, 1).await);
        }
        let data = std::env::temp_dir().join(format!("chat-chaos-{}", free_port()));
        std::fs::create_dir_all(&data).unwrap();
        let server = RedisServer::start_on(stable_port(), Some(data.clone())).await;
        Store::Redis { server, data }
    }

    fn env(&self) -> (&'static str, String) {
        match self {
            Store::Redis { server, .. } => ("REDIS_URL", server.url()),
            Store::Cluster(cluster) => ("REDIS_CLUSTER_URLS", cluster.seeds()),
        }
    }

    async fn fault(&mut self) {
        match self {
            Store::Redis { server, .. } => {
                println!("chaos: kill Redis (append-only file, fsync always), then restart it");
                server.restart().await;
            }
            Store::Cluster(cluster) => {
                let victim = cluster.primaries().await[0];
                println!("chaos: SIGKILL cluster primary {victim}; its replica takes over");
                if let Some(node) = cluster.nodes.iter_mut().find(|n| n.port == victim) {
                    node.kill();
                }
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Redis { data, .. } = self {
            let _ = std::fs::remove_dir_all(&*data);
        }
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/test with --ignored --nocapture"]
async fn chaos() {
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/test with --ignored --nocapture"]
async fn chaos_cluster() {
    run(true).await;
}

async fn run(cluster: bool) {
    let clients = setting("CHAOS_CLIENTS", 200) as usize;
    let channels = setting("CHAOS_CHANNELS", 20) as usize;
    let chat_secs = setting("CHAOS_SECS", 20);
    let started = Instant::now();

    let mut store = Store::start(cluster).await;
    let env = [
        store.env(),
        ("SHUTDOWN_SPREAD_MS", "500".into()),
        ("HISTORY_MAX", "10000".into()),
        ("RATE_LIMIT_BURST", "100".into()),
        ("REDIS_WAIT_TIMEOUT_MS", "1000".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Restarted on the same ports: keep them out of the ephemeral range.
    let port_a = stable_port();
    let port_b = std::iter::repeat_with(stable_port)
        .find(|p| *p != port_a)
        .unwrap();
    let mut a = BackendProcess::start_on(port_a, &env).await;
    let mut b = BackendProcess::start_on(port_b, &env).await;
    let proxy = Proxy::start(vec![
        ([127, 0, 0, 1], port_a).into(),
        ([127, 0, 0, 1], port_b).into(),
    ])
    .await;

    let (sending, sending_rx) = watch::channel(false);
    let (done, done_rx) = watch::channel(false);
    let mut records = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let record = Arc::new(Mutex::new(Record::default()));
        records.push((i % channels, record.clone()));
        let base = format!(
            "ws://127.0.0.1:{}/ws/chaos-{}/c{i}",
            proxy.port,
            i % channels
        );
        tasks.push(tokio::spawn(chatter(
            base,
            record,
            sending_rx.clone(),
            done_rx.clone(),
        )));
    }
    wait_for(Duration::from_secs(30), || {
        records.iter().all(|(_, r)| r.lock().unwrap().connected)
    })
    .await
    .expect("clients did not all connect");
    println!(
        "chaos: {clients} clients in {channels} channels connected in {:?}",
        started.elapsed()
    );

    // Chat, and break things while it goes on.
    sending.send_replace(true);
    let step = Duration::from_secs(chat_secs) / 5;
    tokio::time::sleep(step).await;
    println!("chaos: SIGTERM instance A, then restart it");
    a.terminate();
    a.wait().await;
    a = BackendProcess::start_on(port_a, &env).await;
    tokio::time::sleep(step).await;
    println!("chaos: SIGKILL instance B, then restart it");
    b.kill();
    b.wait().await;
    b = BackendProcess::start_on(port_b, &env).await;
    tokio::time::sleep(step).await;
    store.fault().await;
    tokio::time::sleep(step * 2).await;
    sending.send_replace(false);

    // Let resends and resumes settle: every message acked, every client caught up.
    let stopped = Instant::now();
    let settled = wait_for(Duration::from_secs(60), || converged(&records).is_none()).await;
    println!(
        "chaos: every client caught up {:.1} s after sending stopped",
        stopped.elapsed().as_secs_f64()
    );
    done.send_replace(true);
    for task in tasks {
        let _ = task.await;
    }
    let report = report(&records);
    println!("{report}");
    drop((a, b, proxy, store));
    if let Err(()) = settled {
        panic!(
            "did not converge: {}",
            converged(&records).unwrap_or_default()
        );
    }
    assert!(
        report.contains(" lost=0 ")
            && report.contains(" duplicated=0 ")
            && report.contains(" reordered=0 ")
            && report.contains(" unacked=0 "),
        "{report}"
    );
}
