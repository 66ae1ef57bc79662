//! Where connections go (backend URLs) and where they come from (local source addresses).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// One backend: `ws://host:port`, resolved once before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without a trailing slash; connection paths are appended to it.
    pub base: String,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `ws://host[:port][/]` (no TLS, no path).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("{url:?}: only ws:// URLs are supported"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(format!(
                "{url:?}: expected ws://host:port, without a path (loadgen adds /ws/...)"
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("{url:?}: bad port {port:?}"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{url:?}: missing host"));
        }
        Ok(Target {
            base: format!("ws://{authority}"),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }

    pub async fn resolve(&self) -> Result<SocketAddr, String> {
        let mut addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?;
        addrs
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))
    }
}

/// How many connections one source address is good for: Linux hands out ports
/// `ip_local_port_range` (32768–60999 by default, about 28k) per source address.
pub const CONNECTIONS_PER_SOURCE: usize = 25_000;

/// Parses `127.0.0.2-127.0.0.9,127.0.1.1` into addresses (IPv4 ranges, single addresses of
/// either family).
pub fn parse_sources(spec: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((from, to)) = part.split_once('-') {
            let bad = || format!("{part:?}: expected an IPv4 range like 127.0.0.2-127.0.0.9");
            let from: Ipv4Addr = from.trim().parse().map_err(|_| bad())?;
            let to: Ipv4Addr = to.trim().parse().map_err(|_| bad())?;
            let (a, b) = (u32::from(from), u32::from(to));
            if b < a || b - a >= 65_536 {
                return Err(bad());
            }
            out.extend((a..=b).map(|ip| IpAddr::V4(Ipv4Addr::from(ip))));
        } else {
            out.push(
                part.parse()
                    .map_err(|_| format!("{part:?} is not an IP address"))?,
            );
        }
    }
    if out.is_empty() {
        return Err("no source address given".into());
    }
    Ok(out)
}

/// Default source addresses: for loopback targets, enough of 127.0.0.2, 127.0.0.3, … for
/// `connections` (any 127/8 address is local on Linux); otherwise none (the kernel picks).
pub fn auto_sources(connections: usize, targets: &[SocketAddr]) -> Vec<IpAddr> {
    if targets.is_empty() || !targets.iter().all(|t| t.ip().is_loopback() && t.is_ipv4()) {
        return Vec::new();
    }
    let count = connections.div_ceil(CONNECTIONS_PER_SOURCE).max(1);
    (0..count as u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("ws://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (t.base.as_str(), t.host.as_str(), t.port),
            ("ws://127.0.0.1:8080", "127.0.0.1", 8080)
        );
        assert_eq!(Target::parse("ws://localhost").unwrap().port, 80);
        assert_eq!(Target::parse("ws://[::1]:9000").unwrap().host, "::1");
        for bad in [
            "http://x:1",
            "wss://x:1",
            "ws://",
            "ws://x:1/ws/a/b",
            "ws://x:99999",
            "ws://:80",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_source_lists_and_ranges() {
        let got = parse_sources("127.0.0.2-127.0.0.4, 10.0.0.1,::1").unwrap();
        let want: Vec<IpAddr> = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "10.0.0.1", "::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        for bad in [
            "",
            "127.0.0.5-127.0.0.2",
            "x",
            "127.0.0.1-::1",
            "0.0.0.0-1.0.0.0",
        ] {
            assert!(parse_sources(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_sources_only_for_loopback() {
        let lo: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(auto_sources(10, &[lo]), vec![IpAddr::from([127, 0, 0, 2])]);
        assert_eq!(auto_sources(60_000, &[lo, lo]).len(), 3);
        assert!(auto_sources(10, &[lo, remote]).is_empty());
    }
}
