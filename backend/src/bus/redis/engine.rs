//! The Redis side of every `Bus` operation, written once for one Redis and a cluster
//! alike (each command runs over the bus's `CommandSource`):
//! - store-and-publish: one script call stores a message and publishes it, so ids and
//!   delivery order agree; then, for a durable ack, a `WAIT` for replicas;
//! - history and replay pages, read from the channel's stream, and pages further back
//!   (`commands::reads`);
//! - signals, published without being stored (`commands::signals`);
//! - presence: a sorted set of client ids per channel and one of connections per client,
//!   scored by expiry, so a crashed instance's entries vanish after the presence TTL;
//! - subscribing, which is the subscriber task's (see `subscriptions`).

use async_trait::async_trait;
use protocol::{
    ChannelId, ChatMessage, ClientId, DisplayName, Epoch, MessageId, frames::MAX_WELCOME_ONLINE,
};
use tokio::sync::watch;

use super::{
    RedisBus,
    commands::{
        Entry, message_from_entry, parse_epoch, parse_id,
        reads::{RosterReply, roster},
    },
    keys::ChannelKeys,
};
use crate::bus::{Bus, BusError, ConnKey, History, HistoryPage, Resume, Roster, Signal, epoch};

#[async_trait]
impl Bus for RedisBus {
    fn subscribe(&self, channel: &ChannelId) -> watch::Receiver<bool> {
        self.subscriber.subscribe(channel)
    }

    fn unsubscribe(&self, channel: &ChannelId) {
        self.subscriber.unsubscribe(channel)
    }

    async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError> {
        let name = name.map_or("", DisplayName::as_str);
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
                    .arg(name)
                    .invoke_async(&mut c)
                    .await?;
                // From here on the message is stored and published: whatever happens to the
                // wait, the caller must learn its id, never "not stored".
                let (wanted, confirmed) = self.wait_for_replicas(&mut c).await;
                Ok((id, wanted, confirmed))
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

    /// The first `limit` messages a client joining with (or without) a resume position must
    /// be replayed; the subscriber's backfill asks for all of them.
    async fn history(
        &self,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
    ) -> Result<History, BusError> {
        let keys = &ChannelKeys::new(channel);
        let since = &resume.map(|r| r.since.to_string()).unwrap_or_default();
        let claimed = resume
            .and_then(|r| r.epoch.as_ref())
            .map_or("", Epoch::as_str);
        let candidate = &epoch::mint();
        let (epoch, recovered, entries): (String, u8, Vec<Entry>) = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .history
                    .key(keys.log())
                    .arg(since)
                    .arg(self.policy.history_limit)
                    .arg(claimed)
                    .arg(candidate.as_str())
                    .arg(self.channel_ttl_ms())
                    .arg(limit)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let messages = entries
            .into_iter()
            .map(|entry| message_from_entry(channel, entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(History {
            messages,
            recovered: recovered == 1,
            epoch: parse_epoch(&epoch)?,
        })
    }

    /// The next page of a replay, `None` when entries right after `after` were trimmed or
    /// the history is another than `epoch`.
    async fn history_after(
        &self,
        channel: &ChannelId,
        after: MessageId,
        epoch: &Epoch,
        limit: usize,
    ) -> Result<Option<Vec<ChatMessage>>, BusError> {
        let keys = &ChannelKeys::new(channel);
        let after = &after.to_string();
        let entries: Option<Vec<Entry>> = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .history_after
                    .key(keys.log())
                    .arg(after)
                    .arg(limit)
                    .arg(epoch.as_str())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        entries
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|entry| message_from_entry(channel, entry))
                    .collect()
            })
            .transpose()
    }

    async fn history_before(
        &self,
        channel: &ChannelId,
        before: MessageId,
        limit: usize,
    ) -> Result<HistoryPage, BusError> {
        self.page_before(channel, before, limit).await
    }

    async fn signal(&self, channel: &ChannelId, signal: Signal) -> Result<(), BusError> {
        self.publish_signal(channel, &signal).await
    }

    async fn presence(&self, channel: &ChannelId) -> Result<Roster, BusError> {
        self.roster_now(channel).await
    }

    async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        let keys = &ChannelKeys::new(channel);
        let name = name.map_or("", DisplayName::as_str);
        let reply: RosterReply = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .presence_join
                    .key(keys.online())
                    .key(keys.connections(client))
                    .arg(client.as_str())
                    .arg(conn.as_str())
                    .arg(self.settings.presence_ttl.as_millis() as u64)
                    .arg(keys.events())
                    .arg(MAX_WELCOME_ONLINE)
                    .arg(keys.connections_prefix())
                    .arg(name)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(roster(reply))
    }

    async fn leave_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<(), BusError> {
        let keys = &ChannelKeys::new(channel);
        let _: u8 = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .presence_leave
                    .key(keys.online())
                    .key(keys.connections(client))
                    .arg(client.as_str())
                    .arg(conn.as_str())
                    .arg(keys.events())
                    .arg(keys.connections_prefix())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn refresh_presence(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError> {
        if members.is_empty() {
            return Ok(());
        }
        let keys = &ChannelKeys::new(channel);
        let (script_keys, args) = &self.refresh_parts(channel, members);
        let _: u64 = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                let mut call = self.scripts.presence_refresh.key(script_keys);
                call.arg(args);
                call.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    async fn refresh_presence_all(
        &self,
        channels: &[(ChannelId, Vec<(ClientId, ConnKey)>)],
    ) -> Vec<(ChannelId, BusError)> {
        self.refresh_many(channels).await
    }

    async fn check_ready(&self) -> Result<(), BusError> {
        self.ping().await?;
        if self.subscriber.is_up() {
            Ok(())
        } else {
            Err(BusError::Unavailable(
                "the pub/sub connection is down; reconnecting".into(),
            ))
        }
    }
}
