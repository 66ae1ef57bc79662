//! Events published without being stored (`Bus::signal`): one `PUBLISH`, or `SPUBLISH` on a
//! cluster, on the channel's events channel, so every instance's subscriber hears it. A
//! `typing` goes through a script that passes on one per client per [`TYPING_EVERY`] across
//! instances.

use protocol::ChannelId;

use crate::bus::{
    BusError, Signal, TYPING_EVERY,
    redis::{RedisBus, events, keys::ChannelKeys, scripts::Publish},
};

impl RedisBus {
    pub async fn publish_signal(
        &self,
        channel: &ChannelId,
        signal: &Signal,
    ) -> Result<(), BusError> {
        let keys = &ChannelKeys::new(channel);
        match signal {
            Signal::Typing { client, name } => {
                // One per client and channel per window across every instance: the script
                // publishes only if it is the first to mark the client.
                let payload = &events::encode_typing(client, name.as_ref());
                let marker = &keys.typing(client);
                let _passed: u8 = self
                    .with_connection(Some(&keys.events()), |mut c| async move {
                        self.scripts
                            .typing
                            .key(marker)
                            .arg(TYPING_EVERY.as_millis() as u64)
                            .arg(keys.events())
                            .arg(payload)
                            .invoke_async(&mut c)
                            .await
                    })
                    .await?;
                Ok(())
            }
            Signal::Disconnect { client, reason } => {
                let payload = &events::encode_disconnect(client, reason);
                let command = match self.source.publish_mode() {
                    Publish::Plain => "PUBLISH",
                    Publish::Sharded => "SPUBLISH",
                };
                let _receivers: u64 = self
                    .with_connection(Some(&keys.events()), |mut c| async move {
                        redis::cmd(command)
                            .arg(keys.events())
                            .arg(payload)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                Ok(())
            }
        }
    }
}
