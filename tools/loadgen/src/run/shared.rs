//! The state every connection task shares with the orchestrator: the phase of the run and
//! the counters the report is made of.

use std::{
    collections::BTreeMap,
    sync::{Mutex, OnceLock, PoisonError, atomic::AtomicU64},
};

use tokio::time::Instant;

use crate::{stats::Latency, wire::Wire};

/// Where the run is; the orchestrator moves it forward over a `watch` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Connecting,
    Running {
        start: Instant,
        stop_sending: Instant,
    },
    Stopping,
}

/// State every connection task shares.
pub(super) struct Shared {
    pub(super) run: u32,
    /// The server's protocol.
    pub(super) wire: Wire,
    pub(super) epoch: std::time::Instant,
    pub(super) message_bytes: usize,
    /// Connections that got their `welcome`, per channel; closed when sending starts.
    joins: Mutex<Option<Vec<u64>>>,
    pub(super) members: OnceLock<Vec<u64>>,
    /// Planned messages per publisher index (bounds the sequence numbers we accept).
    pub(super) planned: Vec<u32>,
    pub(super) latency: Latency,
    pub(super) ack_latency: Latency,
    pub(super) opened: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) sent: AtomicU64,
    pub(super) acked: AtomicU64,
    pub(super) refused_sends: AtomicU64,
    pub(super) expected: AtomicU64,
    pub(super) deliveries: AtomicU64,
    pub(super) unique: AtomicU64,
    pub(super) foreign: AtomicU64,
    pub(super) bad_frames: AtomicU64,
    /// Publishers that joined, and those that finished sending (or ended).
    pub(super) publishers_joined: AtomicU64,
    pub(super) publishers_done: AtomicU64,
    pub(super) connect_failures: Mutex<BTreeMap<String, u64>>,
    pub(super) send_errors: Mutex<BTreeMap<String, u64>>,
    pub(super) disconnects: Mutex<BTreeMap<String, u64>>,
}

/// Counts one more occurrence of `key` (a cause or an error code).
pub(super) fn bump(map: &Mutex<BTreeMap<String, u64>>, key: String) {
    *map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default() += 1;
}

/// Empties a map of counts, for the report.
pub(super) fn take(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    std::mem::take(&mut *map.lock().unwrap_or_else(PoisonError::into_inner))
}

impl Shared {
    /// Latency shards: connection `i` records into shard `i % SHARDS`, so tasks rarely
    /// contend for one histogram.
    const SHARDS: usize = 16;

    pub(super) fn new(
        run: u32,
        wire: Wire,
        epoch: std::time::Instant,
        message_bytes: usize,
        channel_count: usize,
        planned: Vec<u32>,
    ) -> Self {
        Self {
            run,
            wire,
            epoch,
            message_bytes,
            joins: Mutex::new(Some(vec![0; channel_count])),
            members: OnceLock::new(),
            planned,
            latency: Latency::new(Self::SHARDS),
            ack_latency: Latency::new(Self::SHARDS),
            opened: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            refused_sends: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            unique: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            publishers_joined: AtomicU64::new(0),
            publishers_done: AtomicU64::new(0),
            connect_failures: Mutex::new(BTreeMap::new()),
            send_errors: Mutex::new(BTreeMap::new()),
            disconnects: Mutex::new(BTreeMap::new()),
        }
    }

    pub(super) fn nanos(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Counts a connection in its channel, unless sending has started (then it is too late).
    pub(super) fn join(&self, channel: usize) -> bool {
        let mut joins = self.joins.lock().unwrap_or_else(PoisonError::into_inner);
        match joins.as_mut() {
            Some(counts) => {
                counts[channel] += 1;
                true
            }
            None => false,
        }
    }

    pub(super) fn close_joins(&self) -> Vec<u64> {
        let counts = self
            .joins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        let _ = self.members.set(counts.clone());
        counts
    }
}
