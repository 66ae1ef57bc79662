//! How many replicas an ack waits for (the setting, bounded by how many the primaries
//! have, so acks wait for one where one answers and never stall where there is none), and
//! the `WAIT` itself.

use std::{
    sync::{Weak, atomic::Ordering},
    time::Duration,
};

use super::source::Conn;
use crate::bus::{BusError, redis::RedisBus};

/// How often the bus re-learns how many replicas the primaries have.
const REPLICA_CHECK: Duration = Duration::from_secs(5);
/// How much longer than its own timeout a `WAIT` may take to answer (the round trip) before
/// it counts as confirming nothing.
const WAIT_SLACK: Duration = Duration::from_millis(250);

impl RedisBus {
    /// After a write on `c`: how many replicas must confirm it, and how many did.
    pub async fn wait_for_replicas(&self, c: &mut Conn) -> (usize, usize) {
        let wanted = self.wait_for.load(Ordering::Relaxed);
        let confirmed = if wanted == 0 {
            0
        } else {
            self.wait(c, wanted).await
        };
        (wanted, confirmed)
    }

    /// `WAIT` on the connection that took the write: on one Redis the same pooled
    /// connection, on a cluster the channel's primary's (one connection per node), so the
    /// wait covers this write. How many replicas confirmed; none when the wait itself failed
    /// or overran, since it then confirmed nothing.
    async fn wait(&self, c: &mut Conn, replicas: usize) -> usize {
        let timeout = self.settings.wait_timeout;
        let mut command = redis::cmd("WAIT");
        command.arg(replicas).arg(timeout.as_millis() as u64);
        let wait = command.query_async::<usize>(c);
        match tokio::time::timeout(timeout + WAIT_SLACK, wait).await {
            Ok(Ok(confirmed)) => confirmed,
            Ok(Err(e)) => {
                log::warn!(error:% = e; "WAIT for a replica failed.");
                0
            }
            Err(_) => 0,
        }
    }

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
