//! The channels a subscriber serves, and the rules that keep each one's delivery gap-free
//! and in id order across reconnects and topology changes. Shared by the single-Redis and
//! the cluster subscriber; only how they talk to Redis differs.
//!
//! - Before a channel is subscribed, its position is noted (the baseline: the history's
//!   epoch and newest message id): clients joining read history after the subscription is
//!   live, so whatever lies between the baseline and the subscription reaches them through
//!   history.
//! - The last message id handed to the hub is remembered per channel, with the epoch it
//!   belongs to; nothing older or equal is handed over again.
//! - After any (re)subscription, the channel is backfilled from its stream after that id.
//!   If the stream no longer holds those messages (or is another incarnation of the
//!   history), the hub is told, and it asks the channel's clients to resume (they then learn
//!   `recovered: false`).

use std::{collections::HashMap, sync::Arc};

use protocol::{ChannelId, MessageId};
use tokio::sync::watch;

use super::{commands::RedisCommands, events, keys::channel_of_events};
use crate::bus::{BusError, BusEvent, EventSink, Resume};

/// A channel with local members.
pub struct Subscription {
    /// Tells the channel's joiners whether events are being delivered.
    pub live: watch::Sender<bool>,
    /// The newest message id delivered to the hub (or the baseline) and the epoch of the
    /// history it was read from; `None` until known.
    pub last: Option<Resume>,
}

pub struct Tracked {
    pub wanted: HashMap<ChannelId, Subscription>,
    sink: Arc<dyn EventSink>,
}

impl Tracked {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self {
            wanted: HashMap::new(),
            sink,
        }
    }

    /// Starts tracking a channel (replacing any stale entry, so the newest joiners' watch is
    /// the one that gets told), keeping what is known of its position.
    pub fn want(&mut self, channel: ChannelId, live: watch::Sender<bool>) {
        let last = self.wanted.remove(&channel).and_then(|old| old.last);
        self.wanted.insert(channel, Subscription { live, last });
    }

    pub fn set_all_live(&self, live: bool) {
        for subscription in self.wanted.values() {
            subscription.live.send_replace(live);
        }
    }

    /// Notes the channel's newest id if its position is not known yet.
    pub async fn ensure_baseline(
        &mut self,
        commands: &RedisCommands,
        channel: &ChannelId,
    ) -> Result<(), BusError> {
        self.ensure_baselines(commands, std::slice::from_ref(channel))
            .await
    }

    /// The same for many channels, in one round trip.
    pub async fn ensure_baselines(
        &mut self,
        commands: &RedisCommands,
        channels: &[ChannelId],
    ) -> Result<(), BusError> {
        let unknown: Vec<ChannelId> = channels
            .iter()
            .filter(|c| self.wanted.get(*c).is_some_and(|s| s.last.is_none()))
            .cloned()
            .collect();
        let baselines = commands.positions(&unknown).await?;
        for (channel, baseline) in unknown.iter().zip(baselines) {
            if let Some(subscription) = self.wanted.get_mut(channel) {
                subscription.last = Some(baseline);
            }
        }
        Ok(())
    }

    /// Flips the channels' watches to live.
    pub fn set_live(&self, channels: &[ChannelId]) {
        for channel in channels {
            if let Some(subscription) = self.wanted.get(channel) {
                subscription.live.send_replace(true);
            }
        }
    }

    /// Delivers what the channel's stream holds after the last id delivered.
    pub async fn backfill(
        &mut self,
        commands: &RedisCommands,
        channel: &ChannelId,
    ) -> Result<(), BusError> {
        let Some(last) = self.wanted.get(channel).and_then(|s| s.last.clone()) else {
            return Ok(());
        };
        let history = commands
            .history(channel, Some(&last), commands.history_max())
            .await?;
        if !history.recovered {
            log::warn!(channel:% = channel; "Messages were lost while the subscription was down; members must resume.");
            if let Some(subscription) = self.wanted.get_mut(channel) {
                // Continue from the history as it is now.
                subscription.last = Some(Resume {
                    since: history.messages.last().map_or(MessageId::ZERO, |m| m.id),
                    epoch: Some(history.epoch),
                });
            }
            self.sink.gap(channel);
            return Ok(());
        }
        if !history.messages.is_empty() {
            log::info!(channel:% = channel, missed = history.messages.len(); "Backfilled messages missed while resubscribing.");
        }
        for message in history.messages {
            self.deliver(channel, BusEvent::Message(message));
        }
        Ok(())
    }

    /// Decodes a pub/sub payload of one of our channels and delivers it.
    pub fn on_payload(&mut self, channel_name: &str, payload: &[u8]) {
        let Some(channel) = channel_of_events(channel_name) else {
            return;
        };
        match events::decode(&channel, payload) {
            Ok(event) => self.deliver(&channel, event),
            Err(e) => log::warn!(channel:% = channel, error:% = e; "Dropped an unreadable event."),
        }
    }

    /// Hands an event to the hub, dropping messages already delivered.
    pub fn deliver(&mut self, channel: &ChannelId, event: BusEvent) {
        let Some(subscription) = self.wanted.get_mut(channel) else {
            return;
        };
        if let BusEvent::Message(message) = &event {
            match &mut subscription.last {
                Some(last) if message.id <= last.since => return,
                Some(last) => last.since = message.id,
                // No baseline known: the id alone, which backfill can still check.
                None => {
                    subscription.last = Some(Resume {
                        since: message.id,
                        epoch: None,
                    });
                }
            }
        }
        self.sink.deliver(channel, event);
    }
}
