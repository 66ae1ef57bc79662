//! `loadgen`: see `loadgen --help`.

use std::process::ExitCode;

use clap::Parser;
use loadgen::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = cli.scenario.common();
    let config = match cli.scenario.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread: the current-thread runtime, which wakes tasks without cross-thread
    // hand-offs (cheapest per delivery while one core keeps up).
    let mut runtime = match common.threads {
        Some(0 | 1) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all();
    if let Some(threads) = common.threads.filter(|&t| t > 1) {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(loadgen::run(config)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            return ExitCode::from(2);
        }
    };
    // Connections still closing must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));

    println!("{}", report.json());
    eprint!("{}", report.human());
    if let Some(path) = &common.plot {
        match loadgen::plot::write_svg(path, &report) {
            Ok(()) => eprintln!("plot written to {}", path.display()),
            Err(e) => eprintln!("loadgen: cannot write the plot {}: {e:#}", path.display()),
        }
    }
    let refused_sends: u64 = report.send_errors.values().sum();
    let strict_failure = common.strict
        && (report.connections_failed > 0 || !report.disconnects.is_empty() || refused_sends > 0)
        && report.failure().is_none();
    if strict_failure {
        eprintln!(
            "FAIL (--strict): {} connections failed, {} dropped, {} sends refused",
            report.connections_failed,
            report.disconnects.values().sum::<u64>(),
            refused_sends
        );
    }
    if report.failure().is_some() || strict_failure {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
