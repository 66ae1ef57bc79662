//! Presence: a sorted set of client ids per channel and one of connections per client,
//! scored by expiry, so a crashed instance's entries vanish after the presence TTL.

use protocol::{ChannelId, ClientId, frames::MAX_WELCOME_ONLINE};

use crate::bus::{
    BusError, ConnKey, Roster,
    redis::{RedisBus, keys::ChannelKeys},
};

impl RedisBus {
    pub async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        let keys = &ChannelKeys::new(channel);
        let (online_count, online): (u64, Vec<String>) = self
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
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(Roster {
            online: online
                .iter()
                .filter_map(|id| ClientId::parse(id).ok())
                .collect(),
            online_count,
        })
    }

    pub async fn leave_presence(
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

    pub async fn refresh_presence(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError> {
        if members.is_empty() {
            return Ok(());
        }
        let keys = &ChannelKeys::new(channel);
        let _: u64 = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                let mut call = self.scripts.presence_refresh.key(keys.online());
                call.arg(self.settings.presence_ttl.as_millis() as u64)
                    .arg(keys.events())
                    .arg(keys.connections_prefix());
                for (client, conn) in members {
                    call.key(keys.connections(client))
                        .arg(client.as_str())
                        .arg(conn.as_str());
                }
                call.key(keys.log()).arg(self.channel_ttl_ms());
                call.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }
}
