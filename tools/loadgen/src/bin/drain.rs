//! `loadgen-drain`: the mass reconnect scenario (see `loadgen-drain --help` and
//! `loadgen::drain`). `tools/loadgen/drain` runs it against fresh backends and Redis.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use loadgen::drain::{self, Config};

/// Mass reconnect: N clients over C channels on two backends; SIGTERM to the first backend
/// after a warm-up; its clients resume on the second with `since` and `epoch`. Prints one
/// JSON line on stdout and a summary on stderr; exits 1 on any lost, duplicated or
/// reordered message, or a client that could not reconnect.
#[derive(Debug, Parser)]
#[command(name = "loadgen-drain", version)]
struct Cli {
    /// The backend to drain, ws://host:port.
    #[arg(long)]
    drained_url: String,
    /// Its process id (sent SIGTERM).
    #[arg(long)]
    drained_pid: u32,
    /// The backend that stays, ws://host:port.
    #[arg(long)]
    surviving_url: String,
    /// host:port of the backends' Redis, for INFO commandstats.
    #[arg(long)]
    redis: Option<String>,
    #[arg(long, short = 'n', default_value_t = 1000)]
    clients: usize,
    #[arg(long, short = 'm', default_value_t = 100)]
    channels: usize,
    /// Milliseconds between two messages of one channel.
    #[arg(long, default_value_t = 200)]
    channel_interval_ms: u64,
    /// Seconds of chat before SIGTERM (at least 2: the Redis baseline).
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds of chat after SIGTERM.
    #[arg(long, default_value_t = 10.0)]
    after: f64,
    /// Longest random wait before a client reconnects, in ms.
    #[arg(long, default_value_t = 200)]
    jitter_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or_default();
    let config = Config {
        drained_url: cli.drained_url,
        surviving_url: cli.surviving_url,
        drained_pid: cli.drained_pid,
        redis: cli.redis,
        clients: cli.clients,
        channels: cli.channels,
        channel_interval: Duration::from_millis(cli.channel_interval_ms.max(1)),
        warmup: secs(cli.warmup),
        after: secs(cli.after),
        jitter: Duration::from_millis(cli.jitter_ms),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen-drain: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(drain::run(config)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen-drain: {e:#}");
            return ExitCode::from(2);
        }
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("{}", report.json);
    eprint!("{}", report.human());
    if report.failure().is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
