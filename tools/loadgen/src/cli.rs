//! The command line (clap derive), turned into a [`Config`].

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    addrs,
    run::{Config, Scenario},
    wire::Wire,
};

const EXAMPLES: &str = "\
Examples:
  # 5,000 idle connections over 100 channels for 30 s; memory of the local backend
  loadgen idle --url ws://127.0.0.1:8080 --connections 5000 --channels 100 --hold 30 \\
      --backend-pid $(pgrep -n backend)

  # one channel, 1,000 subscribers over two instances, 200 msg/s for 20 s, with a plot
  loadgen fanout --url ws://127.0.0.1:8081 --url ws://127.0.0.1:8082 \\
      --subscribers 1000 --publishers 4 --rate 200 --duration 20 --plot fanout.svg

  # 2,000 clients in 200 rooms, each sending one message every 2 s for 30 s
  loadgen rooms --url ws://127.0.0.1:8080 --connections 2000 --channels 200 \\
      --rate 0.5 --duration 30

  # the same fanout against two reference servers (tools/reference, socket.io)
  loadgen fanout --protocol socketio --url ws://127.0.0.1:8091 --url ws://127.0.0.1:8092 \\
      --subscribers 200 --rate 50 --duration 10

The backend rate-limits each connection (RATE_LIMIT_PER_SEC=10, RATE_LIMIT_BURST=20 by
default): raise them for publishers faster than that. Prints one JSON line on stdout and a
summary on stderr; exits 1 if any delivery was lost or duplicated, or no connection opened,
or no message was accepted (--strict: also on any failed connection or refused send).";

/// Load generator for the chat service (protocol v1).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hold N connections over M channels for T seconds; nobody sends.
    Idle {
        /// Connections to open.
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: usize,
        /// Channels to spread them over (each join is announced to the channel's members).
        #[arg(long, short = 'm', default_value_t = 50)]
        channels: usize,
        /// Seconds to hold them once all are open.
        #[arg(long, default_value_t = 10.0)]
        hold: f64,
        #[command(flatten)]
        common: Common,
    },
    /// One channel: S subscribers, P publishers sending R messages/s in total.
    Fanout {
        /// Members that only listen.
        #[arg(long, short = 's', default_value_t = 100)]
        subscribers: usize,
        /// Members that send (they also receive).
        #[arg(long, short = 'p', default_value_t = 1)]
        publishers: usize,
        /// Messages per second, all publishers together.
        #[arg(long, short = 'r', default_value_t = 10.0)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, short = 'd', default_value_t = 10.0)]
        duration: f64,
        #[command(flatten)]
        common: Common,
    },
    /// Many channels, every client chatting at a given rate.
    Rooms {
        /// Clients (connections), each a publisher.
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: usize,
        /// Channels (rooms) to spread them over.
        #[arg(long, short = 'm', default_value_t = 100)]
        channels: usize,
        /// Messages per second per client.
        #[arg(long, short = 'r', default_value_t = 0.2)]
        rate: f64,
        /// Seconds of sending.
        #[arg(long, short = 'd', default_value_t = 10.0)]
        duration: f64,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
pub struct Common {
    /// Backend URL, ws://host:port (repeat for several instances; connections round-robin).
    #[arg(long = "url", short = 'u', required = true)]
    pub urls: Vec<String>,
    /// The servers' protocol: `chat` (ours) or `socketio` (the reference server in
    /// tools/reference: socket.io with the Redis adapter).
    #[arg(long, value_enum, default_value_t = Wire::Chat)]
    pub protocol: Wire,
    /// Local source addresses, e.g. 127.0.0.2-127.0.0.5 (about 28k connections each).
    /// Default for loopback backends: 127.0.0.2, 127.0.0.3, … as many as needed.
    #[arg(long = "source-ips", value_name = "LIST")]
    pub sources: Option<String>,
    /// Local backend process to measure (RSS, CPU); repeat for several.
    #[arg(long = "backend-pid", value_name = "PID")]
    pub backend_pids: Vec<u32>,
    /// Local Redis server to measure (RSS, CPU).
    #[arg(long = "redis-pid", value_name = "PID")]
    pub redis_pid: Option<u32>,
    /// Local Redis (host:port, no password) whose INFO commandstats to read before and after
    /// the measured window: what each command cost per stored message or connection-second.
    #[arg(long = "redis-addr", value_name = "HOST:PORT")]
    pub redis_addr: Option<String>,
    /// Seconds one connection may take (TCP, upgrade, welcome).
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// New connections per second (0: as fast as the concurrency allows).
    #[arg(long, default_value_t = 0.0)]
    pub connect_rate: f64,
    /// Seconds allowed for opening all connections.
    #[arg(long, default_value_t = 300.0)]
    pub ramp_timeout: f64,
    /// Seconds to wait after connecting before sending (joins settle).
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Longest wait, in seconds, for acks and deliveries after the last send.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Pad message bodies to this many bytes.
    #[arg(long, default_value_t = 0)]
    pub message_bytes: usize,
    /// WebSocket read buffer per connection, in bytes.
    #[arg(long, default_value_t = 4096)]
    pub read_buffer: usize,
    /// Channel name prefix (default: unique per run, so no history is replayed).
    #[arg(long)]
    pub channel_prefix: Option<String>,
    /// Write an SVG plot: latency by percentile, deliveries/s and p99 over time.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Runtime worker threads (default: one per core; 1: a single-threaded runtime).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No live progress line (it is only shown when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Also fail (exit 1) when any connection could not be opened or was dropped, or any send
    /// was refused (`rate_limited`, `unavailable`, …).
    #[arg(long)]
    pub strict: bool,
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_nan() || v <= 0.0 {
        return Err(format!("--{name} must be a positive number of seconds"));
    }
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{name} {v} is out of range"))
}

fn seconds_or_zero(name: &str, v: f64) -> Result<Duration, String> {
    if v == 0.0 {
        Ok(Duration::ZERO)
    } else {
        seconds(name, v)
    }
}

impl Command {
    pub fn common(&self) -> &Common {
        match self {
            Command::Idle { common, .. }
            | Command::Fanout { common, .. }
            | Command::Rooms { common, .. } => common,
        }
    }

    /// The run configuration this command line asks for.
    pub fn config(&self) -> Result<Config, String> {
        let scenario = match *self {
            Command::Idle {
                connections,
                channels,
                hold,
                ..
            } => Scenario::Idle {
                connections,
                channels,
                hold: seconds("hold", hold)?,
            },
            Command::Fanout {
                subscribers,
                publishers,
                rate,
                duration,
                ..
            } => Scenario::Fanout {
                subscribers,
                publishers,
                rate,
                duration: seconds("duration", duration)?,
            },
            Command::Rooms {
                connections,
                channels,
                rate,
                duration,
                ..
            } => Scenario::Rooms {
                connections,
                channels,
                rate_per_client: rate,
                duration: seconds("duration", duration)?,
            },
        };
        let c = self.common();
        let mut config = Config::new(scenario, c.urls.clone());
        config.wire = c.protocol;
        config.sources = c
            .sources
            .as_deref()
            .map(addrs::parse_sources)
            .transpose()?
            .map(|v: Vec<IpAddr>| v);
        config.connect_timeout = seconds("connect-timeout", c.connect_timeout)?;
        config.connect_concurrency = c.connect_concurrency.max(1);
        if !(c.connect_rate >= 0.0 && c.connect_rate.is_finite()) {
            return Err("--connect-rate must be 0 or a positive number".into());
        }
        config.connect_rate = c.connect_rate;
        config.ramp_timeout = seconds("ramp-timeout", c.ramp_timeout)?;
        config.settle = seconds_or_zero("settle", c.settle)?;
        config.drain = seconds_or_zero("drain", c.drain)?;
        config.message_bytes = c.message_bytes.min(4000);
        config.read_buffer = c.read_buffer.clamp(256, 1 << 20);
        config.channel_prefix = c.channel_prefix.clone();
        config.watch = c
            .backend_pids
            .iter()
            .enumerate()
            .map(|(i, pid)| (format!("backend#{}", i + 1), *pid))
            .chain(c.redis_pid.map(|pid| ("redis".to_owned(), pid)))
            .collect();
        config.redis_addr = c.redis_addr.clone();
        config.progress = !c.no_progress;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_a_fanout() {
        let cli = Cli::try_parse_from([
            "loadgen",
            "fanout",
            "-u",
            "ws://127.0.0.1:1",
            "--url",
            "ws://127.0.0.1:2",
            "-s",
            "5",
            "-r",
            "20",
            "-d",
            "2",
            "--backend-pid",
            "7",
            "--redis-pid",
            "9",
            "--source-ips",
            "127.0.0.2-127.0.0.3",
        ])
        .unwrap();
        let config = cli.scenario.config().unwrap();
        assert_eq!(config.urls.len(), 2);
        assert_eq!(config.sources.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            config.watch,
            [("backend#1".to_owned(), 7), ("redis".to_owned(), 9)]
        );
        assert_eq!(
            config.scenario,
            Scenario::Fanout {
                subscribers: 5,
                publishers: 1,
                rate: 20.0,
                duration: Duration::from_secs(2)
            }
        );
    }

    #[test]
    fn rejects_nonsense() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args)
                .map_err(|e| e.to_string())
                .and_then(|c| c.scenario.config().map(|_| ()))
        };
        assert!(parse(&["loadgen", "idle"]).is_err()); // --url is required
        assert!(parse(&["loadgen", "idle", "-u", "ws://x:1", "--hold", "-1"]).is_err());
        assert!(parse(&["loadgen", "idle", "-u", "ws://x:1", "--hold", "NaN"]).is_err());
        assert!(parse(&["loadgen", "idle", "-u", "ws://x:1", "--source-ips", "x"]).is_err());
        assert!(parse(&["loadgen", "idle", "-u", "ws://x:1", "--settle", "0"]).is_ok());
    }
}
