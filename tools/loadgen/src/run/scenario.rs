//! What a run is asked to do: the [`Scenario`] and the knobs of a run ([`Config`]).

use std::{net::IpAddr, time::Duration};

use crate::wire::Wire;

/// What to run. Every scenario is bounded in connections, messages and time.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// Hold `connections` spread over `channels` for `hold`; nobody sends.
    Idle {
        connections: usize,
        channels: usize,
        hold: Duration,
    },
    /// One channel: `subscribers` listen, `publishers` (also members) send `rate` msg/s in
    /// total for `duration`.
    Fanout {
        subscribers: usize,
        publishers: usize,
        rate: f64,
        duration: Duration,
    },
    /// `connections` over `channels`; every client sends `rate_per_client` msg/s for
    /// `duration`.
    Rooms {
        connections: usize,
        channels: usize,
        rate_per_client: f64,
        duration: Duration,
    },
}

impl Scenario {
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Idle { .. } => "idle",
            Scenario::Fanout { .. } => "fanout",
            Scenario::Rooms { .. } => "rooms",
        }
    }

    pub fn connections(&self) -> usize {
        match *self {
            Scenario::Idle { connections, .. } | Scenario::Rooms { connections, .. } => connections,
            Scenario::Fanout {
                subscribers,
                publishers,
                ..
            } => subscribers + publishers,
        }
    }

    pub(super) fn duration(&self) -> Duration {
        match *self {
            Scenario::Idle { hold, .. } => hold,
            Scenario::Fanout { duration, .. } | Scenario::Rooms { duration, .. } => duration,
        }
    }
}

/// Everything a run needs; [`Config::new`] fills in sensible defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: Scenario,
    /// Backend URLs (`ws://host:port`); connection `i` goes to `urls[i % urls.len()]`.
    pub urls: Vec<String>,
    /// The servers' protocol: ours, or socket.io (the reference server).
    pub wire: Wire,
    /// Local addresses to connect from, round-robin; `None`: automatic (see
    /// [`crate::addrs::auto_sources`]); an empty list: let the kernel pick.
    pub sources: Option<Vec<IpAddr>>,
    /// Limit for one connection: TCP connect, upgrade and `welcome`.
    pub connect_timeout: Duration,
    /// Connections being opened at once.
    pub connect_concurrency: usize,
    /// New connections per second (0: as fast as `connect_concurrency` allows).
    pub connect_rate: f64,
    /// Limit for opening all connections; later ones count as failed (`ramp_timeout`).
    pub ramp_timeout: Duration,
    /// Pause between the last connection and the first send (joins and presence settle).
    pub settle: Duration,
    /// Longest wait after the last send for acks and deliveries.
    pub drain: Duration,
    /// Pad message bodies to this many bytes.
    pub message_bytes: usize,
    /// WebSocket read buffer per connection, bytes.
    pub read_buffer: usize,
    /// Channel names are `<prefix>-<n>`; by default unique per run, so history is empty.
    pub channel_prefix: Option<String>,
    /// Local processes to measure (RSS, CPU): label and pid.
    pub watch: Vec<(String, u32)>,
    /// Redis (host:port) whose command statistics to read around the measured window.
    pub redis_addr: Option<String>,
    /// Live progress line on stderr (only shown when stderr is a terminal).
    pub progress: bool,
}

impl Config {
    pub fn new(scenario: Scenario, urls: Vec<String>) -> Self {
        Self {
            scenario,
            urls,
            wire: Wire::Chat,
            sources: None,
            connect_timeout: Duration::from_secs(10),
            connect_concurrency: 200,
            connect_rate: 0.0,
            ramp_timeout: Duration::from_secs(300),
            settle: Duration::from_secs(2),
            drain: Duration::from_secs(10),
            message_bytes: 0,
            read_buffer: 4096,
            channel_prefix: None,
            watch: Vec::new(),
            redis_addr: None,
            progress: true,
        }
    }
}
