//! Reading a channel's stream: the history a joiner is sent, the pages of a replay, and the
//! positions subscribers note before subscribing.

use async_trait::async_trait;
use protocol::{ChannelId, ChatMessage, Epoch, MessageId};

use super::{Entry, message_from_entry, parse_epoch, parse_id};
use crate::bus::{
    BusError, History, Resume, epoch,
    redis::{RedisBus, keys::ChannelKeys, subscriptions::ChannelLog},
};

impl RedisBus {
    /// The first `limit` messages a client joining with (or without) a resume position must
    /// be replayed; the subscriber's backfill asks for all of them.
    pub async fn history(
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
    pub async fn history_after(
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
}

#[async_trait]
impl ChannelLog for RedisBus {
    /// Where each channel's history stands (its epoch and newest message id, zero when it
    /// has none), creating an empty history for a channel without one. A burst of first
    /// joins (or a resubscription) must not cost a round trip each: as many channels per
    /// script call as the source allows, all calls at once.
    async fn positions(&self, channels: &[ChannelId]) -> Result<Vec<Resume>, BusError> {
        let chunks = channels.chunks(self.source.positions_per_call());
        let calls = chunks.map(|chunk| async move {
            let first_log = chunk.first().map(|c| ChannelKeys::new(c).log());
            let flat: Vec<String> = self
                .with_connection(first_log.as_deref(), |mut c| async move {
                    let mut call = self.scripts.position.prepare_invoke();
                    for channel in chunk {
                        call.key(ChannelKeys::new(channel).log())
                            .arg(epoch::mint().as_str());
                    }
                    call.arg(self.channel_ttl_ms());
                    call.invoke_async(&mut c).await
                })
                .await?;
            flat.chunks_exact(2)
                .map(|pair| {
                    Ok(Resume {
                        epoch: Some(parse_epoch(&pair[0])?),
                        since: parse_id(&pair[1])?,
                    })
                })
                .collect::<Result<Vec<_>, BusError>>()
        });
        let per_chunk = futures_util::future::try_join_all(calls).await?;
        let positions: Vec<Resume> = per_chunk.into_iter().flatten().collect();
        if positions.len() != channels.len() {
            return Err(BusError::Protocol(format!(
                "asked for {} positions, got {}",
                channels.len(),
                positions.len()
            )));
        }
        Ok(positions)
    }

    /// A backfill asks for everything the stream holds: at most `history_max` messages.
    async fn history_since(
        &self,
        channel: &ChannelId,
        since: &Resume,
    ) -> Result<History, BusError> {
        self.history(channel, Some(since), self.policy.history_max)
            .await
    }
}
