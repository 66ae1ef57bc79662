//! What the bus hands the hub (`EventSink`): each event of a channel with local members, once
//! per instance, encoded once and queued for every member; and the signal that the instance
//! may have missed some, which sends every member of the channel off to resume.

use actix_http::ws::CloseCode;
use protocol::{ChannelId, ServerFrame};

use super::Hub;
use crate::{
    bus::{BusEvent, EventSink, Signal},
    outbox::Outbound,
};

impl EventSink for Hub {
    fn gap(&self, channel: &ChannelId) {
        if let Some(local) = self.lock().get(channel) {
            for member in local.members.values() {
                member.outbox.closer().request(
                    CloseCode::Again,
                    "messages may have been missed; reconnect with since",
                );
            }
        }
    }

    fn deliver(&self, channel: &ChannelId, event: BusEvent) {
        if let BusEvent::Presence {
            event,
            client_id,
            online_count,
            name,
        } = event
        {
            let mut channels = self.lock();
            let Some(local) = channels.get_mut(channel) else {
                return;
            };
            if online_count > self.presence_detail_max {
                local.unsent_online_count = Some(online_count);
                return;
            }
            // This event carries a newer count than any summary still to be sent.
            local.unsent_online_count = None;
            if local.unsent_presence.is_none() {
                self.presence_pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(channel.clone());
            }
            local.unsent_presence.get_or_insert_with(Box::default).add(
                event,
                client_id,
                online_count,
                name,
            );
            return;
        }
        // Only a signal's sender is left out; everything else goes to every member.
        let mut except = None;
        let frame = match event {
            BusEvent::Signal(Signal::Disconnect { client, reason }) => {
                return self.disconnect(channel, &client, &reason);
            }
            BusEvent::Message(message) => {
                let now_ms = protocol::time::now_millis();
                self.metrics
                    .pubsub_lag(now_ms.saturating_sub(message.id.millis) as f64 / 1000.0);
                ServerFrame::Message(message)
            }
            BusEvent::Presence {
                event,
                client_id,
                online_count,
                name,
            } => ServerFrame::Presence {
                event,
                client_id,
                online_count,
                name,
            },
            BusEvent::Signal(Signal::Typing { client, name }) => {
                except = Some(client.clone());
                ServerFrame::Typing {
                    client_id: client,
                    name,
                }
            }
        };
        // Serialize outside the lock, once for every local member.
        let outbound = Outbound::frame(&frame);
        let channels = self.lock();
        let Some(local) = channels.get(channel) else {
            return;
        };
        self.offer_to_all_but(local, &outbound, except.as_ref());
    }
}
