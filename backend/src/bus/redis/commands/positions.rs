//! What subscribers read from the channels' streams: the positions they note before
//! subscribing, and the backfill after.

use async_trait::async_trait;
use protocol::ChannelId;

use super::{parse_epoch, parse_id};
use crate::bus::{
    Bus, BusError, History, Resume, epoch,
    redis::{RedisBus, keys::ChannelKeys, subscriptions::ChannelLog},
};

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
        Bus::history(self, channel, Some(since), self.policy.history_max).await
    }
}
