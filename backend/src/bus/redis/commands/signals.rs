//! Events published without being stored (`Bus::signal`): one `PUBLISH`, or `SPUBLISH` on a
//! cluster, on the channel's events channel, so every instance's subscriber hears it.

use protocol::ChannelId;

use crate::bus::{
    BusError, Signal,
    redis::{RedisBus, events, keys::ChannelKeys, scripts::Publish},
};

impl RedisBus {
    pub async fn publish_signal(
        &self,
        channel: &ChannelId,
        signal: &Signal,
    ) -> Result<(), BusError> {
        let keys = &ChannelKeys::new(channel);
        let payload = &match signal {
            Signal::Typing { client, name } => events::encode_typing(client, name.as_ref()),
            Signal::Disconnect { client, reason } => events::encode_disconnect(client, reason),
        };
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
