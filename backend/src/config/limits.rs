//! How much one connection, one client and the whole instance may take, held in the types
//! that enforce them.

use protocol::{MessageLimits, frames::DEFAULT_MAX_MESSAGE_CHARS};

use super::{
    ConfigError,
    names::{
        MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, MAX_CONNECTIONS_PER_CLIENT,
        MAX_MESSAGE_CHARS, OUTBOUND_QUEUE_BYTES, OUTBOUND_QUEUE_FRAMES, RATE_LIMIT_BURST,
        RATE_LIMIT_PER_SEC,
    },
    vars::Vars,
};
use crate::{outbox::QueueLimits, rate_limit::RateLimit};

#[derive(Debug, Clone)]
pub struct LimitSettings {
    pub message: MessageLimits,
    /// Frames and bytes a connection may have queued before it is closed as too slow (1013).
    pub outbound: QueueLimits,
    /// Sustained sends per second per connection, and how many it may make at once;
    /// beyond them, `rate_limited`.
    pub rate: RateLimit,
    pub connections: ConnectionLimits,
}

/// WebSockets this instance accepts.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// In all; beyond it, HTTP 503 before the upgrade.
    pub total: usize,
    /// Per client id; beyond it, HTTP 429.
    pub per_client: usize,
    /// Per source address (an IPv6 /64); beyond it, HTTP 429. High enough for an office
    /// behind one NAT.
    pub per_address: usize,
}

impl LimitSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            message: MessageLimits {
                max_chars: vars.number(MAX_MESSAGE_CHARS, DEFAULT_MAX_MESSAGE_CHARS, 1)?,
            },
            outbound: QueueLimits {
                frames: vars.number(OUTBOUND_QUEUE_FRAMES, 1024, 16)?,
                bytes: vars.number(
                    OUTBOUND_QUEUE_BYTES,
                    1024 * 1024,
                    protocol::frames::MAX_FRAME_BYTES,
                )?,
            },
            rate: RateLimit {
                per_second: vars.number(RATE_LIMIT_PER_SEC, 10.0, 0.001)?,
                burst: vars.number(RATE_LIMIT_BURST, 20.0, 1.0)?,
            },
            connections: ConnectionLimits {
                total: vars.number(MAX_CONNECTIONS, default_max_connections(), 1)?,
                per_client: vars.number(MAX_CONNECTIONS_PER_CLIENT, 50, 1)?,
                per_address: vars.number(MAX_CONNECTIONS_PER_ADDRESS, 500, 1)?,
            },
        })
    }
}

/// Every WebSocket costs one file descriptor: allow what the process's open-file limit
/// allows, less headroom for Redis connections, listeners and logs.
fn default_max_connections() -> usize {
    const HEADROOM: usize = 256;
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|soft| soft.parse::<usize>().ok());
    match soft_limit {
        Some(limit) => limit.saturating_sub(HEADROOM).max(limit / 2).max(1),
        None => 10_000,
    }
}
