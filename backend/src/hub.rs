//! The local hub: which of this instance's connections are in which channel, and fan-out to
//! them.
//!
//! Each event is serialized once per instance and the same bytes are queued for every local
//! member. Every connection has its own bounded queue ([`Outbox`]) and writer, so a slow reader
//! only ever slows itself. What the bus hands over arrives in [`delivery`]; [`typing_turns`]
//! keeps each channel's `typing` to one per client id per period, and [`moderation`] closes a
//! client's connections on the server's request.

mod delivery;
mod moderation;
mod typing_turns;

use std::{
    collections::HashMap,
    mem,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_http::ws::CloseCode;
use protocol::{ChannelId, ClientId, ServerFrame};
use tokio::sync::watch;

use self::typing_turns::TypingTurns;
use crate::{
    bus::{Bus, ConnKey},
    metrics::Metrics,
    outbox::{Offered, Outbound, Outbox},
    presence_batch::PresenceBatch,
};

/// What the hub keeps of a local connection.
pub struct Member {
    pub client: ClientId,
    pub conn_key: ConnKey,
    /// The connection's bounded outbound queue; its writer holds the receiving end.
    pub outbox: Outbox,
}

struct LocalChannel {
    members: HashMap<u64, Member>,
    /// From the bus: true while the channel's events are being delivered to this instance.
    subscribed: watch::Receiver<bool>,
    /// The latest count of a large channel, not yet sent (see [`Hub::send_online_counts`]).
    unsent_online_count: Option<u64>,
    /// Presence events not yet sent (see [`Hub::send_presence_batches`]); boxed, since most
    /// channels have none most of the time.
    unsent_presence: Option<Box<PresenceBatch>>,
    /// Whose `typing` may be passed on when (see [`Hub::take_typing_turn`]).
    typing: TypingTurns,
}

pub struct Hub {
    /// Never held across `.await`.
    channels: Mutex<HashMap<ChannelId, LocalChannel>>,
    next_member: AtomicU64,
    metrics: Arc<Metrics>,
    /// Above this many online, presence events are summed up into a periodic count.
    presence_detail_max: u64,
    /// Channels with an unsent presence batch, so sending them does not visit every channel.
    /// Locked after `channels` when both are held.
    presence_pending: Mutex<Vec<ChannelId>>,
}

/// A member's place in the hub, returned by [`Hub::join`] and given back to [`Hub::leave`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberId(u64);

impl Hub {
    pub fn new(metrics: Arc<Metrics>, presence_detail_max: u64) -> Self {
        Self {
            channels: Mutex::default(),
            next_member: AtomicU64::new(0),
            presence_pending: Mutex::default(),
            metrics,
            presence_detail_max,
        }
    }

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
                unsent_online_count: None,
                unsent_presence: None,
                typing: TypingTurns::default(),
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

    /// Whether a `typing` of `client` may be passed on now: at most one per `every` per client
    /// id in a channel, whichever of its connections on this instance sends it.
    pub fn take_typing_turn(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        now: Instant,
        every: Duration,
    ) -> bool {
        let mut channels = self.lock();
        let Some(local) = channels.get_mut(channel) else {
            return false;
        };
        let members = local.members.len();
        local.typing.take(client, now, every, members)
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

    /// Asks every local connection to close, in batches spread over `spread`, so clients of
    /// a stopping instance do not all reconnect in the same millisecond.
    pub async fn close_all_in_batches(&self, code: CloseCode, reason: &str, spread: Duration) {
        const BATCHES: u32 = 10;
        let closers: Vec<_> = self
            .lock()
            .values()
            .flat_map(|local| local.members.values().map(|m| m.outbox.closer().clone()))
            .collect();
        let batch_size = closers.len().div_ceil(BATCHES as usize).max(1);
        for (i, batch) in closers.chunks(batch_size).enumerate() {
            if i > 0 {
                tokio::time::sleep(spread / BATCHES).await;
            }
            for closer in batch {
                closer.request(code, reason);
            }
        }
    }

    /// Sends each large channel's latest count, if it changed since the last call, to its
    /// local members: called once a second, this is all a member of a large channel hears
    /// of others coming and going.
    pub fn send_online_counts(&self) {
        for local in self.lock().values_mut() {
            if let Some(online_count) = local.unsent_online_count.take() {
                self.offer_to_all(
                    local,
                    &Outbound::frame(&ServerFrame::Online { online_count }),
                );
            }
        }
    }

    /// Sends each channel's presence events since the last call, coalesced to one frame per
    /// client id: called every `PRESENCE_BATCH_MS`, so a burst of joins and leaves costs each
    /// member a frame per client id per window, not one per event.
    pub fn send_presence_batches(&self) {
        let pending = mem::take(
            &mut *self
                .presence_pending
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for channel in pending {
            let batch = self
                .lock()
                .get_mut(&channel)
                .and_then(|local| local.unsent_presence.take());
            let Some(batch) = batch else { continue };
            // Serialized outside the lock, once for every local member.
            let frames: Vec<Outbound> = batch.into_frames().iter().map(Outbound::frame).collect();
            if let Some(local) = self.lock().get(&channel) {
                for outbound in &frames {
                    self.offer_to_all(local, outbound);
                }
            }
        }
    }

    fn offer_to_all(&self, local: &LocalChannel, outbound: &Outbound) {
        self.offer_to_all_but(local, outbound, None);
    }

    /// Offers `outbound` to every local member but the connections of `except`.
    fn offer_to_all_but(
        &self,
        local: &LocalChannel,
        outbound: &Outbound,
        except: Option<&ClientId>,
    ) {
        for member in local.members.values() {
            if except == Some(&member.client) {
                continue;
            }
            if let Offered::TooSlow { first_close } = member.outbox.offer(outbound.clone()) {
                self.metrics.fanout_drop();
                if first_close {
                    self.metrics.slow_consumer_close();
                }
            }
        }
    }

    /// Channels this instance has local members in.
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }
}
