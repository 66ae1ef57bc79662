//! What an operator watches: counters and gauges in Prometheus' text format at `/metrics`.
//!
//! Hand-rolled atomics rather than a metrics crate: a dozen series, updated on hot paths with
//! one relaxed atomic add each, rendered on demand.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use protocol::ErrorCode;

/// Upper bounds (seconds) of the pub/sub lag histogram buckets.
const LAG_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Every error code, in the order of [`error_slot`].
const ERROR_CODES: [ErrorCode; 6] = [
    ErrorCode::BadFrame,
    ErrorCode::TooLarge,
    ErrorCode::Unavailable,
    ErrorCode::RateLimited,
    ErrorCode::NotConfirmed,
    ErrorCode::Unauthorized,
];

/// Where a code is counted: a match, so a code added to the protocol cannot go uncounted
/// without the build saying so.
fn error_slot(code: ErrorCode) -> usize {
    match code {
        ErrorCode::BadFrame => 0,
        ErrorCode::TooLarge => 1,
        ErrorCode::Unavailable => 2,
        ErrorCode::RateLimited => 3,
        ErrorCode::NotConfirmed => 4,
        ErrorCode::Unauthorized => 5,
    }
}

#[derive(Default)]
pub struct Metrics {
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    fanout_drops: AtomicU64,
    slow_consumer_closes: AtomicU64,
    redis_reconnects: AtomicU64,
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    lag_sum_micros: AtomicU64,
    errors: [AtomicU64; ERROR_CODES.len()],
}

/// Gauges read at scrape time from their owners.
pub struct Gauges<'a> {
    pub instance: &'a str,
    pub connections: usize,
    pub channels: usize,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// A `send` was stored and published.
    pub fn message_in(&self) {
        add(&self.messages_in);
    }

    /// A `message` frame was written to a client.
    pub fn message_out(&self) {
        add(&self.messages_out);
    }

    /// A live event could not be queued for a connection that is too slow.
    pub fn fanout_drop(&self) {
        add(&self.fanout_drops);
    }

    /// A connection was closed (1013) for falling behind.
    pub fn slow_consumer_close(&self) {
        add(&self.slow_consumer_closes);
    }

    /// The pub/sub connection had to be re-established.
    pub fn redis_reconnect(&self) {
        add(&self.redis_reconnects);
    }

    /// An `error` frame was sent.
    pub fn error(&self, code: ErrorCode) {
        add(&self.errors[error_slot(code)]);
    }

    /// Time from a message being stored to this instance delivering it to local clients.
    pub fn pubsub_lag(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        for (bound, bucket) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            if seconds <= *bound {
                add(bucket);
            }
        }
        add(&self.lag_count);
        self.lag_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn render(&self, gauges: Gauges) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP chat_instance_info This instance's id (as in logs and welcome).\n# TYPE chat_instance_info gauge\nchat_instance_info{{instance_id=\"{}\"}} 1",
            gauges.instance
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(text.contains("chat_errors_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"0.002\"} 0\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("chat_pubsub_lag_seconds_count 2\n"));
    }
}
