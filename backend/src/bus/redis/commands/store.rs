//! Store-and-publish: one script call stores a message and publishes it, so ids and
//! delivery order agree; then, for a durable ack, a `WAIT` for replicas.

use std::{sync::atomic::Ordering, time::Duration};

use protocol::{ChannelId, ClientId, MessageId};

use super::{parse_id, source::Conn};
use crate::bus::{
    BusError, epoch,
    redis::{RedisBus, keys::ChannelKeys},
};

/// How much longer than its own timeout a `WAIT` may take to answer (the round trip) before
/// it counts as confirming nothing.
const WAIT_SLACK: Duration = Duration::from_millis(250);

impl RedisBus {
    pub async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError> {
        let keys = &ChannelKeys::new(channel);
        let (id, wanted, confirmed): (String, usize, usize) = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                let mut call = self.scripts.publish.key(keys.log());
                if let Some(nonce) = nonce {
                    call.key(keys.nonce(client, nonce));
                }
                let id: String = call
                    .arg(self.policy.history_max)
                    .arg(keys.events())
                    .arg(client.as_str())
                    .arg(text)
                    .arg(self.policy.dedupe_window.as_millis() as u64)
                    .arg(epoch::mint().as_str())
                    .arg(self.channel_ttl_ms())
                    .invoke_async(&mut c)
                    .await?;
                let replicas = self.wait_for.load(Ordering::Relaxed);
                // From here on the message is stored and published: whatever happens to the
                // wait, the caller must learn its id, never "not stored".
                let confirmed = if replicas == 0 {
                    0
                } else {
                    self.wait(&mut c, replicas).await
                };
                Ok((id, replicas, confirmed))
            })
            .await?;
        let id = parse_id(&id)?;
        // Replication is asynchronous: an ack promises the message survives a failover, so it
        // waits until a replica has it. If none confirms in time the message may be lost with
        // the primary; the sender resends (same nonce), which waits again.
        if confirmed < wanted {
            return Err(BusError::NotConfirmed {
                id,
                confirmed,
                wanted,
            });
        }
        Ok(id)
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
}
