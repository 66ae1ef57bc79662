//! The drain scenario's figures: reconnect gaps, delivery faults over all clients, drain time
//! and the Redis commands of the reconnect window; printed as one JSON line and a summary.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use protocol::MessageId;
use serde_json::{Value, json};

use super::{
    client::{Log, Plan},
    ledger::{self, Faults},
    redis_info::{self, Calls},
};

/// Redis commands during the reconnect window, above what the chat traffic alone costs.
#[derive(Debug, Clone)]
pub struct RedisCost {
    pub window_calls: u64,
    pub baseline_per_s: f64,
    pub by_command: Calls,
}

impl RedisCost {
    /// From snapshots taken `baseline` before SIGTERM, at SIGTERM, and at the window's end.
    pub fn new(before: &Calls, at_kill: &Calls, after: &Calls, baseline: Duration) -> Self {
        let base: u64 = redis_info::delta(before, at_kill).values().sum();
        let by_command = redis_info::delta(at_kill, after);
        Self {
            window_calls: by_command.values().sum(),
            baseline_per_s: base as f64 / baseline.as_secs_f64().max(1e-9),
            by_command,
        }
    }

    /// Commands in the window beyond the baseline rate.
    pub fn excess(&self, window: Duration) -> f64 {
        (self.window_calls as f64 - self.baseline_per_s * window.as_secs_f64()).max(0.0)
    }
}

#[derive(Debug)]
pub struct DrainReport {
    pub json: Value,
    pub faults: Faults,
    pub failed_clients: usize,
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = ((q * sorted.len() as f64).ceil() as usize)
        .saturating_sub(1)
        .min(last);
    Some((sorted[rank].as_secs_f64() * 1e4).round() / 10.0)
}

pub fn assemble(
    plans: &[Plan],
    logs: &[Log],
    joined: usize,
    drain: Option<Duration>,
    window: Duration,
    redis: Option<RedisCost>,
) -> DrainReport {
    let mut acked: BTreeMap<&str, Vec<MessageId>> = BTreeMap::new();
    let mut seen: BTreeMap<&str, Vec<MessageId>> = BTreeMap::new();
    for (plan, log) in plans.iter().zip(logs) {
        acked.entry(&plan.channel).or_default().extend(&log.acked);
        seen.entry(&plan.channel).or_default().extend(&log.received);
    }
    let truths: BTreeMap<&str, BTreeSet<MessageId>> = seen
        .iter()
        .map(|(channel, got)| {
            let sent = acked.get(channel).map_or(&[][..], |v| v.as_slice());
            (*channel, ledger::channel_truth(sent, got))
        })
        .collect();
    let empty = BTreeSet::new();
    let mut faults = Faults::default();
    let mut gaps = Vec::new();
    let mut close_codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let (mut resumed, mut not_recovered, mut skipped, mut deliveries) = (0, 0, 0, 0);
    for (plan, log) in plans.iter().zip(logs) {
        faults.add(ledger::faults(
            &log.received,
            truths.get(plan.channel.as_str()).unwrap_or(&empty),
        ));
        gaps.extend(&log.gaps);
        resumed += usize::from(!log.gaps.is_empty());
        not_recovered += log.not_recovered;
        skipped += log.skipped;
        deliveries += log.received.len();
        for (code, n) in &log.close_codes {
            let name = if *code == 0 {
                "no_close_frame".to_owned()
            } else {
                code.to_string()
            };
            *close_codes.entry(name).or_default() += n;
        }
        if let Some(why) = &log.failed {
            *failures.entry(why.clone()).or_default() += 1;
        }
    }
    gaps.sort();
    let ms = |q| percentile_ms(&gaps, q);
    let messages: usize = truths.values().map(BTreeSet::len).sum();
    let redis_json = redis.as_ref().map(|r| {
        let excess = r.excess(window);
        json!({
            "window_calls": r.window_calls,
            "baseline_calls_per_s": r.baseline_per_s.round(),
            "window_calls_per_resumed_client": (resumed > 0).then(|| (r.window_calls as f64 / resumed as f64 * 10.0).round() / 10.0),
            "excess_calls": excess.round(),
            "excess_calls_per_resumed_client": (resumed > 0).then(|| (excess / resumed as f64 * 10.0).round() / 10.0),
            "window_calls_by_command": r.by_command,
        })
    });
    let json = json!({
        "scenario": "drain",
        "clients": plans.len(),
        "channels": truths.len().max(acked.len()),
        "joined": joined,
        "messages": messages,
        "messages_acked": acked.values().map(Vec::len).sum::<usize>(),
        "deliveries": deliveries,
        "lost": faults.lost,
        "duplicated": faults.duplicated,
        "reordered": faults.reordered,
        "clients_resumed": resumed,
        "reconnects": gaps.len(),
        "recovered_false": not_recovered,
        "close_codes": close_codes,
        "gap_ms": {"p50": ms(0.5), "p99": ms(0.99), "max": ms(1.0)},
        "drain_s": drain.map(|d| (d.as_secs_f64() * 1e3).round() / 1e3),
        "reconnect_window_s": (window.as_secs_f64() * 1e3).round() / 1e3,
        "sends_refused": skipped,
        "failed_clients": failures,
        "redis": redis_json,
        "load_average": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
    });
    DrainReport {
        json,
        faults,
        failed_clients: logs.iter().filter(|l| l.failed.is_some()).count(),
    }
}

impl DrainReport {
    /// Everything wrong with the run, if anything.
    pub fn failure(&self) -> Option<String> {
        let f = self.faults;
        (f.lost + f.duplicated + f.reordered > 0 || self.failed_clients > 0).then(|| {
            format!(
                "{} lost, {} duplicated, {} reordered, {} clients gave up",
                f.lost, f.duplicated, f.reordered, self.failed_clients
            )
        })
    }

    pub fn human(&self) -> String {
        let j = &self.json;
        let g = &j["gap_ms"];
        let mut out = format!(
            "drain: {} clients x {} channels, {} resumed ({} reconnects, close codes {})\n\
             gap close->welcome ms: p50 {} p99 {} max {}\n\
             messages {} (acked {}), deliveries {}: lost {} duplicated {} reordered {}; recovered=false {}\n\
             drain (SIGTERM to exit) {} s, reconnect window {} s\n",
            j["clients"],
            j["channels"],
            j["clients_resumed"],
            j["reconnects"],
            j["close_codes"],
            g["p50"],
            g["p99"],
            g["max"],
            j["messages"],
            j["messages_acked"],
            j["deliveries"],
            j["lost"],
            j["duplicated"],
            j["reordered"],
            j["recovered_false"],
            j["drain_s"],
            j["reconnect_window_s"],
        );
        if let Some(r) = j["redis"].as_object() {
            out.push_str(&format!(
                "redis in window: {} calls ({} /s baseline), {} per resumed client above baseline\n",
                r["window_calls"], r["baseline_calls_per_s"], r["excess_calls_per_resumed_client"]
            ));
        }
        if let Some(n) = j["listen_overflows_in_window"].as_u64() {
            out.push_str(&format!(
                "connections the kernel turned away (accept queue full) in window: {n}\n"
            ));
        }
        if let Some(why) = self.failure() {
            out.push_str(&format!("FAIL: {why}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let gaps: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&gaps, 0.5), Some(50.0));
        assert_eq!(percentile_ms(&gaps, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&gaps, 1.0), Some(100.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
        assert_eq!(
            percentile_ms(&[Duration::from_micros(1234)], 0.5),
            Some(1.2)
        );
    }
}
