//! The periodic presence refresh of every channel an instance has members in
//! (`Bus::refresh_presence_all`). On one Redis the channels' scripts go in pipelines of
//! [`CHANNELS_PER_PIPELINE`]: Redis reads, runs and answers a batch per wake-up, rather than
//! one channel per round trip (the round trip costs Redis about as much as the script). On a
//! cluster, whose channels live on different shards, each channel is its own call.

use protocol::{ChannelId, ClientId};
use redis::{ErrorKind, RedisResult, ServerErrorKind, Value};

use super::source::CommandSource;
use crate::bus::{
    Bus, BusError, ConnKey,
    redis::{RedisBus, keys::ChannelKeys},
};

/// Channels refreshed per pipeline: few round trips, none of them holding Redis for long.
const CHANNELS_PER_PIPELINE: usize = 100;

impl RedisBus {
    /// The keys and arguments of `presence_refresh.lua` for `members` of `channel`, in the
    /// order the script reads them.
    pub fn refresh_parts(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> (Vec<String>, Vec<String>) {
        let keys = ChannelKeys::new(channel);
        let mut script_keys = vec![keys.online()];
        let mut args = vec![
            self.settings.presence_ttl.as_millis().to_string(),
            keys.events(),
            keys.connections_prefix(),
        ];
        for (client, conn) in members {
            script_keys.push(keys.connections(client));
            args.push(client.as_str().to_owned());
            args.push(conn.as_str().to_owned());
        }
        script_keys.push(keys.log());
        args.push(self.channel_ttl_ms().to_string());
        (script_keys, args)
    }

    /// Refreshes every channel of `channels`; the ones that failed, with why.
    pub async fn refresh_many(
        &self,
        channels: &[(ChannelId, Vec<(ClientId, ConnKey)>)],
    ) -> Vec<(ChannelId, BusError)> {
        let channels: Vec<_> = channels.iter().filter(|(_, m)| !m.is_empty()).collect();
        let mut failed = Vec::new();
        if let CommandSource::Cluster(_) = self.source {
            for (channel, members) in channels {
                if let Err(e) = self.refresh_presence(channel, members).await {
                    failed.push((channel.clone(), e));
                }
            }
            return failed;
        }
        for batch in channels.chunks(CHANNELS_PER_PIPELINE) {
            let mut unloaded = Vec::new();
            self.refresh_batch(batch, &mut failed, &mut unloaded).await;
            // Redis lost its scripts (a restart): load it once and send those again.
            if !unloaded.is_empty() {
                match self.load_refresh_script().await {
                    Ok(()) => {
                        let mut still_unloaded = Vec::new();
                        self.refresh_batch(&unloaded, &mut failed, &mut still_unloaded)
                            .await;
                        failed.extend(still_unloaded.into_iter().map(|(c, _)| {
                            (
                                c.clone(),
                                BusError::Protocol("the script is not loaded".into()),
                            )
                        }));
                    }
                    Err(e) => {
                        failed.extend(unloaded.into_iter().map(|(c, _)| (c.clone(), e.clone())))
                    }
                }
            }
        }
        failed
    }

    /// Refreshes `batch` in one pipeline; adds the channels that failed to `failed`, and
    /// those Redis had no script for to `unloaded`.
    async fn refresh_batch<'a>(
        &self,
        batch: &[&'a (ChannelId, Vec<(ClientId, ConnKey)>)],
        failed: &mut Vec<(ChannelId, BusError)>,
        unloaded: &mut Vec<&'a (ChannelId, Vec<(ClientId, ConnKey)>)>,
    ) {
        let results = match self.refresh_pipeline(batch).await {
            Ok(results) => results,
            Err(e) => {
                failed.extend(batch.iter().map(|(c, _)| (c.clone(), e.clone())));
                return;
            }
        };
        for (entry, result) in batch.iter().zip(results) {
            match result {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    unloaded.push(entry)
                }
                Err(e) => failed.push((entry.0.clone(), BusError::Protocol(e.to_string()))),
            }
        }
    }

    async fn load_refresh_script(&self) -> Result<(), BusError> {
        let _: String = self
            .with_connection(None, |mut c| async move {
                self.scripts
                    .presence_refresh
                    .prepare_invoke()
                    .load_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    /// One pipeline of refresh scripts, one result per channel of `batch`.
    async fn refresh_pipeline(
        &self,
        batch: &[&(ChannelId, Vec<(ClientId, ConnKey)>)],
    ) -> Result<Vec<RedisResult<Value>>, BusError> {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let hash = self.scripts.presence_refresh.get_hash();
        for (channel, members) in batch {
            let (keys, args) = self.refresh_parts(channel, members);
            pipe.cmd("EVALSHA")
                .arg(hash)
                .arg(keys.len())
                .arg(keys)
                .arg(args);
        }
        let pipe = &pipe;
        self.with_connection(None, |mut c| async move { pipe.query_async(&mut c).await })
            .await
    }
}
