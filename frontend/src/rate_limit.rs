//! A small per-address budget for `POST /token`, so one source cannot mint tokens in bulk.
//!
//! A token bucket per client address (an IPv6 address counts as its /64, as the backend
//! counts it), shared by every worker. Generous enough for a page that joins a few rooms and
//! refreshes; the map is bounded, and forgets full buckets first when it must shrink.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Requests one address may make at once.
const BURST: f64 = 20.0;
/// Requests regained per second: 30 a minute.
const PER_SECOND: f64 = 0.5;
/// Addresses remembered at most.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Default)]
pub struct AddressBudgets {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refilled(self, now: Instant) -> Self {
        let gained = now.saturating_duration_since(self.at).as_secs_f64() * PER_SECOND;
        Self {
            tokens: (self.tokens + gained).min(BURST),
            at: now,
        }
    }
}

impl AddressBudgets {
    /// Takes one request from `address`'s budget, or says how long until one is back.
    pub fn try_take(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_ADDRESSES && !buckets.contains_key(&address) {
            buckets.retain(|_, b| b.refilled(now).tokens < BURST);
            if buckets.len() >= MAX_ADDRESSES {
                buckets.clear();
            }
        }
        let fresh = Bucket {
            tokens: BURST,
            at: now,
        };
        let bucket = buckets.entry(address).or_insert(fresh);
        *bucket = bucket.refilled(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / PER_SECOND))
        }
    }
}

/// Where a request comes from: behind `proxy_hops` trusted proxies, the `X-Forwarded-For`
/// entry that many from the right (entries left of it are whatever the client sent); else,
/// or when that entry is missing, the socket's peer. The backend's rule, read the same way.
pub fn client_address(
    forwarded_for: &[&str],
    peer: Option<IpAddr>,
    proxy_hops: usize,
) -> Option<IpAddr> {
    let forwarded = proxy_hops.checked_sub(1).and_then(|skip| {
        forwarded_for
            .iter()
            .flat_map(|h| h.split(','))
            .rev()
            .nth(skip)
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
    });
    forwarded.or(peer).map(|address| match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn a_burst_then_a_steady_trickle() {
        let budgets = AddressBudgets::default();
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::BROADCAST),
        );
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(budgets.try_take(a, t0), Ok(()));
        }
        let wait = budgets.try_take(a, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert_eq!(budgets.try_take(b, t0), Ok(()), "another address");
        assert_eq!(budgets.try_take(a, t0 + wait), Ok(()));
    }

    #[test]
    fn the_address_is_the_trusted_proxy_entry_or_the_peer() {
        let peer = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        let header = ["203.0.113.9, 198.51.100.7"];
        assert_eq!(client_address(&header, peer, 0), peer);
        assert_eq!(
            client_address(&header, peer, 1),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(client_address(&[], peer, 1), peer);
        assert_eq!(
            client_address(&["2001:db8::1:2:3:4"], None, 1),
            Some("2001:db8::".parse().unwrap())
        );
    }
}
