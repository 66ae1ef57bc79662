//! The text format Prometheus scrapes.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use super::{ERROR_CODES, LAG_BUCKETS, Metrics, process};
use crate::routes::handshake_error::RefusalReason;

/// The backend's version, as in its Cargo.toml.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The source revision the binary was built from, when the build said (`SOURCE_REVISION`, set
/// by the image build); `unknown` otherwise.
const REVISION: &str = match option_env!("SOURCE_REVISION") {
    Some(revision) if !revision.is_empty() => revision,
    _ => "unknown",
};

/// Gauges read at scrape time from their owners.
pub struct Gauges<'a> {
    pub instance: &'a str,
    pub connections: usize,
    pub channels: usize,
}

impl Metrics {
    pub fn render(&self, gauges: Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP chat_instance_info This instance's id (as in logs and welcome).\n# TYPE chat_instance_info gauge\nchat_instance_info{{instance_id=\"{}\"}} 1",
            gauges.instance
        );
        let _ = writeln!(
            out,
            "# HELP chat_build_info The build serving: its version and source revision.\n# TYPE chat_build_info gauge\nchat_build_info{{version=\"{VERSION}\",revision=\"{REVISION}\"}} 1"
        );
        let mut series = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };

        series(
            "chat_connections",
            "gauge",
            "Open WebSocket connections.",
            gauges.connections as u64,
        );
        series(
            "chat_channels",
            "gauge",
            "Channels with local members (pub/sub subscriptions).",
            gauges.channels as u64,
        );
        series(
            "chat_messages_in_total",
            "counter",
            "Sends accepted (stored and published).",
            get(&self.messages_in),
        );
        series(
            "chat_messages_out_total",
            "counter",
            "Message frames written to clients.",
            get(&self.messages_out),
        );
        series(
            "chat_fanout_queue_drops_total",
            "counter",
            "Live events not queued because a connection was too slow.",
            get(&self.fanout_drops),
        );
        series(
            "chat_slow_consumer_closes_total",
            "counter",
            "Connections closed (1013) for falling behind.",
            get(&self.slow_consumer_closes),
        );
        series(
            "chat_history_reads_total",
            "counter",
            "First pages of history read for joining clients.",
            get(&self.history_reads),
        );
        series(
            "chat_history_reads_shared_total",
            "counter",
            "Joining clients served by a read of the same page already under way.",
            get(&self.history_reads_joined),
        );
        series(
            "chat_redis_reconnects_total",
            "counter",
            "Times the pub/sub connection was re-established.",
            get(&self.redis_reconnects),
        );

        let _ = writeln!(
            out,
            "# HELP chat_errors_total Error frames sent, by code.\n# TYPE chat_errors_total counter"
        );
        for (code, count) in ERROR_CODES.iter().zip(&self.errors) {
            let code = serde_json::to_value(code).ok();
            let code = code.as_ref().and_then(|v| v.as_str()).unwrap_or("unknown");
            let _ = writeln!(out, "chat_errors_total{{code=\"{code}\"}} {}", get(count));
        }

        let _ = writeln!(
            out,
            "# HELP chat_upgrades_refused_total WebSocket upgrades refused, by reason.\n# TYPE chat_upgrades_refused_total counter"
        );
        for reason in RefusalReason::ALL {
            let count = get(&self.refusals[reason.slot()]);
            let label = reason.label();
            let _ = writeln!(
                out,
                "chat_upgrades_refused_total{{reason=\"{label}\"}} {count}"
            );
        }

        let _ = writeln!(
            out,
            "# HELP chat_pubsub_lag_seconds Time from a message being stored to its local delivery.\n# TYPE chat_pubsub_lag_seconds histogram"
        );
        for (bound, bucket) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            let _ = writeln!(
                out,
                "chat_pubsub_lag_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.lag_count);
        let _ = writeln!(out, "chat_pubsub_lag_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "chat_pubsub_lag_seconds_sum {}",
            get(&self.lag_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "chat_pubsub_lag_seconds_count {count}");
        process::render(&mut out, self.started.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::error_slot;
    use protocol::ErrorCode;

    #[test]
    fn every_error_code_has_its_own_counter() {
        for (i, code) in ERROR_CODES.into_iter().enumerate() {
            assert_eq!(error_slot(code), i, "{code:?}");
        }
        let m = Metrics::default();
        m.error(ErrorCode::Unauthorized);
        let text = m.render(Gauges {
            instance: "rev-1",
            connections: 0,
            channels: 0,
        });
        assert!(text.contains("chat_errors_total{code=\"unauthorized\"} 1\n"));
    }

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.upgrade_refused(RefusalReason::Token);
        m.upgrade_refused(RefusalReason::Token);
        m.message_in();
        m.error(ErrorCode::RateLimited);
        m.pubsub_lag(0.003);
        m.pubsub_lag(2.0);
        let text = m.render(Gauges {
            instance: "rev-1",
            connections: 3,
            channels: 1,
        });
        assert!(text.contains("chat_instance_info{instance_id=\"rev-1\"} 1\n"));
        assert!(text.contains("\nchat_connections 3\n"));
        assert!(text.contains("\nchat_messages_in_total 1\n"));
        assert!(text.contains("chat_upgrades_refused_total{reason=\"token\"} 2\n"));
        assert!(text.contains("chat_errors_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"0.002\"} 0\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_count 2\n"));
        assert!(text.contains("chat_upgrades_refused_total{reason=\"origin\"} 0\n"));
        assert!(text.contains("chat_build_info{version=\""));
        assert!(text.contains("\nprocess_open_fds "));
    }
}
