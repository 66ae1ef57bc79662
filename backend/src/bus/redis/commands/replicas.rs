//! How many replicas an ack waits for: the setting, bounded by how many the primaries have,
//! so acks wait for one where one answers and never stall where there is none.

use std::{
    sync::{Weak, atomic::Ordering},
    time::Duration,
};

use crate::bus::{BusError, redis::RedisBus};

/// How often the bus re-learns how many replicas the primaries have.
const REPLICA_CHECK: Duration = Duration::from_secs(5);

impl RedisBus {
    /// Learns how many replicas every primary has (one Redis without replicas, or a
    /// replica down, means none to wait for).
    pub async fn refresh_replicas(&self) -> Result<(), BusError> {
        let configured = self.settings.wait_replicas.unwrap_or(1);
        if configured == 0 {
            return Ok(());
        }
        let fewest = self
            .source
            .fewest_replicas(self.settings.command_timeout)
            .await?;
        let wait_for = match self.settings.wait_replicas {
            Some(n) => n.min(fewest),
            None => fewest.min(1),
        };
        self.wait_for.store(wait_for, Ordering::Relaxed);
        Ok(())
    }

    /// Keeps the number of replicas acks wait for current, for as long as the bus exists.
    pub async fn watch_replicas(bus: Weak<RedisBus>) {
        loop {
            let Some(bus) = bus.upgrade() else {
                return;
            };
            let pause = match bus.refresh_replicas().await {
                Ok(()) => REPLICA_CHECK,
                // Redis not reachable yet (starting, failing over): look again soon.
                Err(_) => REPLICA_CHECK / 5,
            };
            drop(bus);
            tokio::time::sleep(pause).await;
        }
    }
}
