//! Ending a client's connections on the server's behalf (the server API's disconnect): the
//! signal reaches every instance, and each closes the connections it holds.

use actix_http::ws::CloseCode;
use protocol::{ChannelId, ClientId};

use super::Hub;
use crate::bus::control_channel;

/// The close code a moderated connection gets: the page shows the reason and does not
/// reconnect by itself.
pub const DISCONNECTED: u16 = 4000;

impl Hub {
    /// Closes `client`'s local connections in `channel`, or in every channel when `channel`
    /// is the control channel.
    pub(super) fn disconnect(&self, channel: &ChannelId, client: &ClientId, reason: &str) {
        let everywhere = *channel == control_channel();
        let channels = self.lock();
        let locals = channels
            .iter()
            .filter(|(id, _)| everywhere || *id == channel)
            .map(|(_, local)| local);
        let mut closed = 0;
        for local in locals {
            for member in local.members.values().filter(|m| m.client == *client) {
                member
                    .outbox
                    .closer()
                    .request(CloseCode::Other(DISCONNECTED), reason);
                closed += 1;
            }
        }
        if closed > 0 {
            log::info!(client:% = client, channel:% = channel, closed; "Disconnected a client on the server's request.");
        }
    }
}
