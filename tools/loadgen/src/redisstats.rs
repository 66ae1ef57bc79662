//! What Redis spent on a run: `INFO commandstats` read before and after the measured window
//! (calls and µs per command, the commands scripts run inside included, as Redis ≥ 7 counts
//! them), set against the Redis process's CPU and the messages stored, or the connections
//! held, in that window. Plain RESP over TCP, without authentication: meant for the private
//! Redis a benchmark starts.

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Calls and µs of one command, as `INFO commandstats` counts them since Redis started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub calls: u64,
    pub usec: u64,
}

/// Every command's counts, by name (`evalsha`, `xinfo|groups`, …).
pub type CommandStats = BTreeMap<String, Counts>;

/// One command's share of the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommandCost {
    pub command: String,
    pub calls: u64,
    /// µs Redis measured inside the command (a script's own includes its inner commands').
    pub usec: u64,
    pub calls_per_message: Option<f64>,
    pub usec_per_message: Option<f64>,
}

/// Redis's cost over the measured window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RedisCost {
    /// Messages acked in the window (each stored once).
    pub messages_stored: u64,
    /// Connections held × seconds measured.
    pub connection_seconds: f64,
    /// The Redis process's CPU (user + system) in the window, when its pid was given.
    pub cpu_s: Option<f64>,
    pub cpu_us_per_message: Option<f64>,
    pub cpu_us_per_connection_s: Option<f64>,
    /// Requests per connection-second (idle upkeep): scripts and commands sent on their
    /// own, not the commands scripts run.
    pub commands_per_connection_s: f64,
    /// µs of the top-level commands (scripts whole, their inner commands not again).
    pub command_usec_per_message: Option<f64>,
    /// Every command that ran in the window, most µs first.
    pub commands: Vec<CommandCost>,
}

/// Commands that run other commands: their µs already include their inner commands'.
fn is_script(command: &str) -> bool {
    command.starts_with("eval") || command.starts_with("fcall")
}

impl RedisCost {
    pub fn new(
        before: &CommandStats,
        after: &CommandStats,
        cpu_s: Option<f64>,
        messages_stored: u64,
        connection_seconds: f64,
    ) -> Self {
        let per_message = |v: f64| (messages_stored > 0).then(|| v / messages_stored as f64);
        let mut commands: Vec<CommandCost> = after
            .iter()
            .filter_map(|(name, a)| {
                let b = before.get(name).copied().unwrap_or_default();
                let calls = a.calls.saturating_sub(b.calls);
                let usec = a.usec.saturating_sub(b.usec);
                (calls > 0).then(|| CommandCost {
                    command: name.clone(),
                    calls,
                    usec,
                    calls_per_message: per_message(calls as f64),
                    usec_per_message: per_message(usec as f64),
                })
            })
            .collect();
        commands.sort_by(|a, b| b.usec.cmp(&a.usec).then(a.command.cmp(&b.command)));
        // A command run inside a script cannot be told from the same command sent on its own,
        // so the top level is the scripts plus every command the service never runs in one.
        let top_level = commands
            .iter()
            .filter(|c| is_script(&c.command) || !is_inner(&c.command));
        let (calls_top, usec_top) = top_level.fold((0, 0), |(n, u), c| (n + c.calls, u + c.usec));
        let per_conn_s = |v: f64| (connection_seconds > 0.0).then(|| v / connection_seconds);
        Self {
            messages_stored,
            connection_seconds,
            cpu_s,
            cpu_us_per_message: cpu_s.and_then(|c| per_message(c * 1e6)),
            cpu_us_per_connection_s: cpu_s.and_then(|c| per_conn_s(c * 1e6)),
            commands_per_connection_s: per_conn_s(calls_top as f64).unwrap_or(0.0),
            command_usec_per_message: per_message(usec_top as f64),
            commands,
        }
    }
}

/// Commands the service runs only inside its scripts (PUBLISH too, but for the rare signal
/// sent on its own): their calls are not requests, their µs are in the scripts'.
fn is_inner(command: &str) -> bool {
    const INNER: [&str; 25] = [
        "del",
        "exists",
        "get",
        "hdel",
        "hget",
        "hmget",
        "hset",
        "pexpire",
        "publish",
        "set",
        "spublish",
        "time",
        "xadd",
        "xdel",
        "xgroup",
        "xinfo",
        "xlen",
        "xrange",
        "zadd",
        "zcard",
        "zcount",
        "zrange",
        "zrangebyscore",
        "zrem",
        "zremrangebyscore",
    ];
    let base = command.split('|').next().unwrap_or(command);
    INNER.contains(&base)
}

/// Parses the text of `INFO commandstats`.
pub fn parse(info: &str) -> CommandStats {
    let mut stats = CommandStats::new();
    for line in info.lines() {
        let Some((name, fields)) = line
            .trim()
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let mut counts = Counts::default();
        for field in fields.split(',') {
            match field.split_once('=') {
                Some(("calls", v)) => counts.calls = v.parse().unwrap_or(0),
                Some(("usec", v)) => counts.usec = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        stats.insert(name.to_owned(), counts);
    }
    stats
}

/// A connection to the Redis whose statistics are read, opened once: by the end of a run,
/// loopback ports may all be taken by the connections it closed.
pub struct StatsReader {
    addr: String,
    stream: TcpStream,
}

impl StatsReader {
    pub async fn connect(addr: &str) -> Result<Self, String> {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| format!("Redis at {addr} did not accept a connection in 5 s"))?
            .map_err(|e| format!("cannot connect to Redis at {addr}: {e}"))?;
        Ok(Self {
            addr: addr.to_owned(),
            stream,
        })
    }

    /// Reads `INFO commandstats`.
    pub async fn read(&mut self) -> Result<CommandStats, String> {
        read(&mut self.stream, &self.addr).await
    }
}

/// Reads `INFO commandstats` over `stream`, connected to the Redis at `addr`.
async fn read(stream: &mut TcpStream, addr: &str) -> Result<CommandStats, String> {
    let fetch = async {
        stream
            .write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            .await
            .map_err(|e| format!("cannot ask Redis at {addr}: {e}"))?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("cannot read from Redis at {addr}: {e}"))?;
            if n == 0 {
                return Err(format!("Redis at {addr} closed the connection"));
            }
            reply.extend_from_slice(&chunk[..n]);
            if let Some(body) = bulk_string(&reply)? {
                return Ok(parse(&String::from_utf8_lossy(body)));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .map_err(|_| format!("Redis at {addr} did not answer INFO in 5 s"))?
}

/// The body of a complete RESP bulk string reply, `None` while more is to come.
fn bulk_string(reply: &[u8]) -> Result<Option<&[u8]>, String> {
    let Some(end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let header = String::from_utf8_lossy(&reply[..end]);
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected reply to INFO: {header}"))?;
    let start = end + 2;
    Ok(reply.get(start..start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# Commandstats\r\n\
        cmdstat_evalsha:calls=10,usec=500,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_xadd:calls=10,usec=40,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n";
    const AFTER: &str = "# Commandstats\r\n\
        cmdstat_evalsha:calls=110,usec=5500,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_xadd:calls=110,usec=440,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_xinfo|groups:calls=100,usec=300,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_ping:calls=20,usec=20,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n";

    #[test]
    fn parses_and_divides() {
        let before = parse(BEFORE);
        assert_eq!(
            before.get("evalsha"),
            Some(&Counts {
                calls: 10,
                usec: 500
            })
        );
        let cost = RedisCost::new(&before, &parse(AFTER), Some(0.01), 100, 40.0);
        assert_eq!(cost.cpu_us_per_message, Some(100.0));
        assert_eq!(cost.cpu_us_per_connection_s, Some(250.0));
        // Top level: 100 EVALSHA (5000 µs) and 20 PINGs (20 µs); XADD and XINFO ran inside.
        assert_eq!(cost.command_usec_per_message, Some(50.2));
        assert_eq!(cost.commands_per_connection_s, 3.0);
        let names: Vec<&str> = cost.commands.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(names, ["evalsha", "xadd", "xinfo|groups", "ping"]);
        assert_eq!(cost.commands[2].calls_per_message, Some(1.0));
    }

    #[test]
    fn reads_a_bulk_string_whole() {
        assert_eq!(bulk_string(b"$5\r\nab"), Ok(None));
        assert_eq!(bulk_string(b"$5\r\nabcde\r\n"), Ok(Some(&b"abcde"[..])));
        assert!(bulk_string(b"-ERR no\r\n").is_err());
    }
}
