//! The in-process bus: one instance, no Redis, the same semantics.
//!
//! Ids are minted like Redis Stream ids, history is trimmed the same way and resume follows
//! the same rules, so a laptop run behaves like production and the behaviour tests run
//! unchanged against every engine. Channels idle for the channel TTL with nobody connected
//! are forgotten by a periodic sweep, as Redis expires their keys.
//!
//! [`channel`] holds what one channel keeps (history, presence, nonces); this file is the
//! `Bus` over all of them.

mod channel;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use protocol::{
    ChannelId, ChatMessage, ClientId, DisplayName, Epoch, MessageId, PresenceEvent,
    time::rfc3339_millis,
};
use tokio::sync::watch;

use self::channel::{ChannelState, after, before, roster};
use super::{
    Bus, BusError, BusEvent, ChannelPolicy, ConnKey, EventSink, History, HistoryPage, Resume,
    Roster, Signal,
    epoch::{self, Incarnation},
};

pub struct EmbeddedBus {
    /// Every channel used within the channel TTL, or with members. Guarded by a std mutex
    /// that is never held across `.await`; events are handed to the sink under it, which is
    /// what keeps delivery in id order.
    channels: Mutex<HashMap<ChannelId, ChannelState>>,
    sink: Arc<dyn EventSink>,
    policy: ChannelPolicy,
}

/// How often idle channels are looked for: often enough that one outlives its TTL by at
/// most a quarter of it, and at most once a minute.
fn sweep_period(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

impl EmbeddedBus {
    pub fn new(sink: Arc<dyn EventSink>, policy: ChannelPolicy) -> Self {
        Self {
            channels: Mutex::new(HashMap::new()),
            sink,
            policy,
        }
    }

    /// The bus, with a task that forgets idle channels for as long as the bus exists. Must
    /// run inside a Tokio runtime.
    pub fn start(sink: Arc<dyn EventSink>, policy: ChannelPolicy) -> Arc<Self> {
        let bus = Arc::new(Self::new(sink, policy));
        tokio::spawn(sweep_idle(Arc::downgrade(&bus)));
        bus
    }

    /// Forgets channels with nobody present whose last message, join or leave is older
    /// than the channel TTL. Returns how many were forgotten.
    pub fn forget_idle(&self) -> usize {
        let ttl = self.policy.channel_ttl;
        let now = Instant::now();
        let mut channels = self.lock();
        let before = channels.len();
        channels.retain(|_, state| {
            !state.present.is_empty() || now.saturating_duration_since(state.touched) < ttl
        });
        let forgotten = before - channels.len();
        // A burst of channels used once must not keep its table's memory either.
        if forgotten > 0 && channels.capacity() > 4 * channels.len().max(64) {
            channels.shrink_to_fit();
        }
        forgotten
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelId, ChannelState>> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping the chat, so keep serving.
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs [`EmbeddedBus::forget_idle`] periodically until the bus is dropped.
async fn sweep_idle(bus: Weak<EmbeddedBus>) {
    loop {
        let Some(period) = bus
            .upgrade()
            .map(|bus| sweep_period(bus.policy.channel_ttl))
        else {
            return;
        };
        tokio::time::sleep(period).await;
        let Some(bus) = bus.upgrade() else {
            return;
        };
        let forgotten = bus.forget_idle();
        if forgotten > 0 {
            log::debug!(forgotten; "Forgot idle channels.");
        }
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    fn subscribe(&self, _channel: &ChannelId) -> watch::Receiver<bool> {
        // Every event already reaches the sink; nothing to wait for.
        watch::channel(true).1
    }

    fn unsubscribe(&self, _channel: &ChannelId) {}

    async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError> {
        let mut channels = self.lock();
        let state = channels
            .entry(channel.clone())
            .or_insert_with(ChannelState::new);
        let now = Instant::now();
        state.touched = now;
        if let Some(original) = nonce.and_then(|nonce| state.seen(client, nonce, now)) {
            return Ok(original);
        }
        let id = state.last_id.next_after(protocol::time::now_millis());
        state.last_id = id;
        let message = ChatMessage {
            id,
            channel_id: channel.clone(),
            client_id: client.clone(),
            time: rfc3339_millis(id.millis),
            message: text.to_owned(),
            name: name.cloned(),
        };
        state.log.push_back(message.clone());
        if let Some(nonce) = nonce {
            state.remember(client, nonce, id, now, now + self.policy.dedupe_window);
        }
        state.trim(self.policy.history_max);
        self.sink.deliver(channel, BusEvent::Message(message));
        Ok(id)
    }

    async fn history(
        &self,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
    ) -> Result<History, BusError> {
        let mut channels = self.lock();
        let state = channels
            .entry(channel.clone())
            .or_insert_with(ChannelState::new);
        state.touched = Instant::now();
        let incarnation = Incarnation {
            epoch: &state.epoch,
            last: state.last_id,
            trimmed: state.max_trimmed,
        };
        // The log is in id order.
        let holds = |id| state.log.binary_search_by(|m| m.id.cmp(&id)).is_ok();
        if let Some(resume) = resume
            && epoch::recoverable(resume, &incarnation, holds)
        {
            return Ok(History {
                messages: after(state, resume.since, limit),
                recovered: true,
                epoch: state.epoch.clone(),
            });
        }
        let skip = state.log.len().saturating_sub(self.policy.history_limit);
        Ok(History {
            messages: state.log.iter().skip(skip).take(limit).cloned().collect(),
            recovered: false,
            epoch: state.epoch.clone(),
        })
    }

    async fn history_after(
        &self,
        channel: &ChannelId,
        after: MessageId,
        epoch: &Epoch,
        limit: usize,
    ) -> Result<Option<Vec<ChatMessage>>, BusError> {
        let channels = self.lock();
        Ok(channels
            .get(channel)
            .filter(|state| state.epoch == *epoch && after >= state.max_trimmed)
            .map(|state| self::after(state, after, limit)))
    }

    async fn history_before(
        &self,
        channel: &ChannelId,
        before: MessageId,
        limit: usize,
    ) -> Result<HistoryPage, BusError> {
        let channels = self.lock();
        Ok(channels
            .get(channel)
            .map(|state| self::before(state, before, limit))
            .unwrap_or_default())
    }

    async fn signal(&self, channel: &ChannelId, signal: Signal) -> Result<(), BusError> {
        // Under the lock, like every other event, so it cannot overtake one.
        let _channels = self.lock();
        self.sink.deliver(channel, BusEvent::Signal(signal));
        Ok(())
    }

    async fn presence(&self, channel: &ChannelId) -> Result<Roster, BusError> {
        let channels = self.lock();
        Ok(channels.get(channel).map(roster).unwrap_or_default())
    }

    async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        name: Option<&DisplayName>,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        let mut channels = self.lock();
        let state = channels
            .entry(channel.clone())
            .or_insert_with(ChannelState::new);
        state.touched = Instant::now();
        let conns = state.present.entry(client.clone()).or_default();
        let first = conns.is_empty();
        conns.insert(conn.clone());
        match name {
            Some(name) => state.names.insert(client.clone(), name.clone()),
            None => state.names.remove(client),
        };
        let roster = roster(state);
        if first {
            self.sink.deliver(
                channel,
                BusEvent::Presence {
                    event: PresenceEvent::Join,
                    client_id: client.clone(),
                    online_count: roster.online_count,
                    name: name.cloned(),
                },
            );
        }
        Ok(roster)
    }

    async fn leave_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<(), BusError> {
        let mut channels = self.lock();
        let Some(state) = channels.get_mut(channel) else {
            return Ok(());
        };
        // Idle time counts from the last member's departure.
        state.touched = Instant::now();
        let Some(conns) = state.present.get_mut(client) else {
            return Ok(());
        };
        conns.remove(conn);
        if conns.is_empty() {
            state.present.remove(client);
            let name = state.names.remove(client);
            self.sink.deliver(
                channel,
                BusEvent::Presence {
                    event: PresenceEvent::Leave,
                    client_id: client.clone(),
                    online_count: state.present.len() as u64,
                    name,
                },
            );
        }
        Ok(())
    }

    async fn refresh_presence(
        &self,
        _channel: &ChannelId,
        _members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError> {
        // Presence lives and dies with this process: nothing can go stale.
        Ok(())
    }

    async fn check_ready(&self) -> Result<(), BusError> {
        Ok(())
    }
}
