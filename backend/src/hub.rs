//! The local hub: which of this instance's connections are in which channel, and fan-out to
//! them.
//!
//! Each event is serialized once per instance and the same bytes are queued for every local
//! member. Every connection has its own bounded queue and writer task, so a slow reader
//! only ever slows itself: when its queue is full it is closed (1013) and resumes from
//! history when it comes back, rather than losing messages silently or stalling the others.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use protocol::{ChannelId, ClientId, MessageId, ServerFrame};
use tokio::sync::{Notify, mpsc, watch};

use crate::bus::{Bus, BusEvent, ConnKey, EventSink};

/// One frame queued for a connection's writer.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Set for `message` frames: the writer drops any whose id it has already sent, which is
    /// what makes replayed history and live delivery meet without a duplicate.
    pub id: Option<MessageId>,
    /// The serialized frame, shared by every recipient.
    pub text: ByteString,
}

impl Outbound {
    pub fn frame(frame: &ServerFrame) -> Self {
        let id = match frame {
            ServerFrame::Message(m) => Some(m.id),
            _ => None,
        };
        Self {
            id,
            text: frame.to_json().into(),
        }
    }
}

/// Asks a connection's writer to close the socket, from anywhere and at most once.
#[derive(Default)]
pub struct Closer {
    reason: Mutex<Option<CloseReason>>,
    notify: Notify,
}

impl Closer {
    /// Requests a close; the first reason wins.
    pub fn request(&self, code: CloseCode, description: &str) {
        let mut reason = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if reason.is_none() {
            *reason = Some(CloseReason {
                code,
                description: Some(description.to_owned()),
            });
            self.notify.notify_one();
        }
    }

    /// Resolves with the first requested reason.
    pub async fn requested(&self) -> CloseReason {
        loop {
            if let Some(reason) = self
                .reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

/// What the hub keeps of a local connection.
pub struct Member {
    pub client: ClientId,
    pub conn_key: ConnKey,
    /// The connection's bounded outbound queue; its writer task holds the receiver.
    pub outbox: mpsc::Sender<Outbound>,
    /// Used to close the connection when it cannot keep up.
    pub closer: Arc<Closer>,
}

struct LocalChannel {
    members: HashMap<u64, Member>,
    /// From the bus: true while the channel's events are being delivered to this instance.
    subscribed: watch::Receiver<bool>,
}

#[derive(Default)]
pub struct Hub {
    /// Never held across `.await`.
    channels: Mutex<HashMap<ChannelId, LocalChannel>>,
    next_member: AtomicU64,
}

/// A member's place in the hub, returned by [`Hub::join`] and given back to [`Hub::leave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberId(u64);

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelId, LocalChannel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a member, subscribing the bus to the channel if it is the first local one. The
    /// returned watch says when the subscription is live; until then the member may miss
    /// live events, so the caller waits for it before reading history.
    pub fn join(
        &self,
        channel: &ChannelId,
        member: Member,
        bus: &dyn Bus,
    ) -> (MemberId, watch::Receiver<bool>) {
        let id = self.next_member.fetch_add(1, Ordering::Relaxed);
        let mut channels = self.lock();
        let local = channels
            .entry(channel.clone())
            .or_insert_with(|| LocalChannel {
                members: HashMap::new(),
                subscribed: bus.subscribe(channel),
            });
        local.members.insert(id, member);
        (MemberId(id), local.subscribed.clone())
    }

    /// Removes a member, unsubscribing the bus when the channel has no local member left.
    pub fn leave(&self, channel: &ChannelId, member: MemberId, bus: &dyn Bus) {
        let mut channels = self.lock();
        if let Some(local) = channels.get_mut(channel) {
            local.members.remove(&member.0);
            if local.members.is_empty() {
                channels.remove(channel);
                bus.unsubscribe(channel);
            }
        }
    }

    /// This instance's connections per channel, for refreshing their presence.
    pub fn presence_snapshot(&self) -> Vec<(ChannelId, Vec<(ClientId, ConnKey)>)> {
        self.lock()
            .iter()
            .map(|(channel, local)| {
                let members = local
                    .members
                    .values()
                    .map(|m| (m.client.clone(), m.conn_key.clone()))
                    .collect();
                (channel.clone(), members)
            })
            .collect()
    }

    /// Channels this instance has local members in.
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }

    /// Local connections across all channels.
    pub fn member_count(&self) -> usize {
        self.lock().values().map(|c| c.members.len()).sum()
    }
}

impl EventSink for Hub {
    fn gap(&self, channel: &ChannelId) {
        if let Some(local) = self.lock().get(channel) {
            for member in local.members.values() {
                member.closer.request(
                    CloseCode::Again,
                    "messages may have been missed; reconnect with since",
                );
            }
        }
    }

    fn deliver(&self, channel: &ChannelId, event: BusEvent) {
        let frame = match event {
            BusEvent::Message(message) => ServerFrame::Message(message),
            BusEvent::Presence {
                event,
                client_id,
                online_count,
            } => ServerFrame::Presence {
                event,
                client_id,
                online_count,
            },
        };
        // Serialize outside the lock, once for every local member.
        let outbound = Outbound::frame(&frame);
        let channels = self.lock();
        let Some(local) = channels.get(channel) else {
            return;
        };
        for member in local.members.values() {
            match member.outbox.try_send(outbound.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => member.closer.request(
                    CloseCode::Again,
                    "too slow: outbound queue full, reconnect with since",
                ),
                // The connection is on its way out; its cleanup removes it from the hub.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}
