//! The send (or hold) phase and the drain after it: starts every connection's ticker, samples
//! a per-second series, and ends once every acked message has been delivered everywhere or
//! the drain time is up.

use std::{sync::atomic::Ordering::Relaxed, time::Duration};

use tokio::{sync::watch, time::Instant};

use super::{
    progress::Progress,
    scenario::{Config, Scenario},
    shared::{Phase, Shared},
};
use crate::{
    procstat::{self, ProcSample},
    redisstats::{CommandStats, StatsReader},
    report::SeriesPoint,
};

/// What the measured interval produced, and the samples at its ends.
pub(super) struct Measured {
    pub(super) series: Vec<SeriesPoint>,
    /// From the first send to the end of the drain.
    pub(super) measured: Duration,
    /// The watched processes when sending started and when the drain ended.
    pub(super) start_samples: Vec<Option<ProcSample>>,
    pub(super) end_samples: Vec<Option<ProcSample>>,
    /// Machine CPU (busy, total ticks) at both ends.
    pub(super) machine_start: Option<(u64, u64)>,
    pub(super) machine_end: Option<(u64, u64)>,
    /// loadgen itself at both ends.
    pub(super) self_start: Option<ProcSample>,
    pub(super) self_end: Option<ProcSample>,
    /// Redis's command statistics at both ends (when asked for), or why they are missing.
    pub(super) redis_stats: Option<Result<(CommandStats, CommandStats), String>>,
}

/// Redis's command statistics, when `config` names a Redis (and it could be reached).
async fn redis_stats(
    reader: &mut Option<Result<StatsReader, String>>,
) -> Option<Result<CommandStats, String>> {
    match reader.as_mut()? {
        Ok(reader) => Some(reader.read().await),
        Err(why) => Some(Err(why.clone())),
    }
}

/// Runs the send phase and the drain; `last_show` is when the progress line was last drawn.
pub(super) async fn send_and_drain(
    config: &Config,
    shared: &Shared,
    phase_tx: &watch::Sender<Phase>,
    progress: &Progress,
    mut last_show: Instant,
) -> Measured {
    let run_len = config.scenario.duration();
    let start = Instant::now() + Duration::from_millis(100);
    let stop_sending = start + run_len;
    let _ = phase_tx.send(Phase::Running {
        start,
        stop_sending,
    });
    let mut reader = match &config.redis_addr {
        Some(addr) => Some(StatsReader::connect(addr).await),
        None => None,
    };
    tokio::time::sleep_until(start).await;
    let redis_start = redis_stats(&mut reader).await;
    let start_samples = procstat::sample_all(&config.watch);
    let machine_start = procstat::machine_cpu();
    let self_start = procstat::sample(None).ok();
    let mut series = Vec::new();
    let mut last_tick = start;
    let mut last_unique = 0u64;
    let drain_deadline = stop_sending + config.drain;
    let idle = matches!(config.scenario, Scenario::Idle { .. });
    let mut p99_now = None;
    let mut rate_now = 0.0;
    let drained_at = loop {
        let now = Instant::now();
        if now.duration_since(last_tick) >= Duration::from_secs(1) {
            let unique = shared.unique.load(Relaxed);
            let dt = now.duration_since(last_tick).as_secs_f64();
            let interval = shared.latency.take_interval();
            rate_now = (unique - last_unique) as f64 / dt;
            p99_now =
                (!interval.is_empty()).then(|| interval.value_at_quantile(0.99) as f64 / 1000.0);
            series.push(SeriesPoint {
                t_s: now.duration_since(start).as_secs_f64(),
                deliveries_per_s: rate_now,
                p99_ms: p99_now,
                connections: shared.opened.load(Relaxed),
            });
            last_tick = now;
            last_unique = unique;
        }
        let phase_name = if now < stop_sending {
            if idle { "hold" } else { "send" }
        } else {
            "drain"
        };
        if now.duration_since(last_show) >= Duration::from_millis(250) {
            progress.show(phase_name, shared, rate_now, p99_now);
            last_show = now;
        }
        if now >= stop_sending && (idle || now >= drain_deadline || drained(shared)) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let measured = drained_at.duration_since(start);
    let end_samples = procstat::sample_all(&config.watch);
    let machine_end = procstat::machine_cpu();
    let self_end = procstat::sample(None).ok();
    let redis_end = redis_stats(&mut reader).await;
    progress.done();
    Measured {
        series,
        measured,
        start_samples,
        end_samples,
        machine_start,
        machine_end,
        self_start,
        self_end,
        redis_stats: match (redis_start, redis_end) {
            (Some(a), Some(b)) => Some(a.and_then(|a| b.map(|b| (a, b)))),
            _ => None,
        },
    }
}

/// Every publisher is done, every send answered, and every expected delivery seen.
fn drained(shared: &Shared) -> bool {
    let sent = shared.sent.load(Relaxed);
    let resolved_sends = shared.acked.load(Relaxed) + shared.refused_sends.load(Relaxed);
    let all_sent = shared.publishers_done.load(Relaxed) >= shared.publishers_joined.load(Relaxed);
    all_sent
        && resolved_sends >= sent
        && shared.unique.load(Relaxed) >= shared.expected.load(Relaxed)
}
