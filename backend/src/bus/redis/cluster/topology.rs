//! Which primary serves which slots, learned from `CLUSTER SLOTS` and kept current.
//!
//! The map is re-read when a command meets a redirect or a node that does not answer, and
//! every few seconds anyway (a failover elsewhere can change owners without any command of
//! ours noticing). Concurrent requests for a refresh share one: a caller waits for a
//! refresh that started after it asked, never for a queue of them.

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use redis::{RedisError, Value};
use tokio::time::Instant;

use super::nodes::{CommandConnections, NodeAddr};
use super::slot::SLOTS;

/// How often the map is re-read when nothing asked for it.
const PERIODIC_REFRESH: Duration = Duration::from_secs(5);
/// Longest one node may take to answer `CLUSTER SLOTS` before the next is asked.
const ASK_TIMEOUT: Duration = Duration::from_millis(1000);

/// Slot ranges and the primary serving each.
#[derive(Debug, Default, Clone)]
pub struct SlotMap {
    /// `(first slot, last slot, primary)`, sorted by first slot.
    ranges: Vec<(u16, u16, NodeAddr)>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply. A primary listed without a host is on the host that
    /// was asked.
    pub fn parse(reply: &Value, asked: &NodeAddr) -> Option<Self> {
        let Value::Array(entries) = reply else {
            return None;
        };
        let mut ranges = Vec::new();
        for entry in entries {
            let Value::Array(parts) = entry else {
                return None;
            };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(primary))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                return None;
            };
            let host = match primary.first() {
                Some(Value::BulkString(host)) if !host.is_empty() && host != b"?" => {
                    String::from_utf8_lossy(host).into_owned()
                }
                _ => asked.host.clone(),
            };
            let Some(Value::Int(port)) = primary.get(1) else {
                return None;
            };
            ranges.push((
                u16::try_from(*first).ok()?,
                u16::try_from(*last).ok()?,
                NodeAddr {
                    host,
                    port: u16::try_from(*port).ok()?,
                },
            ));
        }
        ranges.sort_by_key(|(first, _, _)| *first);
        Some(Self { ranges })
    }

    pub fn owner(&self, slot: u16) -> Option<&NodeAddr> {
        let index = self.ranges.partition_point(|(first, _, _)| *first <= slot);
        let (_, last, addr) = self.ranges.get(index.checked_sub(1)?)?;
        (slot <= *last).then_some(addr)
    }

    /// The primaries, each once.
    pub fn primaries(&self) -> Vec<NodeAddr> {
        let mut primaries: Vec<NodeAddr> = self.ranges.iter().map(|(_, _, a)| a.clone()).collect();
        primaries.sort();
        primaries.dedup();
        primaries
    }

    /// Whether every slot has an owner (the cluster can serve every channel).
    pub fn covers_all(&self) -> bool {
        let mut next = 0u32;
        for (first, last, _) in &self.ranges {
            if u32::from(*first) != next {
                return false;
            }
            next = u32::from(*last) + 1;
        }
        next == u32::from(SLOTS)
    }

    /// Notes one slot's new owner (from a `MOVED`) until the next full read.
    fn set_owner(&mut self, slot: u16, addr: NodeAddr) {
        let Some(index) = self
            .ranges
            .iter()
            .position(|(first, last, _)| (*first..=*last).contains(&slot))
        else {
            self.ranges.push((slot, slot, addr));
            self.ranges.sort_by_key(|(first, _, _)| *first);
            return;
        };
        let (first, last, old) = self.ranges.remove(index);
        let mut pieces = Vec::new();
        if first < slot {
            pieces.push((first, slot - 1, old.clone()));
        }
        pieces.push((slot, slot, addr));
        if slot < last {
            pieces.push((slot + 1, last, old));
        }
        for (offset, piece) in pieces.into_iter().enumerate() {
            self.ranges.insert(index + offset, piece);
        }
    }
}

pub struct Topology {
    seeds: Vec<NodeAddr>,
    map: RwLock<Arc<SlotMap>>,
    /// When the last successful read finished; held while a read runs.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    pub connections: CommandConnections,
}

impl Topology {
    /// Starts with an empty map (the first command reads it) and re-reads it periodically
    /// for as long as the topology is in use.
    pub fn start(seeds: Vec<NodeAddr>, connections: CommandConnections) -> Arc<Self> {
        let topology = Arc::new(Self {
            seeds,
            map: RwLock::new(Arc::new(SlotMap::default())),
            refreshed: tokio::sync::Mutex::new(None),
            connections,
        });
        tokio::spawn(refresh_periodically(Arc::downgrade(&topology)));
        topology
    }

    pub fn map(&self) -> Arc<SlotMap> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn owner(&self, slot: u16) -> Option<NodeAddr> {
        self.map().owner(slot).cloned()
    }

    /// A node to send keyless commands to: a primary if any is known, else a seed.
    pub fn any_node(&self) -> Option<NodeAddr> {
        self.map()
            .primaries()
            .into_iter()
            .next()
            .or_else(|| self.seeds.first().cloned())
    }

    pub fn moved(&self, slot: u16, addr: NodeAddr) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let mut updated = SlotMap::clone(&map);
        updated.set_owner(slot, addr);
        *map = Arc::new(updated);
    }

    /// Re-reads the map from the known primaries, then the seeds, unless a read that
    /// started after this call was made has already finished.
    pub async fn refresh(&self) -> Result<(), RedisError> {
        let asked = Instant::now();
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at >= asked) {
            return Ok(());
        }
        let mut candidates = self.map().primaries();
        candidates.extend(self.seeds.iter().cloned());
        let mut last_error = None;
        for addr in dedup_in_order(candidates) {
            match tokio::time::timeout(ASK_TIMEOUT, self.read_from(&addr)).await {
                Ok(Ok(map)) if !map.ranges.is_empty() => {
                    let primaries = map.primaries();
                    *self.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
                    self.connections.retain(&primaries);
                    *refreshed = Some(Instant::now());
                    return Ok(());
                }
                Ok(Ok(_)) => {
                    last_error = Some(RedisError::from((
                        redis::ErrorKind::UnexpectedReturnType,
                        "the node serves no slots",
                    )));
                }
                Ok(Err(e)) => {
                    self.connections.forget(&addr);
                    last_error = Some(e);
                }
                Err(_) => {
                    self.connections.forget(&addr);
                    last_error = Some(RedisError::from((
                        redis::ErrorKind::Io,
                        "CLUSTER SLOTS not answered in time",
                    )));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            RedisError::from((redis::ErrorKind::Io, "no cluster node is known"))
        }))
    }

    /// Re-reads the map in the background (after a redirect: the caller goes on at once).
    pub fn refresh_soon(self: &Arc<Self>) {
        let topology = self.clone();
        tokio::spawn(async move {
            if let Err(e) = topology.refresh().await {
                log::warn!(error:% = e; "Cannot read the cluster's slot map.");
            }
        });
    }

    async fn read_from(&self, addr: &NodeAddr) -> Result<SlotMap, RedisError> {
        let mut connection = self.connections.get(addr).await?;
        let reply: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut connection)
            .await?;
        SlotMap::parse(&reply, addr).ok_or_else(|| {
            RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "unreadable CLUSTER SLOTS reply",
            ))
        })
    }
}

fn dedup_in_order(addrs: Vec<NodeAddr>) -> Vec<NodeAddr> {
    let mut seen = std::collections::HashSet::new();
    addrs
        .into_iter()
        .filter(|a| seen.insert(a.clone()))
        .collect()
}

async fn refresh_periodically(topology: Weak<Topology>) {
    loop {
        tokio::time::sleep(PERIODIC_REFRESH).await;
        let Some(topology) = topology.upgrade() else {
            return;
        };
        if let Err(e) = topology.refresh().await {
            log::warn!(error:% = e; "Cannot read the cluster's slot map.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> NodeAddr {
        NodeAddr {
            host: "10.0.0.1".into(),
            port,
        }
    }

    fn map() -> SlotMap {
        let entry = |first: i64, last: i64, host: &[u8], port: i64| {
            Value::Array(vec![
                Value::Int(first),
                Value::Int(last),
                Value::Array(vec![
                    Value::BulkString(host.to_vec()),
                    Value::Int(port),
                    Value::BulkString(b"id".to_vec()),
                ]),
            ])
        };
        let reply = Value::Array(vec![
            entry(5461, 10922, b"10.0.0.1", 7002),
            entry(0, 5460, b"", 7001),
            entry(10923, 16383, b"10.0.0.1", 7003),
        ]);
        SlotMap::parse(&reply, &addr(7001)).unwrap()
    }

    #[test]
    fn finds_each_slots_owner() {
        let map = map();
        assert!(map.covers_all());
        assert_eq!(map.owner(0), Some(&addr(7001)));
        assert_eq!(map.owner(5460), Some(&addr(7001)));
        assert_eq!(map.owner(5461), Some(&addr(7002)));
        assert_eq!(map.owner(16383), Some(&addr(7003)));
        assert_eq!(map.primaries().len(), 3);
    }

    #[test]
    fn a_moved_slot_changes_only_that_slot() {
        let mut map = map();
        map.set_owner(100, addr(7003));
        assert_eq!(map.owner(99), Some(&addr(7001)));
        assert_eq!(map.owner(100), Some(&addr(7003)));
        assert_eq!(map.owner(101), Some(&addr(7001)));
        assert!(map.covers_all());
    }

    #[test]
    fn a_gap_is_not_full_coverage() {
        let mut map = map();
        map.ranges.remove(1);
        assert!(!map.covers_all());
        assert_eq!(map.owner(6000), None);
    }
}
