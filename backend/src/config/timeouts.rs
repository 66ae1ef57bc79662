//! How long a connection may take over each step of its life, from the request head to its
//! maximum age.

use std::time::Duration;

use super::{
    ConfigError,
    names::{
        CONNECTION_MAX_AGE_SECS, HANDSHAKE_TIMEOUT_SECS, MESSAGE_TIMEOUT_SECS, PING_INTERVAL_SECS,
        PONG_TIMEOUT_SECS, STALLED_SOCKET_TIMEOUT_SECS,
    },
    vars::Vars,
};

#[derive(Debug, Clone, Copy)]
pub struct TimeoutSettings {
    /// Time a client has to send its complete request head (slowloris defence).
    pub handshake: Duration,
    /// Time a client has to finish a message (every frame of it) once it has begun: a frame
    /// header followed by nothing, or a byte a second, is closed with 1008.
    pub message: Duration,
    /// How long a join waits for its channel subscription, on any bus: the bus's command
    /// timeout (`REDIS_TIMEOUT_SECS`).
    pub join: Duration,
    pub ping_interval: Duration,
    pub pong: Duration,
    /// A socket whose client reads nothing (its TCP window stays shut) for this long is cut
    /// off by the kernel (`TCP_USER_TIMEOUT`): otherwise its connection, which can neither
    /// take more nor its close frame, would be held open for as long as the client lives.
    pub stalled_socket: Duration,
    /// Connections are closed (1012) after about this long, before the platform's request
    /// timeout cuts them (Cloud Run: up to 60 min), each at a jittered moment.
    pub connection_max_age: Duration,
}

impl TimeoutSettings {
    /// Reads the timeouts; `join` is the bus's command timeout, read with the bus.
    pub(super) fn read(vars: &Vars, join: Duration) -> Result<Self, ConfigError> {
        Ok(Self {
            handshake: vars.secs(HANDSHAKE_TIMEOUT_SECS, 5)?,
            message: vars.secs(MESSAGE_TIMEOUT_SECS, 10)?,
            join,
            ping_interval: vars.secs(PING_INTERVAL_SECS, 30)?,
            pong: vars.secs(PONG_TIMEOUT_SECS, 10)?,
            stalled_socket: vars.secs(STALLED_SOCKET_TIMEOUT_SECS, 30)?,
            connection_max_age: vars.secs(CONNECTION_MAX_AGE_SECS, 3300)?,
        })
    }
}
