//! Sharded pub/sub on a Redis Cluster.
//!
//! The redis crate's cluster connection (RESP3) does the heavy lifting: one connection per
//! node, each `SSUBSCRIBE` sent to the primary that owns the channel's slot, and every
//! subscription sent again by itself after a reconnect or a topology change (failover,
//! resharding). It is used as it is: no connection of our own per shard. What it cannot
//! know is what the instance missed while a subscription was moving, so this task backfills
//! a channel from its stream whenever Redis confirms a subscription to it (see
//! [`super::tracked`]), and subscribes again itself when a node drops a subscription
//! (`SUNSUBSCRIBE` after its slot moved) or when the connection reports a disconnection.

use std::{sync::Arc, time::Duration};

use protocol::ChannelId;
use redis::{PushInfo, PushKind, Value, cluster_async::ClusterConnection};
use tokio::sync::{mpsc, watch};

use super::{
    commands::RedisCommands,
    keys::{ChannelKeys, channel_of_events},
    subscriber::Command,
    tracked::Tracked,
};
use crate::{bus::EventSink, metrics::Metrics};

pub struct ClusterSubscriber {
    connection: ClusterConnection,
    commands: Arc<RedisCommands>,
    requests: mpsc::UnboundedReceiver<Command>,
    pushes: mpsc::UnboundedReceiver<PushInfo>,
    /// Whether the cluster answers, for `/readyz`.
    up: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    channels: Tracked,
}

impl ClusterSubscriber {
    pub fn new(
        connection: ClusterConnection,
        commands: Arc<RedisCommands>,
        requests: mpsc::UnboundedReceiver<Command>,
        pushes: mpsc::UnboundedReceiver<PushInfo>,
        sink: Arc<dyn EventSink>,
        up: watch::Sender<bool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            connection,
            commands,
            requests,
            pushes,
            up,
            metrics,
            channels: Tracked::new(sink),
        }
    }

    pub async fn run(mut self) {
        let period = self.commands.settings().subscriber_ping;
        let mut tick = tokio::time::interval(period.min(Duration::from_secs(1)));
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => return,
                    Some(Command::Subscribe(channel, live)) => {
                        self.channels.want(channel.clone(), live);
                        self.subscribe(&channel).await;
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        self.channels.wanted.remove(&channel);
                        let _ = self
                            .connection
                            .sunsubscribe(ChannelKeys::new(&channel).events())
                            .await;
                    }
                },
                push = self.pushes.recv() => match push {
                    None => return,
                    Some(push) => self.on_push(push).await,
                },
                _ = tick.tick() => self.check().await,
            }
        }
    }

    /// Notes the baseline and subscribes. On failure the channel stays not live and the
    /// periodic check tries again.
    async fn subscribe(&mut self, channel: &ChannelId) {
        if let Err(e) = self.channels.ensure_baseline(&self.commands, channel).await {
            log::warn!(channel:% = channel, error:% = e; "Cannot read the channel's position; will retry.");
            return;
        }
        match self
            .connection
            .ssubscribe(ChannelKeys::new(channel).events())
            .await
        {
            // Live once Redis confirms (the `ssubscribe` push), which also backfills.
            Ok(()) => self.confirmed(channel).await,
            Err(e) => {
                log::warn!(channel:% = channel, error:% = e; "Shard subscription failed; will retry.")
            }
        }
    }

    /// A subscription is in place: deliver what may have been missed, then count as live.
    async fn confirmed(&mut self, channel: &ChannelId) {
        match self.channels.backfill(&self.commands, channel).await {
            Ok(()) => {
                if let Some(subscription) = self.channels.wanted.get(channel) {
                    subscription.live.send_replace(true);
                }
            }
            Err(e) => {
                log::warn!(channel:% = channel, error:% = e; "Backfill failed; will retry.");
                if let Some(subscription) = self.channels.wanted.get(channel) {
                    subscription.live.send_replace(false);
                }
            }
        }
    }

    async fn on_push(&mut self, push: PushInfo) {
        let channel_name = push.data.first().and_then(text).map(str::to_owned);
        match push.kind {
            PushKind::SMessage => {
                if let (Some(name), Some(Value::BulkString(payload))) =
                    (channel_name, push.data.get(1))
                {
                    self.channels.on_payload(&name, payload);
                }
            }
            // Redis (re)confirmed a subscription: the crate resubscribes after reconnects
            // and topology changes, and each confirmation may follow a gap.
            PushKind::SSubscribe => {
                if let Some(channel) = channel_name.as_deref().and_then(channel_of_events)
                    && self.channels.wanted.contains_key(&channel)
                {
                    self.confirmed(&channel).await;
                }
            }
            // A node dropped a subscription we still want: its slot moved. Subscribe again;
            // the command is routed to the slot's new owner.
            PushKind::SUnsubscribe => {
                if let Some(channel) = channel_name.as_deref().and_then(channel_of_events)
                    && let Some(subscription) = self.channels.wanted.get(&channel)
                {
                    log::info!(channel:% = channel; "Shard dropped the subscription; subscribing again.");
                    subscription.live.send_replace(false);
                    self.subscribe(&channel).await;
                }
            }
            PushKind::Disconnection => {
                log::warn!("A cluster node connection dropped; subscriptions move with it.");
                self.metrics.redis_reconnect();
                self.channels.set_all_live(false);
            }
            _ => {}
        }
    }

    /// Health and repair: is the cluster answering, and is every wanted channel live?
    async fn check(&mut self) {
        let healthy = self.commands.ping().await.is_ok();
        self.up.send_replace(healthy);
        if !healthy {
            return;
        }
        let stalled: Vec<ChannelId> = self
            .channels
            .wanted
            .iter()
            .filter(|(_, s)| !*s.live.borrow())
            .map(|(c, _)| c.clone())
            .collect();
        for channel in stalled {
            self.subscribe(&channel).await;
        }
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
