//! The end of a run: stop the connections and collect what each saw, count what was lost
//! across them, and assemble the [`Report`].

use std::{sync::atomic::Ordering::Relaxed, time::Duration};

use tokio::{sync::watch, task::JoinSet};

use super::{
    connection::Outcome,
    measure::Measured,
    ramp::Ramp,
    scenario::Config,
    setup::Setup,
    shared::{Phase, take},
};
use crate::{
    procstat::{self, ProcSample},
    redisstats::RedisCost,
    report::{Machine, Report, Watched},
    stats::{LatencySummary, SeqSet},
};

/// Moves every connection to [`Phase::Stopping`] and gathers their outcomes; connections
/// that do not close in time are aborted and noted in `warnings`.
pub(super) async fn stop_and_collect(
    mut tasks: JoinSet<Outcome>,
    phase_tx: &watch::Sender<Phase>,
    total: usize,
    warnings: &mut Vec<String>,
) -> Vec<Outcome> {
    let _ = phase_tx.send(Phase::Stopping);
    let mut outcomes = Vec::with_capacity(total);
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok(o) = joined {
                outcomes.push(o);
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .is_err()
    {
        warnings
            .push("some connections did not close within 15 s; their figures are missing".into());
        tasks.abort_all();
    }
    outcomes
}

/// Delivery faults summed over every receiver that joined.
#[derive(Default)]
struct Faults {
    lost: u64,
    unacked_delivered: u64,
    duplicated: u64,
    reordered: u64,
    id_regressions: u64,
}

/// Loss: for every receiver that joined, every acked message of every publisher that joined
/// the same channel and is not in the receiver's record.
fn faults(outcomes: &[Outcome], channel_count: usize) -> Faults {
    let mut f = Faults::default();
    let mut by_channel: Vec<Vec<(u32, &SeqSet)>> = vec![Vec::new(); channel_count];
    for o in outcomes.iter().filter(|o| o.joined) {
        if let Some(p) = o.publisher {
            by_channel[o.channel].push((p, &o.acked));
        }
    }
    for o in outcomes.iter().filter(|o| o.joined) {
        for (p, acked) in &by_channel[o.channel] {
            f.lost += o.tracker.lost(*p, acked);
            f.unacked_delivered += o.tracker.unacked(*p, acked);
        }
        f.duplicated += o.tracker.duplicates;
        f.reordered += o.tracker.reordered;
        f.id_regressions += o.tracker.id_regressions;
    }
    f
}

/// Samples taken before any connection opened: the watched processes and loadgen itself.
pub(super) struct Baseline {
    pub(super) watched: Vec<Option<ProcSample>>,
    pub(super) loadgen: Option<ProcSample>,
    pub(super) kernel_tcp_kib: Option<u64>,
    pub(super) kernel_slab_kib: Option<u64>,
}

/// Puts the run's figures together.
pub(super) fn assemble(
    config: &Config,
    setup: Setup,
    total: u64,
    baseline: Baseline,
    ramp: &Ramp,
    m: Measured,
    outcomes: &[Outcome],
) -> Report {
    let Setup {
        channel_count,
        planned,
        shared,
        mut warnings,
        ..
    } = setup;
    let f = faults(outcomes, channel_count);
    let send_errors = take(&shared.send_errors);
    if send_errors.contains_key("rate_limited") {
        warnings.push(
            "sends were rate-limited: raise RATE_LIMIT_PER_SEC / RATE_LIMIT_BURST on the backends, \
             or spread the rate over more --publishers"
                .into(),
        );
    }
    let unique = shared.unique.load(Relaxed);
    let watched: Vec<Watched> = config
        .watch
        .iter()
        .enumerate()
        .map(|(i, (label, pid))| {
            Watched::new(
                label,
                *pid,
                baseline.watched[i],
                ramp.held_samples[i],
                m.start_samples[i],
                m.end_samples[i],
                unique,
            )
        })
        .collect();
    let loadgen = Watched::new(
        "loadgen",
        std::process::id(),
        baseline.loadgen,
        m.self_start,
        m.self_start,
        m.self_end,
        unique,
    );
    let histogram = shared.latency.total();
    let acked = shared.acked.load(Relaxed);
    let redis = match m.redis_stats {
        Some(Ok((before, after))) => {
            let cpu_s = watched_cpu(&watched, "redis");
            let connection_s = ramp.held as f64 * m.measured.as_secs_f64();
            Some(RedisCost::new(&before, &after, cpu_s, acked, connection_s))
        }
        Some(Err(why)) => {
            warnings.push(format!("no Redis command statistics: {why}"));
            None
        }
        None => None,
    };
    Report {
        scenario: config.scenario.name().to_owned(),
        urls: config.urls.clone(),
        channels: channel_count as u64,
        connections_planned: total,
        connections_held: ramp.held,
        connections_failed: shared.failed.load(Relaxed),
        connect_failures: take(&shared.connect_failures),
        ramp_s: ramp.ramp_secs,
        disconnects: take(&shared.disconnects),
        messages_planned: planned.iter().map(|&n| u64::from(n)).sum(),
        messages_sent: shared.sent.load(Relaxed),
        messages_acked: acked,
        send_errors,
        deliveries_expected: shared.expected.load(Relaxed),
        deliveries_seen: unique,
        lost: f.lost,
        duplicated: f.duplicated,
        reordered: f.reordered,
        id_order_violations: f.id_regressions,
        unacked_delivered: f.unacked_delivered,
        foreign_messages: shared.foreign.load(Relaxed),
        bad_frames: shared.bad_frames.load(Relaxed),
        measured_s: m.measured.as_secs_f64(),
        deliveries_per_s: unique as f64 / m.measured.as_secs_f64().max(1e-9),
        latency: LatencySummary::of(&histogram),
        ack_latency: LatencySummary::of(&shared.ack_latency.total()),
        processes: watched,
        redis,
        machine: Machine {
            cores: procstat::cores(),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next()?.parse().ok()),
            kernel_tcp_kib_before: baseline.kernel_tcp_kib,
            kernel_tcp_kib_held: ramp.kernel_tcp_kib,
            kernel_socket_slab_kib_before: baseline.kernel_slab_kib,
            kernel_socket_slab_kib_held: ramp.kernel_slab_kib,
            cpu_busy_pct: match (m.machine_start, m.machine_end) {
                (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                    Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
                }
                _ => None,
            },
        },
        loadgen,
        warnings,
        series: m.series,
        histogram,
    }
}

/// The CPU seconds of the watched process labelled `label`.
fn watched_cpu(watched: &[Watched], label: &str) -> Option<f64> {
    watched.iter().find(|w| w.label == label)?.cpu_s
}
