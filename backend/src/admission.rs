//! How much of an instance one client may take: open connections per client id and per
//! source address, so neither one client id nor one host can take every connection slot.
//!
//! Counted per instance, like `MAX_CONNECTIONS`. The address is the socket's peer, or behind
//! trusted proxies (Cloud Run's front end) the address the first of them saw and appended to
//! `X-Forwarded-For`: entries to its left are whatever the client chose to send.

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard},
};

use protocol::ClientId;

pub struct Admission {
    per_client: usize,
    per_address: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    clients: HashMap<ClientId, usize>,
    addresses: HashMap<IpAddr, usize>,
}

/// Which limit a connection would go over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crowded {
    Client,
    Address,
}

/// Held for a connection's whole life; gives its place back when dropped.
pub struct Slot {
    admission: Arc<Admission>,
    client: ClientId,
    address: Option<IpAddr>,
}

impl Admission {
    pub fn new(per_client: usize, per_address: usize) -> Self {
        Self {
            per_client,
            per_address,
            counts: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a connection of `client` from `address` (unknown: only the client id counts),
    /// unless either already has as many as allowed.
    pub fn try_admit(
        self: &Arc<Self>,
        client: &ClientId,
        address: Option<IpAddr>,
    ) -> Result<Slot, Crowded> {
        let mut counts = self.lock();
        if counts.clients.get(client).copied().unwrap_or(0) >= self.per_client {
            return Err(Crowded::Client);
        }
        if let Some(address) = address
            && counts.addresses.get(&address).copied().unwrap_or(0) >= self.per_address
        {
            return Err(Crowded::Address);
        }
        *counts.clients.entry(client.clone()).or_default() += 1;
        if let Some(address) = address {
            *counts.addresses.entry(address).or_default() += 1;
        }
        Ok(Slot {
            admission: self.clone(),
            client: client.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.admission.lock();
        release(&mut counts.clients, &self.client);
        if let Some(address) = &self.address {
            release(&mut counts.addresses, address);
        }
    }
}

/// One fewer; an entry that reaches zero is removed, so the maps hold only who is connected.
fn release<K: Eq + Hash>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// Where a connection comes from, for counting: behind `proxy_hops` trusted proxies, the
/// `X-Forwarded-For` entry that many from the right (the one the first proxy appended; entries
/// to its left come from the client); else, or when that entry is missing, the socket's peer.
/// An IPv6 address counts as its /64, which one host usually has whole.
pub fn client_address(
    forwarded_for: &[&str],
    peer: Option<IpAddr>,
    proxy_hops: usize,
) -> Option<IpAddr> {
    let forwarded = proxy_hops
        .checked_sub(1)
        .and_then(|skip| {
            forwarded_for
                .iter()
                .flat_map(|h| h.split(','))
                .rev()
                .nth(skip)
        })
        .and_then(parse_address);
    forwarded.or(peer).map(|address| match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
        v4 => v4,
    })
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_proxy_s_own_entry_counts_only_behind_a_proxy() {
        let peer = Some(ip("10.0.0.1"));
        let headers = ["203.0.113.9, 198.51.100.7:4711"];
        assert_eq!(client_address(&headers, peer, 1), Some(ip("198.51.100.7")));
        assert_eq!(client_address(&headers, peer, 2), Some(ip("203.0.113.9")));
        assert_eq!(client_address(&headers, peer, 3), peer);
        assert_eq!(client_address(&headers, peer, 0), peer);
        assert_eq!(
            client_address(&["spoofed", "198.51.100.8"], peer, 1),
            Some(ip("198.51.100.8"))
        );
        assert_eq!(client_address(&["garbage"], peer, 1), peer);
        assert_eq!(client_address(&[], peer, 1), peer);
        assert_eq!(
            client_address(&["[2001:db8:1:2:3:4:5:6]:443"], None, 1),
            Some(ip("2001:db8:1:2::"))
        );
        assert_eq!(
            client_address(&[], Some(ip("::ffff:192.0.2.1")), 0),
            Some(ip("192.0.2.1"))
        );
    }

    #[test]
    fn slots_are_limited_per_client_and_per_address_and_given_back() {
        let admission = Arc::new(Admission::new(2, 3));
        let (alice, bob) = (
            ClientId::parse("alice").unwrap(),
            ClientId::parse("bob").unwrap(),
        );
        let home = Some(ip("192.0.2.1"));
        let first = admission.try_admit(&alice, home).unwrap();
        let _second = admission.try_admit(&alice, home).unwrap();
        assert_eq!(
            admission.try_admit(&alice, None).err(),
            Some(Crowded::Client)
        );
        let _bob = admission.try_admit(&bob, home).unwrap();
        assert_eq!(
            admission.try_admit(&bob, home).err(),
            Some(Crowded::Address)
        );
        drop(first);
        assert!(admission.try_admit(&alice, Some(ip("192.0.2.2"))).is_ok());
        assert!(admission.lock().clients.len() <= 2);
    }
}
