//! The `drain` scenario: the mass reconnect a rolling deploy causes. Clients chat over many
//! channels on two backends; the scenario sends SIGTERM to the first backend, its clients get
//! close 1012 (or lose the socket) and resume on the second with `since` and `epoch`. It then
//! checks that every client has every message of its channel once, in id order, and reports
//! the reconnect gaps, the drain time and the Redis commands the wave cost.
//!
//! - [`client`]: one client's task (join, send its turns, resume);
//! - [`ledger`]: the per-client loss / duplicate / reordering accounting;
//! - [`redis_info`]: Redis command counts (`INFO commandstats`);
//! - [`report`]: the figures, as one JSON line and a summary;
//! - [`signal`]: the backend under test's SIGTERM and exit.

pub mod client;
pub mod ledger;
pub mod redis_info;
pub mod report;
pub mod signal;

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use client::{Live, Phase, Plan};
use report::{DrainReport, RedisCost};
use serde_json::json;

use crate::procstat;

#[derive(Debug, Clone)]
pub struct Config {
    /// Backend A (drained) and backend B (survives), as `ws://host:port`.
    pub drained_url: String,
    pub surviving_url: String,
    /// Backend A's process, sent SIGTERM.
    pub drained_pid: u32,
    /// `host:port` of the Redis both backends use, for its command counts.
    pub redis: Option<String>,
    pub clients: usize,
    pub channels: usize,
    /// Each channel gets one message every this long, from its members in turn.
    pub channel_interval: Duration,
    /// Sending before SIGTERM, and after it.
    pub warmup: Duration,
    pub after: Duration,
    /// Longest random wait before a client reconnects.
    pub jitter: Duration,
}

/// How long the Redis baseline (commands per second before SIGTERM) is measured.
const BASELINE: Duration = Duration::from_secs(2);
/// Deliveries still in flight once sending stops.
const SETTLE: Duration = Duration::from_secs(2);
/// The reconnect window ends at the latest this long after SIGTERM.
const WINDOW_MAX: Duration = Duration::from_secs(30);

/// Each client's plan: client `k` joins channel `k % channels` as its member `k / channels`;
/// even members start on backend A, odd ones on B, so every channel spans both.
pub fn plans(config: &Config) -> Vec<Plan> {
    let channels = config.channels.max(1);
    let tag = std::process::id();
    (0..config.clients)
        .map(|k| {
            let (channel, member) = (k % channels, k / channels);
            let members =
                config.clients / channels + usize::from(channel < config.clients % channels);
            let first = if member % 2 == 0 {
                &config.drained_url
            } else {
                &config.surviving_url
            };
            Plan {
                channel: format!("drain-{tag}-{channel}"),
                client: format!("c{k}"),
                first_url: first.clone(),
                fallback_url: config.surviving_url.clone(),
                offset: config.channel_interval * member as u32,
                every: config.channel_interval * members.max(1) as u32,
                jitter: config.jitter,
            }
        })
        .collect()
}

pub async fn run(config: Config) -> anyhow::Result<DrainReport> {
    let plans = plans(&config);
    let live = Arc::new(Live::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Joining);
    let mut tasks = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        tasks.push(tokio::spawn(client::run(
            plan.clone(),
            live.clone(),
            phase_rx.clone(),
        )));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let join_deadline = Instant::now() + Duration::from_secs(60);
    while live.joined.load(Ordering::Relaxed) < plans.len() && Instant::now() < join_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let joined = live.joined.load(Ordering::Relaxed);
    phase_tx.send_replace(Phase::Sending(Instant::now() + Duration::from_millis(100)));

    tokio::time::sleep(config.warmup.saturating_sub(BASELINE)).await;
    let calls_before = redis_calls(&config).await;
    tokio::time::sleep(BASELINE).await;
    let calls_at_kill = redis_calls(&config).await;
    let overflows_at_kill = procstat::listen_overflows();
    let killed = Instant::now();
    signal::terminate(config.drained_pid)?;
    let exit = tokio::spawn(signal::wait_exit(config.drained_pid, WINDOW_MAX));

    // The window: until backend A is gone and every client it had is back.
    let mut exited_at = None;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if exited_at.is_none() && !signal::alive(config.drained_pid) {
            exited_at = Some(Instant::now());
        }
        let quiet = exited_at.is_some_and(|t| t.elapsed() > Duration::from_millis(300));
        if (quiet && live.down.load(Ordering::Relaxed) == 0) || killed.elapsed() > WINDOW_MAX {
            break;
        }
    }
    let window = killed.elapsed();
    let calls_after = redis_calls(&config).await;
    let overflows_after = procstat::listen_overflows();
    let drain = exit.await.ok().flatten();

    tokio::time::sleep(config.after.saturating_sub(window)).await;
    phase_tx.send_replace(Phase::Quiet);
    tokio::time::sleep(SETTLE).await;
    phase_tx.send_replace(Phase::Stop);
    let mut logs = Vec::with_capacity(tasks.len());
    for task in tasks {
        logs.push(task.await.unwrap_or_default());
    }
    let redis = match (calls_before, calls_at_kill, calls_after) {
        (Some(a), Some(b), Some(c)) => Some(RedisCost::new(&a, &b, &c, BASELINE)),
        _ => None,
    };
    let mut report = report::assemble(&plans, &logs, joined, drain, window, redis);
    // Machine-wide: on a machine running only this scenario, the backend's accept queue.
    report.json["listen_overflows_in_window"] = json!(
        overflows_at_kill
            .zip(overflows_after)
            .map(|(a, b)| b.saturating_sub(a))
    );
    Ok(report)
}

async fn redis_calls(config: &Config) -> Option<redis_info::Calls> {
    let addr = config.redis.as_deref()?;
    match redis_info::command_calls(addr).await {
        Ok(calls) => Some(calls),
        Err(e) => {
            eprintln!("loadgen-drain: cannot read INFO commandstats from {addr}: {e:#}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_spans_both_backends_and_takes_turns() {
        let config = Config {
            drained_url: "ws://a".into(),
            surviving_url: "ws://b".into(),
            drained_pid: 0,
            redis: None,
            clients: 10,
            channels: 3,
            channel_interval: Duration::from_millis(200),
            warmup: Duration::ZERO,
            after: Duration::ZERO,
            jitter: Duration::ZERO,
        };
        let plans = plans(&config);
        let channel0: Vec<_> = plans.iter().filter(|p| p.channel.ends_with("-0")).collect();
        // Channel 0 has clients 0, 3, 6, 9: four members, one message every 200 ms in turn.
        assert_eq!(channel0.len(), 4);
        assert!(
            channel0
                .iter()
                .all(|p| p.every == Duration::from_millis(800))
        );
        let offsets: Vec<_> = channel0.iter().map(|p| p.offset.as_millis()).collect();
        assert_eq!(offsets, [0, 200, 400, 600]);
        let on_a = channel0.iter().filter(|p| p.first_url == "ws://a").count();
        assert_eq!(on_a, 2);
        assert!(plans.iter().all(|p| p.fallback_url == "ws://b"));
        assert_eq!(
            plans.iter().filter(|p| p.channel.ends_with("-2")).count(),
            3
        );
    }
}
