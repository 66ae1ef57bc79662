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
//!
//! The subscribers read positions and history through [`ChannelLog`], which the bus
//! implements, so they depend on what they read, not on how the bus reaches Redis; they
//! hold the bus weakly (see [`LogHandle`]), so dropping the bus still ends them.

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
    time::Duration,
};

use async_trait::async_trait;
use protocol::{ChannelId, MessageId};
use tokio::sync::{mpsc, watch};

use super::{events, keys::channel_of_events};
use crate::{
    bus::{BusError, BusEvent, EventSink, History, Resume},
    metrics::Metrics,
};

/// What the hub asks of a subscriber, in the order it asked.
pub enum Request {
    Subscribe(ChannelId, watch::Sender<bool>),
    Unsubscribe(ChannelId),
}

/// A channel to subscribe, and the watch its joiners wait on.
pub type ToSubscribe = (ChannelId, watch::Sender<bool>);

/// First joins come in bursts (a restart, a popular event): takes every subscribe already
/// queued behind `first`, so they are done together, up to the first unsubscribe, which is
/// returned to be done after them (the hub's order is kept).
pub fn take_subscribes(
    requests: &mut mpsc::UnboundedReceiver<Request>,
    first: ToSubscribe,
) -> (Vec<ToSubscribe>, Option<ChannelId>) {
    let mut batch = vec![first];
    while let Ok(next) = requests.try_recv() {
        match next {
            Request::Subscribe(channel, live) => batch.push((channel, live)),
            Request::Unsubscribe(channel) => return (batch, Some(channel)),
        }
    }
    (batch, None)
}

/// The bus's end of its subscriber task.
pub struct SubscriberHandle {
    /// Requests to the subscriber task, in the order the hub made them.
    requests: mpsc::UnboundedSender<Request>,
    /// Whether the subscriber's connections are up; an instance without them is not ready.
    up: watch::Receiver<bool>,
}

impl SubscriberHandle {
    /// A pair of ends: the bus keeps the handle, the subscriber task the queue and the
    /// sender of its readiness.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Request>, watch::Sender<bool>) {
        let (requests, queue) = mpsc::unbounded_channel();
        let (up_sender, up) = watch::channel(false);
        (Self { requests, up }, queue, up_sender)
    }

    pub fn subscribe(&self, channel: &ChannelId) -> watch::Receiver<bool> {
        let (live, receiver) = watch::channel(false);
        // If the subscriber task is gone the watch never turns true and joiners time out
        // with `unavailable`, which is the truth.
        let _ = self
            .requests
            .send(Request::Subscribe(channel.clone(), live));
        receiver
    }

    pub fn unsubscribe(&self, channel: &ChannelId) {
        let _ = self.requests.send(Request::Unsubscribe(channel.clone()));
    }

    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }
}

/// What subscribers read from the channels' streams.
#[async_trait]
pub trait ChannelLog: Send + Sync + 'static {
    /// Where each channel's history stands now (its epoch and newest id), creating an
    /// empty history for a channel without one.
    async fn positions(&self, channels: &[ChannelId]) -> Result<Vec<Resume>, BusError>;

    /// Everything the channel's stream still holds after `since`.
    async fn history_since(&self, channel: &ChannelId, since: &Resume)
    -> Result<History, BusError>;
}

/// The bus as a subscriber task holds it: weakly, so that the task ends once the bus (and
/// with it the request queue) is gone rather than keeping it alive.
pub type LogHandle = Weak<dyn ChannelLog>;

/// What every subscriber task starts with, whichever Redis it subscribes on.
pub struct SubscriberSetup {
    /// The bus, for baselines and backfills.
    pub log: LogHandle,
    /// The hub's requests, in the order it made them; closed when the bus is dropped.
    pub requests: mpsc::UnboundedReceiver<Request>,
    /// Where events go.
    pub sink: Arc<dyn EventSink>,
    /// Whether the subscriber's connections are up, for `/readyz`.
    pub up: watch::Sender<bool>,
    pub metrics: Arc<Metrics>,
    /// How often connections are pinged to find out one hangs.
    pub ping_every: Duration,
}

/// A channel with local members.
pub struct Subscription {
    /// Tells the channel's joiners whether events are being delivered.
    pub live: watch::Sender<bool>,
    /// The newest message id delivered to the hub (or the baseline) and the epoch of the
    /// history it was read from; `None` until known.
    pub last: Option<Resume>,
}

/// Every channel this instance has local members in, with its delivery position.
pub struct Subscriptions {
    /// The channels the hub asked for: subscribed on Redis, or waiting to be (connection
    /// down, slot moving).
    requested: HashMap<ChannelId, Subscription>,
    sink: Arc<dyn EventSink>,
}

impl Subscriptions {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self {
            requested: HashMap::new(),
            sink,
        }
    }

    /// Starts tracking a channel (replacing any stale entry, so the newest joiners' watch is
    /// the one that gets told), keeping what is known of its position.
    pub fn add(&mut self, channel: ChannelId, live: watch::Sender<bool>) {
        let last = self.requested.remove(&channel).and_then(|old| old.last);
        self.requested.insert(channel, Subscription { live, last });
    }

    /// Starts tracking a batch of channels; their ids, to subscribe.
    pub fn add_all(&mut self, batch: Vec<ToSubscribe>) -> Vec<ChannelId> {
        batch
            .into_iter()
            .map(|(channel, live)| {
                self.add(channel.clone(), live);
                channel
            })
            .collect()
    }

    /// Stops tracking a channel: its last local member left.
    pub fn remove(&mut self, channel: &ChannelId) {
        self.requested.remove(channel);
    }

    pub fn contains(&self, channel: &ChannelId) -> bool {
        self.requested.contains_key(channel)
    }

    /// How many channels are tracked.
    pub fn count(&self) -> usize {
        self.requested.len()
    }

    /// The tracked channels, in no particular order.
    pub fn channels(&self) -> Vec<ChannelId> {
        self.requested.keys().cloned().collect()
    }

    pub fn set_all_live(&self, live: bool) {
        for subscription in self.requested.values() {
            subscription.live.send_replace(live);
        }
    }

    /// Notes the newest id of each channel whose position is not known yet, in one round
    /// trip.
    pub async fn ensure_baselines(
        &mut self,
        log: &dyn ChannelLog,
        channels: &[ChannelId],
    ) -> Result<(), BusError> {
        let unknown: Vec<ChannelId> = channels
            .iter()
            .filter(|c| self.requested.get(*c).is_some_and(|s| s.last.is_none()))
            .cloned()
            .collect();
        let baselines = log.positions(&unknown).await?;
        for (channel, baseline) in unknown.iter().zip(baselines) {
            if let Some(subscription) = self.requested.get_mut(channel) {
                subscription.last = Some(baseline);
            }
        }
        Ok(())
    }

    /// Flips the channels' watches to live (or back).
    pub fn set_live(&self, channels: &[ChannelId], live: bool) {
        for channel in channels {
            if let Some(subscription) = self.requested.get(channel) {
                subscription.live.send_replace(live);
            }
        }
    }

    /// Delivers what the channel's stream holds after the last id delivered.
    pub async fn backfill(
        &mut self,
        log: &dyn ChannelLog,
        channel: &ChannelId,
    ) -> Result<(), BusError> {
        let Some(last) = self.requested.get(channel).and_then(|s| s.last.clone()) else {
            return Ok(());
        };
        let history = log.history_since(channel, &last).await?;
        if !history.recovered {
            log::warn!(channel:% = channel; "Messages were lost while the subscription was down; members must resume.");
            if let Some(subscription) = self.requested.get_mut(channel) {
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
        let Some(subscription) = self.requested.get_mut(channel) else {
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
