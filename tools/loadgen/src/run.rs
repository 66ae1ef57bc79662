//! The orchestrator: plans connections for a scenario, opens them, runs the bounded send
//! phase, waits for deliveries to drain, and gathers everything into a [`Report`].
//!
//! One module per phase, in the order a run goes through them:
//! - [`scenario`]: what to run ([`Scenario`], [`Config`]); [`plan`]: the connections it needs;
//! - [`setup`]: checks, address resolution, naming the run, the [`shared`] counters;
//! - [`ramp`]: opening every connection ([`connection`] is one connection's task, [`receive`]
//!   its handling of server frames), then settling;
//! - [`measure`]: the send (or hold) phase and the drain, with the progress line
//!   ([`progress`]);
//! - [`tally`]: stopping the connections, counting loss and building the report.

mod connection;
mod measure;
mod plan;
mod progress;
mod ramp;
mod receive;
mod scenario;
mod setup;
mod shared;
mod tally;

pub use scenario::{Config, Scenario};

use crate::{procstat, report::Report};

/// Runs `config` to the end and reports. Errors are for runs that could not start (bad
/// configuration, unresolvable URL); everything that goes wrong during the run is reported.
pub async fn run(config: Config) -> anyhow::Result<Report> {
    let mut setup = setup::prepare(&config).await?;
    let specs = std::mem::take(&mut setup.specs);
    let total = specs.len();
    let baseline = tally::Baseline {
        watched: procstat::sample_all(&config.watch),
        loadgen: procstat::sample(None).ok(),
        kernel_tcp_kib: procstat::kernel_tcp_kib(),
        kernel_slab_kib: procstat::kernel_socket_slab_kib(),
    };
    let mut ramp = ramp::open_all(&config, &setup, specs).await;
    let measured = measure::send_and_drain(
        &config,
        &setup.shared,
        &ramp.phase_tx,
        &setup.progress,
        ramp.last_show,
    )
    .await;
    let tasks = std::mem::take(&mut ramp.tasks);
    let outcomes = tally::stop_and_collect(tasks, &ramp.phase_tx, total, &mut setup.warnings).await;
    Ok(tally::assemble(
        &config,
        setup,
        total as u64,
        baseline,
        &ramp,
        measured,
        &outcomes,
    ))
}
