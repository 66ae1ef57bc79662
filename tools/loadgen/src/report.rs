//! The result of a run: one JSON line for machines, a short summary for people, and the
//! verdict (lost or duplicated deliveries fail the run).

use std::{collections::BTreeMap, fmt::Write as _};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    procstat::{ProcSample, TICKS_PER_SEC},
    redisstats::RedisCost,
    stats::LatencySummary,
};

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    /// Seconds since the send (or hold) phase started.
    pub t_s: f64,
    pub deliveries_per_s: f64,
    pub p99_ms: Option<f64>,
    pub connections: u64,
}

/// Memory and CPU of one local process over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Watched {
    pub label: String,
    pub pid: u32,
    /// Before any connection was opened.
    pub rss_before_kib: Option<u64>,
    /// With every connection open, before sending.
    pub rss_held_kib: Option<u64>,
    /// At the end of the send and drain phases.
    pub rss_end_kib: Option<u64>,
    /// CPU (user + system) during the send/hold and drain phases.
    pub cpu_s: Option<f64>,
    /// `cpu_s` per delivery seen, in µs.
    pub cpu_us_per_delivery: Option<f64>,
}

impl Watched {
    pub fn new(
        label: &str,
        pid: u32,
        before: Option<ProcSample>,
        held: Option<ProcSample>,
        start: Option<ProcSample>,
        end: Option<ProcSample>,
        deliveries: u64,
    ) -> Self {
        let cpu_s = match (start, end) {
            (Some(a), Some(b)) => {
                Some(b.cpu_ticks.saturating_sub(a.cpu_ticks) as f64 / TICKS_PER_SEC)
            }
            _ => None,
        };
        Self {
            label: label.to_owned(),
            pid,
            rss_before_kib: before.map(|s| s.rss_kib),
            rss_held_kib: held.map(|s| s.rss_kib),
            rss_end_kib: end.map(|s| s.rss_kib),
            cpu_s,
            cpu_us_per_delivery: cpu_s
                .filter(|_| deliveries > 0)
                .map(|c| c * 1e6 / deliveries as f64),
        }
    }

    /// Memory the held connections added, in KiB.
    pub fn rss_delta_kib(&self) -> Option<i64> {
        Some(self.rss_held_kib? as i64 - self.rss_before_kib? as i64)
    }
}

/// The machine during the measured phase: if it was saturated, every figure is bounded by it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub cores: usize,
    /// 1-minute load average at the end of the measured phase.
    pub load_average: Option<f64>,
    /// All cores' busy time during the measured phase, in % of all cores.
    pub cpu_busy_pct: Option<f64>,
    /// The kernel's memory for TCP sockets (both ends on loopback), KiB, before the first
    /// connection and with every connection held.
    pub kernel_tcp_kib_before: Option<u64>,
    pub kernel_tcp_kib_held: Option<u64>,
    /// The kernel's socket slabs (`procstat::SOCKET_SLABS`), KiB, before and held.
    pub kernel_socket_slab_kib_before: Option<u64>,
    pub kernel_socket_slab_kib_held: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub urls: Vec<String>,
    pub channels: u64,
    pub connections_planned: u64,
    /// Connections that got their `welcome` before sending started.
    pub connections_held: u64,
    pub connections_failed: u64,
    /// Failed connections by cause: refused, timeout, http_503, address_exhausted, …
    pub connect_failures: BTreeMap<String, u64>,
    /// Seconds spent opening connections.
    pub ramp_s: f64,
    /// Connections that ended before loadgen closed them, by cause (close code, reset, …).
    pub disconnects: BTreeMap<String, u64>,
    pub messages_planned: u64,
    pub messages_sent: u64,
    pub messages_acked: u64,
    /// `error` frames by code (rate_limited, unavailable, …).
    pub send_errors: BTreeMap<String, u64>,
    /// Σ over acked messages of the members of their channel (sender included).
    pub deliveries_expected: u64,
    /// Distinct (receiver, message) pairs that arrived.
    pub deliveries_seen: u64,
    /// Acked messages a member never received.
    pub lost: u64,
    pub duplicated: u64,
    /// Deliveries that arrived after a later message of the same publisher.
    pub reordered: u64,
    /// Deliveries whose channel message id was not above the previous one's.
    pub id_order_violations: u64,
    /// Deliveries of messages whose ack never came (not errors; the ack may be late).
    pub unacked_delivered: u64,
    /// Messages loadgen did not send (other runs, history).
    pub foreign_messages: u64,
    /// Frames that were not valid protocol v1.
    pub bad_frames: u64,
    /// Seconds from the first send to the end of the drain (or the hold time).
    pub measured_s: f64,
    pub deliveries_per_s: f64,
    /// From `send` to each member's `message`.
    pub latency: LatencySummary,
    /// From `send` to the sender's `ack`.
    pub ack_latency: LatencySummary,
    pub processes: Vec<Watched>,
    /// What Redis spent per stored message and per connection-second (with --redis-addr).
    pub redis: Option<RedisCost>,
    pub loadgen: Watched,
    pub machine: Machine,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub series: Vec<SeriesPoint>,
    #[serde(skip)]
    pub histogram: Histogram<u64>,
}

impl Report {
    /// Why the run failed, if it did: lost or duplicated deliveries, or no connection.
    pub fn failure(&self) -> Option<String> {
        if self.connections_held == 0 {
            return Some(format!(
                "no connection could be opened ({})",
                causes(&self.connect_failures)
            ));
        }
        if self.messages_planned > 0 && self.messages_acked == 0 {
            return Some(format!(
                "no message was accepted ({})",
                if self.send_errors.is_empty() {
                    "no ack and no error came back".to_owned()
                } else {
                    causes(&self.send_errors)
                }
            ));
        }
        if self.lost > 0 || self.duplicated > 0 {
            return Some(format!(
                "{} deliveries lost and {} duplicated (of {} expected)",
                self.lost, self.duplicated, self.deliveries_expected
            ));
        }
        None
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }

    /// Memory per held connection over all watched processes (KiB), when they were sampled.
    pub fn rss_per_connection_kib(&self) -> Option<f64> {
        if self.connections_held == 0 || self.processes.is_empty() {
            return None;
        }
        let mut delta = 0i64;
        for p in &self.processes {
            delta += p.rss_delta_kib()?;
        }
        Some(delta as f64 / self.connections_held as f64)
    }

    /// Summary for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} over {} ({} channel{}), {:.1} s measured",
            self.scenario,
            self.urls.join(", "),
            self.channels,
            if self.channels == 1 { "" } else { "s" },
            self.measured_s
        );
        let _ = writeln!(
            s,
            "  connections  {} held of {} planned, {} failed{} (opened in {:.1} s)",
            self.connections_held,
            self.connections_planned,
            self.connections_failed,
            if self.connect_failures.is_empty() {
                String::new()
            } else {
                format!(": {}", causes(&self.connect_failures))
            },
            self.ramp_s
        );
        if !self.disconnects.is_empty() {
            let _ = writeln!(s, "  disconnects  {}", causes(&self.disconnects));
        }
        if self.messages_planned > 0 {
            let _ = writeln!(
                s,
                "  messages     {} sent of {} planned, {} acked{}",
                self.messages_sent,
                self.messages_planned,
                self.messages_acked,
                if self.send_errors.is_empty() {
                    String::new()
                } else {
                    format!(", errors: {}", causes(&self.send_errors))
                }
            );
            let _ = writeln!(
                s,
                "  deliveries   {} seen of {} expected: {} lost, {} duplicated, {} reordered, {} id-order violations ({:.0}/s)",
                self.deliveries_seen,
                self.deliveries_expected,
                self.lost,
                self.duplicated,
                self.reordered,
                self.id_order_violations,
                self.deliveries_per_s
            );
            let l = &self.latency;
            let _ = writeln!(
                s,
                "  latency      p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms (ack p99 {:.2} ms)",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, self.ack_latency.p99_ms
            );
        }
        for p in self.processes.iter().chain(std::iter::once(&self.loadgen)) {
            let mib =
                |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0));
            let _ = write!(
                s,
                "  {:<12} pid {:<7} RSS {} → {} → {} MiB",
                p.label,
                p.pid,
                mib(p.rss_before_kib),
                mib(p.rss_held_kib),
                mib(p.rss_end_kib)
            );
            if let Some(cpu) = p.cpu_s {
                let _ = write!(s, ", CPU {cpu:.2} s");
            }
            if let Some(us) = p.cpu_us_per_delivery {
                let _ = write!(s, " ({us:.1} µs/delivery)");
            }
            let _ = writeln!(s);
        }
        if let Some(redis) = &self.redis {
            let us = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.1}"));
            let _ = writeln!(
                s,
                "  redis        CPU {} µs per stored message, {} µs per connection-second; {:.2} requests per connection-second",
                us(redis.cpu_us_per_message),
                us(redis.cpu_us_per_connection_s),
                redis.commands_per_connection_s
            );
            for c in redis.commands.iter().take(12) {
                let _ = writeln!(
                    s,
                    "    {:<22} {:>9} calls {:>10} µs{}",
                    c.command,
                    c.calls,
                    c.usec,
                    c.usec_per_message
                        .map_or(String::new(), |u| format!("  ({u:.2} µs per message)"))
                );
            }
        }
        if let Some(busy) = self.machine.cpu_busy_pct {
            let _ = writeln!(
                s,
                "  machine      {} cores, {busy:.0}% busy while measuring, load {:.2}{}",
                self.machine.cores,
                self.machine.load_average.unwrap_or(0.0),
                if busy > 90.0 {
                    " (saturated: figures are bounded by CPU)"
                } else {
                    ""
                }
            );
        }
        if let Some(kib) = self.rss_per_connection_kib() {
            let _ = writeln!(
                s,
                "  memory       {:.1} KiB per held connection (watched processes, RSS held − before)",
                kib
            );
        }
        if let Some(held) = self.machine.kernel_tcp_kib_held
            && self.connections_held > 0
        {
            let _ = writeln!(
                s,
                "  kernel TCP   {:.2} KiB per held connection (the machine's TCP buffers with every connection held, both ends: {held} KiB, /proc/net/sockstat)",
                held as f64 / self.connections_held as f64
            );
        }
        if let (Some(before), Some(held)) = (
            self.machine.kernel_socket_slab_kib_before,
            self.machine.kernel_socket_slab_kib_held,
        ) && self.connections_held > 0
        {
            let _ = writeln!(
                s,
                "  kernel slab  {:.1} KiB per held connection (sockets, inodes, files, dentries, epoll entries; both ends: {before} → {held} KiB, /proc/slabinfo)",
                (held as f64 - before as f64) / self.connections_held as f64
            );
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        match self.failure() {
            Some(why) => {
                let _ = writeln!(s, "FAIL: {why}");
            }
            None => {
                let _ = writeln!(s, "OK");
            }
        }
        s
    }
}

fn causes(map: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    fn report() -> Report {
        Report {
            scenario: "fanout".into(),
            urls: vec!["ws://127.0.0.1:1".into()],
            channels: 1,
            connections_planned: 3,
            connections_held: 2,
            connections_failed: 1,
            connect_failures: BTreeMap::from([("refused".into(), 1)]),
            ramp_s: 0.1,
            disconnects: BTreeMap::new(),
            messages_planned: 10,
            messages_sent: 10,
            messages_acked: 10,
            send_errors: BTreeMap::new(),
            deliveries_expected: 20,
            deliveries_seen: 20,
            lost: 0,
            duplicated: 0,
            reordered: 0,
            id_order_violations: 0,
            unacked_delivered: 0,
            foreign_messages: 0,
            bad_frames: 0,
            measured_s: 1.0,
            deliveries_per_s: 20.0,
            latency: LatencySummary::default(),
            ack_latency: LatencySummary::default(),
            processes: vec![Watched::new(
                "backend",
                1,
                Some(ProcSample {
                    rss_kib: 1000,
                    cpu_ticks: 0,
                }),
                Some(ProcSample {
                    rss_kib: 1100,
                    cpu_ticks: 10,
                }),
                Some(ProcSample {
                    rss_kib: 1100,
                    cpu_ticks: 10,
                }),
                Some(ProcSample {
                    rss_kib: 1200,
                    cpu_ticks: 60,
                }),
                20,
            )],
            redis: None,
            loadgen: Watched::new("loadgen", 2, None, None, None, None, 20),
            machine: Machine::default(),
            warnings: vec![],
            series: vec![],
            histogram: new_histogram(),
        }
    }

    #[test]
    fn verdict_and_summary() {
        let mut r = report();
        assert_eq!(r.failure(), None);
        assert_eq!(r.rss_per_connection_kib(), Some(50.0));
        let p = &r.processes[0];
        assert_eq!(p.cpu_s, Some(0.5));
        assert_eq!(p.cpu_us_per_delivery, Some(25_000.0));
        assert!(r.human().contains("refused 1"), "{}", r.human());
        assert!(r.human().ends_with("OK\n"));
        r.lost = 2;
        assert!(r.failure().unwrap().contains("2 deliveries lost"));
        assert!(r.human().contains("FAIL: 2 deliveries lost"));
        r.lost = 0;
        r.messages_acked = 0;
        r.send_errors = BTreeMap::from([("rate_limited".into(), 10)]);
        assert!(r.failure().unwrap().contains("rate_limited 10"));
        r.connections_held = 0;
        assert!(r.failure().unwrap().contains("refused 1"));
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["messages_acked"], 0);
        assert_eq!(json["connect_failures"]["refused"], 1);
        assert!(json.get("series").is_none());
    }
}
