//! Before any connection: the plan checked, the backends resolved, source addresses chosen,
//! the run named (channels unique to it), and the shared state built.

use std::{io::IsTerminal, net::IpAddr, net::SocketAddr, sync::Arc};

use protocol::{ChannelId, ClientId};

use super::{
    plan::{Spec, plan},
    progress::Progress,
    scenario::Config,
    shared::Shared,
};
use crate::addrs::{self, Target};

/// Everything the connect phase needs, ready to go.
pub(super) struct Setup {
    pub(super) channel_count: usize,
    pub(super) specs: Vec<Spec>,
    pub(super) targets: Vec<Target>,
    /// The socket address of each of `targets`.
    pub(super) resolved: Vec<SocketAddr>,
    pub(super) sources: Vec<IpAddr>,
    /// Channel names, indexed by [`Spec::channel`].
    pub(super) channels: Vec<String>,
    /// Planned messages per publisher index.
    pub(super) planned: Vec<u32>,
    pub(super) shared: Arc<Shared>,
    pub(super) progress: Progress,
    pub(super) warnings: Vec<String>,
}

/// Checks `config` and prepares the run. Errors are for runs that cannot start.
pub(super) async fn prepare(config: &Config) -> anyhow::Result<Setup> {
    let (channel_count, specs) = plan(&config.scenario).map_err(anyhow::Error::msg)?;
    if config.urls.is_empty() {
        anyhow::bail!("give at least one backend URL (--url ws://host:port)");
    }
    let targets = config
        .urls
        .iter()
        .map(|u| Target::parse(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let mut resolved = Vec::with_capacity(targets.len());
    for t in &targets {
        resolved.push(t.resolve().await.map_err(anyhow::Error::msg)?);
    }
    let sources = match &config.sources {
        Some(list) => list.clone(),
        None => addrs::auto_sources(specs.len(), &resolved),
    };
    if config.connect_concurrency == 0 {
        anyhow::bail!("connect concurrency must be at least 1");
    }

    let epoch = std::time::Instant::now();
    let run = (epoch.elapsed().as_nanos() as u32)
        ^ std::process::id().rotate_left(16)
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u32));
    let prefix = config
        .channel_prefix
        .clone()
        .unwrap_or_else(|| format!("lg{run:08x}"));
    let channels: Vec<String> = (0..channel_count)
        .map(|c| format!("{prefix}-{c}"))
        .collect();
    for c in &channels {
        ChannelId::parse(c).map_err(|e| anyhow::anyhow!("channel {c:?}: {e}"))?;
    }
    for s in &specs {
        ClientId::parse(&s.client).map_err(|e| anyhow::anyhow!("client {:?}: {e}", s.client))?;
    }
    let mut warnings = Vec::new();
    if let Some(limit) = open_file_limit()
        && (specs.len() as u64 + 64) > limit
    {
        warnings.push(format!(
            "{} connections but this process may open only {limit} files: expect too_many_open_files (raise ulimit -n)",
            specs.len()
        ));
    }

    let planned = planned_per_publisher(&specs);
    let shared = Arc::new(Shared::new(
        run,
        config.wire,
        epoch,
        config.message_bytes,
        channel_count,
        planned.clone(),
    ));
    let progress = Progress {
        enabled: config.progress && std::io::stderr().is_terminal(),
        total: specs.len(),
    };
    Ok(Setup {
        channel_count,
        specs,
        targets,
        resolved,
        sources,
        channels,
        planned,
        shared,
        progress,
        warnings,
    })
}

/// Messages planned per publisher index (0 for indexes no connection sends as).
fn planned_per_publisher(specs: &[Spec]) -> Vec<u32> {
    let mut p = Vec::new();
    for s in specs {
        if let Some((idx, n)) = s.publisher {
            if p.len() <= idx as usize {
                p.resize(idx as usize + 1, 0);
            }
            p[idx as usize] = n;
        }
    }
    p
}

fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
