//! The instance's one pub/sub connection.
//!
//! A single task owns it. Subscribe and unsubscribe requests arrive on a queue in the order
//! the hub made them, so a channel that empties and fills again can never end up
//! unsubscribed. The connection is dedicated (never from the command pool) and read by the
//! redis crate's own task into an unbounded buffer, so Redis never cuts it off for a full
//! output buffer while this instance is busy.
//!
//! Delivery per channel is gap-free and in id order, across reconnects:
//! - before subscribing a channel, the task notes the id of its newest message (the
//!   baseline); clients joining read history after the subscription is live, so anything
//!   between the baseline and the subscription reaches them through history;
//! - it remembers the last message id it delivered per channel and drops anything not newer;
//! - when the connection drops (or stops answering pings), it reconnects with backoff,
//!   subscribes again to every channel that still has local members, and backfills each from
//!   the stream after the last id it delivered. If the stream no longer holds that id's
//!   successors, it tells the hub, which asks the channel's clients to reconnect and resume
//!   (they then learn `recovered: false`).

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::StreamExt;
use protocol::{ChannelId, MessageId};
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, watch};

use super::{
    commands::RedisCommands,
    events,
    keys::{ChannelKeys, channel_of_events},
};
use crate::{
    bus::{BusError, BusEvent, EventSink},
    metrics::Metrics,
};

/// What the hub asks of the subscriber.
pub enum Command {
    Subscribe(ChannelId, watch::Sender<bool>),
    Unsubscribe(ChannelId),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A channel with local members.
struct Subscription {
    /// Tells the channel's joiners whether events are being delivered.
    live: watch::Sender<bool>,
    /// The newest message id delivered to the hub (or the baseline); `None` until known.
    last: Option<MessageId>,
}

pub struct Subscriber {
    client: redis::Client,
    commands: Arc<RedisCommands>,
    requests: mpsc::UnboundedReceiver<Command>,
    sink: Arc<dyn EventSink>,
    /// Whether the connection is up, for `/readyz`.
    up: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    wanted: HashMap<ChannelId, Subscription>,
}

/// Why a connected session of the subscriber ended.
enum Ended {
    ConnectionLost(String),
    BusDropped,
}

impl From<BusError> for Ended {
    fn from(e: BusError) -> Self {
        Ended::ConnectionLost(e.to_string())
    }
}

impl Subscriber {
    pub fn new(
        client: redis::Client,
        commands: Arc<RedisCommands>,
        requests: mpsc::UnboundedReceiver<Command>,
        sink: Arc<dyn EventSink>,
        up: watch::Sender<bool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            commands,
            requests,
            sink,
            up,
            metrics,
            wanted: HashMap::new(),
        }
    }

    pub async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        let mut connected_before = false;
        loop {
            match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => {
                    if connected_before {
                        self.metrics.redis_reconnect();
                    }
                    connected_before = true;
                    let (sink, stream) = pubsub.split();
                    log::info!(channels = self.wanted.len(); "Subscriber connected.");
                    match self.serve(sink, stream).await {
                        Ended::BusDropped => return,
                        Ended::ConnectionLost(why) => {
                            log::warn!(reason:% = why; "Subscriber connection lost; reconnecting.");
                        }
                    }
                    self.up.send_replace(false);
                    for subscription in self.wanted.values() {
                        subscription.live.send_replace(false);
                    }
                }
                Ok(Err(e)) => log::warn!(error:% = e; "Subscriber could not connect."),
                Err(_) => log::warn!("Subscriber connection attempt timed out."),
            }
            if !self.wait_out(backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Sleeps while still taking requests, so joins and leaves during an outage are kept.
    /// Returns false when the bus is gone.
    async fn wait_out(&mut self, pause: Duration) -> bool {
        let deadline = tokio::time::sleep(pause);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                request = self.requests.recv() => match request {
                    None => return false,
                    Some(Command::Subscribe(channel, live)) => {
                        self.wanted.insert(channel, Subscription { live, last: None });
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        self.wanted.remove(&channel);
                    }
                },
            }
        }
    }

    async fn serve(&mut self, mut sink: PubSubSink, mut stream: PubSubStream) -> Ended {
        if let Err(ended) = self.resubscribe(&mut sink).await {
            return ended;
        }
        self.up.send_replace(true);
        let ping_every = self.commands.settings().subscriber_ping;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => return Ended::BusDropped,
                    Some(Command::Subscribe(channel, live)) => {
                        if let Err(ended) = self.subscribe(&mut sink, channel, live).await {
                            return ended;
                        }
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        self.wanted.remove(&channel);
                        if let Err(e) = sink.unsubscribe(ChannelKeys::new(&channel).events()).await {
                            return Ended::ConnectionLost(e.to_string());
                        }
                    }
                },
                message = stream.next() => match message {
                    None => return Ended::ConnectionLost("the connection closed".into()),
                    Some(message) => self.on_message(&message),
                },
                _ = ping.tick() => {
                    // A socket can hang without erroring; only an answer proves it works.
                    match tokio::time::timeout(ping_every, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Ended::ConnectionLost(format!("ping failed: {e}")),
                        Err(_) => return Ended::ConnectionLost("ping not answered in time".into()),
                    }
                }
            }
        }
    }

    /// A channel's first local member arrived: note the baseline, then subscribe.
    async fn subscribe(
        &mut self,
        sink: &mut PubSubSink,
        channel: ChannelId,
        live: watch::Sender<bool>,
    ) -> Result<(), Ended> {
        // A channel is only ever subscribed while absent from `wanted`; replace defensively
        // so the newest joiners' watch is the one that gets told.
        let last = self.wanted.remove(&channel).and_then(|old| old.last);
        let subscription = self
            .wanted
            .entry(channel.clone())
            .or_insert(Subscription { live, last });
        if subscription.last.is_none() {
            subscription.last = Some(self.commands.last_id(&channel).await?);
        }
        sink.subscribe(ChannelKeys::new(&channel).events())
            .await
            .map_err(|e| Ended::ConnectionLost(e.to_string()))?;
        subscription.live.send_replace(true);
        Ok(())
    }

    /// After a (re)connect: subscribe to every wanted channel, then deliver from each
    /// stream what was published while the connection was down.
    async fn resubscribe(&mut self, sink: &mut PubSubSink) -> Result<(), Ended> {
        let channels: Vec<ChannelId> = self.wanted.keys().cloned().collect();
        let mut backfill = Vec::new();
        for channel in channels {
            let Some(subscription) = self.wanted.get_mut(&channel) else {
                continue;
            };
            match subscription.last {
                Some(last) => backfill.push((channel.clone(), last)),
                None => subscription.last = Some(self.commands.last_id(&channel).await?),
            }
            sink.subscribe(ChannelKeys::new(&channel).events())
                .await
                .map_err(|e| Ended::ConnectionLost(e.to_string()))?;
            subscription.live.send_replace(true);
        }
        for (channel, last) in backfill {
            let history = self.commands.history(&channel, Some(last)).await?;
            if !history.recovered {
                log::warn!(channel:% = channel; "Messages were lost while the subscriber was down; members must resume.");
                if let Some(newest) = history.messages.last()
                    && let Some(subscription) = self.wanted.get_mut(&channel)
                {
                    subscription.last = Some(newest.id);
                }
                self.sink.gap(&channel);
                continue;
            }
            if !history.messages.is_empty() {
                log::info!(channel:% = channel, missed = history.messages.len(); "Backfilled messages missed while reconnecting.");
            }
            for message in history.messages {
                self.deliver(&channel, BusEvent::Message(message));
            }
        }
        Ok(())
    }

    fn on_message(&mut self, message: &redis::Msg) {
        let Some(channel) = channel_of_events(message.get_channel_name()) else {
            return;
        };
        match events::decode(&channel, message.get_payload_bytes()) {
            Ok(event) => self.deliver(&channel, event),
            Err(e) => log::warn!(channel:% = channel, error:% = e; "Dropped an unreadable event."),
        }
    }

    /// Hands an event to the hub, dropping messages already delivered.
    fn deliver(&mut self, channel: &ChannelId, event: BusEvent) {
        let Some(subscription) = self.wanted.get_mut(channel) else {
            return;
        };
        if let BusEvent::Message(message) = &event {
            if subscription.last.is_some_and(|last| message.id <= last) {
                return;
            }
            subscription.last = Some(message.id);
        }
        self.sink.deliver(channel, event);
    }
}
