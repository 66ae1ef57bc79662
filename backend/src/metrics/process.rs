//! The process's own figures, under the names every Prometheus client library uses
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, …), so
//! stock dashboards and the sizing in docs/SCALING.md (memory per connection, CPU per message)
//! work unchanged. Read from `/proc` at scrape time; on a system without it the series are
//! left out rather than reported as zero.

use std::{fmt::Write, time::SystemTime};

/// The unit of `/proc/self/stat`'s CPU times. The kernel reports them in `USER_HZ`, which is
/// 100 on every architecture Linux exposes to user space, whatever the kernel's own tick.
const TICKS_PER_SECOND: f64 = 100.0;

/// Appends the process series to `out`.
pub fn render(out: &mut String, started: SystemTime) {
    if let Some(cpu) = cpu_seconds() {
        series(
            out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            cpu,
        );
    }
    if let Some(rss) = resident_bytes() {
        series(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size, in bytes.",
            rss as f64,
        );
    }
    if let Some(fds) = open_fds() {
        series(
            out,
            "process_open_fds",
            "gauge",
            "Open file descriptors (sockets included).",
            fds as f64,
        );
    }
    if let Some(max) = max_fds() {
        series(
            out,
            "process_max_fds",
            "gauge",
            "The most file descriptors the process may open.",
            max as f64,
        );
    }
    if let Ok(since_epoch) = started.duration_since(SystemTime::UNIX_EPOCH) {
        series(
            out,
            "process_start_time_seconds",
            "gauge",
            "When the process started, in seconds since the Unix epoch.",
            since_epoch.as_secs_f64(),
        );
    }
}

fn series(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// `utime + stime` from `/proc/self/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// `VmRSS` from `/proc/self/status`, which the kernel gives in KiB.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_figures() {
        let before = cpu_seconds().expect("cpu time");
        // Burn a little CPU so the counter has something to show.
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds().expect("cpu time") > before);
        assert!(resident_bytes().expect("rss") > 1 << 20);
        // stdin, stdout, stderr and the directory being read, at least.
        assert!(open_fds().expect("fds") >= 4);
        assert!(max_fds().expect("limit") >= 64);
    }
}
