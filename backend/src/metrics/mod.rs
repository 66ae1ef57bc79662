//! What an operator watches: counters and gauges in Prometheus' text format, served at
//! `/metrics` on the metrics port (`METRICS_PORT`), apart from the public WebSocket port.
//!
//! Hand-rolled atomics rather than a metrics crate: a dozen series, updated on hot paths with
//! one relaxed atomic add each, rendered on demand ([`render`]), with the process's own
//! figures read from `/proc` at scrape time ([`process`]).

mod process;
mod render;

pub use self::render::Gauges;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::SystemTime,
};

use protocol::ErrorCode;

use crate::{bus::history_flights::HistoryRead, routes::handshake_error::RefusalReason};

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
    refusals: [AtomicU64; RefusalReason::ALL.len()],
    history_reads: AtomicU64,
    history_reads_joined: AtomicU64,
    started: StartTime,
}

/// When the process started serving: when its metrics were created, at start-up.
struct StartTime(SystemTime);

impl Default for StartTime {
    fn default() -> Self {
        Self(SystemTime::now())
    }
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

    /// A joining client's first page of history: read for it, or taken from a read of the
    /// same page already under way.
    pub fn history_read(&self, read: HistoryRead) {
        match read {
            HistoryRead::Started => add(&self.history_reads),
            HistoryRead::Joined => add(&self.history_reads_joined),
        }
    }

    /// An upgrade request was refused.
    pub fn upgrade_refused(&self, reason: RefusalReason) {
        add(&self.refusals[reason.slot()]);
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
}
