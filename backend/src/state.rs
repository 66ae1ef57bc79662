//! What every request handler and session shares.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use protocol::MessageLimits;

use crate::{
    bus::{Bus, ConnKey},
    config::Settings,
    hub::Hub,
    metrics::Metrics,
    shutdown::{ConnectionTracker, Shutdown},
};

pub struct AppState {
    pub settings: Settings,
    pub limits: MessageLimits,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    pub shutdown: Shutdown,
    pub connections: Arc<ConnectionTracker>,
    pub metrics: Arc<Metrics>,
    /// Unique per process, so connection keys of two instances (or two runs of one
    /// revision) never collide in shared presence.
    pub instance_id: String,
    next_connection: AtomicU64,
}

impl AppState {
    pub fn new(
        settings: Settings,
        hub: Arc<Hub>,
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let instance_id = format!("{}-{:08x}", settings.instance_name, random_u32());
        Self {
            limits: MessageLimits {
                max_chars: settings.max_message_chars,
            },
            settings,
            hub,
            bus,
            shutdown: Shutdown::default(),
            connections: Arc::default(),
            metrics,
            instance_id,
            next_connection: AtomicU64::new(0),
        }
    }

    pub fn next_conn_key(&self) -> ConnKey {
        let n = self.next_connection.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.instance_id)
    }
}

/// Randomness for ids that only need to be unique, from std's randomly keyed hasher.
fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}
