//! The connect phase: spawns one task per planned connection (at the configured rate and
//! concurrency), waits until all are open or failed or the ramp deadline passes, then lets
//! joins and presence settle and closes the member counts.

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
    time::Instant,
};

use super::{
    connection::{Conn, Dial, Outcome, connection},
    plan::Spec,
    scenario::Config,
    setup::Setup,
    shared::{Phase, bump},
};
use crate::{
    conn,
    procstat::{self, ProcSample},
    wire::Join,
};

/// The connections, open and settled, waiting for the send phase.
pub(super) struct Ramp {
    pub(super) tasks: JoinSet<Outcome>,
    /// Moves every connection task to the next [`Phase`].
    pub(super) phase_tx: watch::Sender<Phase>,
    pub(super) ramp_secs: f64,
    /// Connections counted in their channel when the joins closed.
    pub(super) held: u64,
    /// The watched processes with every connection held.
    pub(super) held_samples: Vec<Option<ProcSample>>,
    /// The kernel's TCP memory with every connection held (KiB).
    pub(super) kernel_tcp_kib: Option<u64>,
    /// The kernel's socket slabs with every connection held (KiB).
    pub(super) kernel_slab_kib: Option<u64>,
    /// When the progress line was last drawn, so the next phase keeps its pace.
    pub(super) last_show: Instant,
}

/// Opens the connections of `specs` and holds them until the send phase.
pub(super) async fn open_all(config: &Config, setup: &Setup, specs: Vec<Spec>) -> Ramp {
    let Setup {
        targets,
        resolved,
        sources,
        channels,
        shared,
        progress,
        ..
    } = setup;
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let slots = Arc::new(Semaphore::new(config.connect_concurrency));
    let ws_config = conn::ws_config(config.read_buffer);
    let mut tasks = JoinSet::new();
    let ramp_start = Instant::now();
    let ramp_deadline = ramp_start + config.ramp_timeout;
    let mut last_show = Instant::now();
    let total = specs.len() as u64;
    for (idx, spec) in specs.into_iter().enumerate() {
        if config.connect_rate > 0.0 {
            let due = ramp_start + Duration::from_secs_f64(idx as f64 / config.connect_rate);
            if due >= ramp_deadline {
                // Would open after the ramp deadline: counts as failed without trying.
                shared.failed.fetch_add(1, Relaxed);
                bump(&shared.connect_failures, "ramp_timeout".into());
                continue;
            }
            tokio::time::sleep_until(due).await;
        }
        let t = idx % resolved.len();
        let dial = Dial {
            addr: resolved[t],
            source: (!sources.is_empty()).then(|| sources[idx % sources.len()]),
            url: config.wire.url(
                &targets[t].base,
                Join {
                    channel: &channels[spec.channel],
                    client: &spec.client,
                },
            ),
            channel: channels[spec.channel].clone(),
            config: ws_config,
            timeout: config.connect_timeout,
        };
        let conn = Conn::new(idx, spec, shared.clone());
        tasks.spawn(connection(conn, dial, slots.clone(), phase_rx.clone()));
        if last_show.elapsed() >= Duration::from_millis(250) {
            progress.show("connect", shared, 0.0, None);
            last_show = Instant::now();
        }
    }
    loop {
        let done = shared.opened.load(Relaxed) + shared.failed.load(Relaxed);
        if done >= total || Instant::now() >= ramp_deadline {
            break;
        }
        progress.show("connect", shared, 0.0, None);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    tokio::time::sleep(config.settle).await;
    let members = shared.close_joins();
    let held: u64 = members.iter().sum();
    let held_samples = procstat::sample_all(&config.watch);
    let kernel_tcp_kib = procstat::kernel_tcp_kib();
    let kernel_slab_kib = procstat::kernel_socket_slab_kib();
    Ramp {
        tasks,
        phase_tx,
        ramp_secs,
        held,
        held_samples,
        kernel_tcp_kib,
        kernel_slab_kib,
        last_show,
    }
}
