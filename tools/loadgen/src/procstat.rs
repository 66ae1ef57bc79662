//! Resident memory and CPU time of local processes (backends, Redis, the load generator
//! itself), from `/proc`. Linux only; elsewhere the figures are simply absent.

use serde::Serialize;

/// `/proc/<pid>/stat` counts CPU time in clock ticks of `USER_HZ`, which Linux fixes at 100
/// for user space on every architecture it supports.
pub const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcSample {
    pub rss_kib: u64,
    /// utime + stime, in ticks.
    pub cpu_ticks: u64,
}

/// Samples `pid` (or the load generator itself with `None`).
pub fn sample(pid: Option<u32>) -> Result<ProcSample, String> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .map_err(|e| format!("cannot read {dir}/status: {e}"))?;
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .map_err(|e| format!("cannot read {dir}/stat: {e}"))?;
    Ok(ProcSample {
        rss_kib: parse_vmrss_kib(&status).ok_or_else(|| format!("no VmRSS in {dir}/status"))?,
        cpu_ticks: parse_cpu_ticks(&stat).ok_or_else(|| format!("unreadable {dir}/stat"))?,
    })
}

/// The kernel's memory for all TCP sockets on the machine, in KiB, from `/proc/net/sockstat`
/// (`TCP: ... mem <pages>`): buffers and queued data, not the socket structures themselves.
/// On loopback it counts both ends of every connection.
pub fn kernel_tcp_kib() -> Option<u64> {
    parse_sockstat_tcp_pages(&std::fs::read_to_string("/proc/net/sockstat").ok()?)
        .map(|pages| pages * 4)
}

pub fn parse_sockstat_tcp_pages(sockstat: &str) -> Option<u64> {
    let line = sockstat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == "mem" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// The slab caches a TCP socket takes memory from besides its buffers: the socket, its inode,
/// its open file, its dentry and its epoll entry (about 3.7 KiB a socket on Linux 6.x).
pub const SOCKET_SLABS: [&str; 5] = ["TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi"];

/// The kernel's memory in [`SOCKET_SLABS`] (objects in use × object size), in KiB, from
/// `/proc/slabinfo` (readable by root only; `None` otherwise). Machine-wide: held minus
/// before, over the connections held, is what each connection costs the kernel, both ends
/// on loopback.
pub fn kernel_socket_slab_kib() -> Option<u64> {
    parse_slab_bytes(
        &std::fs::read_to_string("/proc/slabinfo").ok()?,
        &SOCKET_SLABS,
    )
    .map(|bytes| bytes / 1024)
}

pub fn parse_slab_bytes(slabinfo: &str, caches: &[&str]) -> Option<u64> {
    let mut total = None;
    for line in slabinfo.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        if !caches.contains(&name) {
            continue;
        }
        let active: u64 = fields.next()?.parse().ok()?;
        let _all = fields.next()?;
        let size: u64 = fields.next()?.parse().ok()?;
        *total.get_or_insert(0) += active * size;
    }
    total
}

/// Connections the kernel turned away because a listener's accept queue was full (its
/// SYN dropped; the client sends it again a second later), machine-wide since boot, from
/// `/proc/net/netstat` (`TcpExt: ListenOverflows`).
pub fn listen_overflows() -> Option<u64> {
    parse_netstat_field(
        &std::fs::read_to_string("/proc/net/netstat").ok()?,
        "TcpExt:",
        "ListenOverflows",
    )
}

/// `/proc/net/netstat` pairs a line of names with a line of values under the same prefix.
pub fn parse_netstat_field(netstat: &str, prefix: &str, field: &str) -> Option<u64> {
    let mut lines = netstat.lines().filter(|l| l.starts_with(prefix));
    let names = lines.next()?;
    let values = lines.next()?;
    let at = names.split_whitespace().position(|name| name == field)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// Whole-machine CPU from `/proc/stat`: (busy ticks, total ticks), over all cores.
pub fn machine_cpu() -> Option<(u64, u64)> {
    parse_machine_cpu(&std::fs::read_to_string("/proc/stat").ok()?)
}

pub fn parse_machine_cpu(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Cores (logical CPUs) of this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn parse_vmrss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime (fields 14 and 15). The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted after the last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after ')'
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// One sample per watched process (label, pid); `None` where it could not be read.
pub fn sample_all(watch: &[(String, u32)]) -> Vec<Option<ProcSample>> {
    watch
        .iter()
        .map(|(_, pid)| sample(Some(*pid)).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tbackend\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vmrss_kib(status), Some(12345));
        assert_eq!(parse_vmrss_kib("Name: x\n"), None);
        let stat = "4242 (we) ird (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 3 0 123 456 789";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        let stat = "cpu  100 5 50 800 20 1 4 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(parse_machine_cpu(stat), Some((160, 980)));
        assert_eq!(parse_machine_cpu("intr 1 2"), None);
    }

    #[test]
    fn reads_tcp_pages_from_sockstat() {
        let sockstat =
            "sockets: used 208\nTCP: inuse 12 orphan 0 tw 3 alloc 14 mem 57\nUDP: inuse 2 mem 4\n";
        assert_eq!(parse_sockstat_tcp_pages(sockstat), Some(57));
        assert_eq!(parse_sockstat_tcp_pages("UDP: inuse 2 mem 4\n"), None);
    }

    #[test]
    fn reads_a_netstat_field_by_name() {
        let netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 1082 1090\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            parse_netstat_field(netstat, "TcpExt:", "ListenOverflows"),
            Some(1082)
        );
        assert_eq!(parse_netstat_field(netstat, "TcpExt:", "Missing"), None);
    }

    #[test]
    fn sums_socket_slabs() {
        let slabinfo = "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize>\nTCP 143 182 2368 13 8 : tunables 0 0 0\nfilp 994 1050 192 21 1 : tunables 0 0 0\nkmalloc-64 10 10 64 64 1\n";
        assert_eq!(
            parse_slab_bytes(slabinfo, &SOCKET_SLABS),
            Some(143 * 2368 + 994 * 192)
        );
        assert_eq!(parse_slab_bytes(slabinfo, &["none"]), None);
    }

    #[test]
    fn samples_itself() {
        let s = sample(None).unwrap();
        assert!(s.rss_kib > 0);
        assert!(sample(Some(u32::MAX)).is_err());
    }
}
