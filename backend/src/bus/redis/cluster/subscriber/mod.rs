//! Sharded pub/sub on a Redis Cluster: at most one subscriber connection per primary, each
//! subscribed (`SSUBSCRIBE`) to the channels of its slots that have local members.
//!
//! One task owns every subscriber connection; requests from the hub arrive on a queue in
//! the order the hub made them. Each connection's pushes (messages, subscription changes,
//! its own loss) come to the task tagged with the connection they came from, so a push from
//! a connection that was already replaced is ignored.
//!
//! A channel's subscription moves when its slot does:
//! - the node drops it (`SUNSUBSCRIBE` push: the slot was migrated) or the connection is
//!   lost (the primary died; its replica takes over): the channel stops being live, the slot
//!   map is re-read, and the channel is subscribed again on its owner;
//! - a periodic check also moves any channel whose owner, per the slot map, is no longer the
//!   node it is subscribed on, and pings every connection (a socket can hang without error).
//!
//! After every (re)subscription the channel is backfilled from its stream after the last id
//! delivered (`bus::redis::subscriptions`), so moving loses and repeats nothing.
//!
//! Subscriptions are batched like the single-Redis subscriber's: every subscribe already
//! queued is taken at once, and the channels of one node are subscribed in one round trip
//! ([`connections`]). This module places channels on nodes; `connections` owns the
//! connections themselves.

mod connections;

use std::{collections::HashMap, sync::Arc, time::Duration};

use protocol::ChannelId;
use redis::{PushKind, Value};
use tokio::sync::{mpsc, watch};

use self::connections::{Push, ShardConnections, text};
use super::{
    nodes::{NodeAddr, NodeConnector},
    slot::key_slot,
    topology::Topology,
};
use crate::{
    bus::redis::{
        keys::{ChannelKeys, channel_of_events},
        subscriptions::{LogHandle, Request, SubscriberSetup, Subscriptions, take_subscribes},
    },
    metrics::Metrics,
};

/// How often subscriptions are checked against the slot map and stalled ones retried.
const CHECK_EVERY: Duration = Duration::from_millis(500);

pub struct ClusterSubscriber {
    topology: Arc<Topology>,
    log: LogHandle,
    requests: mpsc::UnboundedReceiver<Request>,
    connections: ShardConnections,
    pushes: mpsc::UnboundedReceiver<Push>,
    /// Whether the cluster answers and every slot has an owner, for `/readyz`.
    up: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    ping_every: Duration,
    /// The node each live channel is subscribed on.
    placed: HashMap<ChannelId, NodeAddr>,
    channels: Subscriptions,
}

impl ClusterSubscriber {
    pub fn new(
        topology: Arc<Topology>,
        connector: Arc<NodeConnector>,
        setup: SubscriberSetup,
    ) -> Self {
        let (connections, pushes) = ShardConnections::new(connector);
        Self {
            topology,
            log: setup.log,
            requests: setup.requests,
            connections,
            pushes,
            up: setup.up,
            metrics: setup.metrics,
            ping_every: setup.ping_every,
            placed: HashMap::new(),
            channels: Subscriptions::new(setup.sink),
        }
    }

    pub async fn run(mut self) {
        let mut check = tokio::time::interval(CHECK_EVERY);
        let ping_every = self.ping_every;
        let mut ping = tokio::time::interval(ping_every);
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => return,
                    Some(Request::Subscribe(channel, live)) => {
                        let (batch, after) = take_subscribes(&mut self.requests, (channel, live));
                        let channels = self.channels.add_all(batch);
                        self.subscribe(&channels).await;
                        if let Some(channel) = after {
                            self.unsubscribe(&channel).await;
                        }
                    }
                    Some(Request::Unsubscribe(channel)) => self.unsubscribe(&channel).await,
                },
                Some(push) = self.pushes.recv() => self.on_push(push),
                _ = check.tick() => self.check().await,
                _ = ping.tick() => self.ping_all(ping_every).await,
            }
        }
    }

    fn slot_of(channel: &ChannelId) -> u16 {
        key_slot(ChannelKeys::new(channel).events().as_bytes())
    }

    /// Subscribes `channels` on the primaries serving their slots (one round trip per
    /// primary), then backfills each and marks it live. Those that fail stay not live and
    /// the periodic check tries them again.
    async fn subscribe(&mut self, channels: &[ChannelId]) {
        let Some(log) = self.log.upgrade() else {
            // The bus is gone; the request queue closes with it and ends the task.
            return;
        };
        if let Err(e) = self.channels.ensure_baselines(&*log, channels).await {
            log::warn!(channels = channels.len(), error:% = e; "Cannot read the channels' positions; will retry.");
            return;
        }
        for (node, channels) in self.by_owner(channels).await {
            let names: Vec<String> = channels
                .iter()
                .map(|c| ChannelKeys::new(c).events())
                .collect();
            if let Err(e) = self.connections.subscribe(&node, &names).await {
                log::warn!(channels = channels.len(), node:% = node, error:% = e; "Shard subscription failed; will retry.");
                self.drop_node_if_broken(&node, &e);
                self.topology.refresh_soon();
                continue;
            }
            for channel in channels {
                self.placed.insert(channel.clone(), node.clone());
                match self.channels.backfill(&*log, &channel).await {
                    Ok(()) => self.channels.set_live(std::slice::from_ref(&channel), true),
                    Err(e) => {
                        // Subscribed but not caught up: not live; the check backfills again.
                        log::warn!(channel:% = channel, error:% = e; "Backfill failed; will retry.");
                        self.placed.remove(&channel);
                    }
                }
            }
        }
    }

    /// The channels grouped by the primary serving them, reading the slot map first if it
    /// misses one of them; channels without an owner, or whose owner is backing off, are
    /// left out.
    async fn by_owner(&self, channels: &[ChannelId]) -> HashMap<NodeAddr, Vec<ChannelId>> {
        let mut map = self.topology.map();
        if channels
            .iter()
            .any(|c| map.owner(Self::slot_of(c)).is_none())
        {
            let _ = self.topology.refresh().await;
            map = self.topology.map();
        }
        let mut by_owner: HashMap<NodeAddr, Vec<ChannelId>> = HashMap::new();
        for channel in channels {
            if let Some(owner) = map.owner(Self::slot_of(channel))
                && !self.connections.backing_off(owner)
            {
                by_owner
                    .entry(owner.clone())
                    .or_default()
                    .push(channel.clone());
            }
        }
        by_owner
    }

    /// The channel's last local member left.
    async fn unsubscribe(&mut self, channel: &ChannelId) {
        self.channels.remove(channel);
        if let Some(node) = self.placed.remove(channel) {
            self.unsubscribe_on(&node, channel).await;
        }
    }

    /// Ends the channel's subscription on `node`; a connection that fails doing so is
    /// dropped.
    async fn unsubscribe_on(&mut self, node: &NodeAddr, channel: &ChannelId) {
        let name = ChannelKeys::new(channel).events();
        if let Some(e) = self.connections.unsubscribe(node, name, CHECK_EVERY).await {
            self.drop_node_if_broken(node, &e);
        }
    }

    /// Forgets a connection that failed (not one that merely got a server error), with every
    /// channel subscribed on it: they are subscribed again where their slots now live.
    fn drop_node_if_broken(&mut self, node: &NodeAddr, error: &redis::RedisError) {
        if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
            self.drop_node(node);
        }
    }

    fn drop_node(&mut self, node: &NodeAddr) {
        if !self.connections.remove(node) {
            return;
        }
        self.metrics.redis_reconnect();
        let moved: Vec<ChannelId> = self
            .placed
            .iter()
            .filter(|(_, at)| *at == node)
            .map(|(c, _)| c.clone())
            .collect();
        for channel in moved {
            self.unplace(&channel);
        }
        self.topology.refresh_soon();
    }

    /// The channel is no longer subscribed anywhere: joiners wait until it is again.
    fn unplace(&mut self, channel: &ChannelId) {
        self.placed.remove(channel);
        self.channels.set_live(std::slice::from_ref(channel), false);
    }

    fn on_push(&mut self, push: Push) {
        if !self.connections.is_current(&push) {
            return;
        }
        let name = push.info.data.first().and_then(text).map(str::to_owned);
        match push.info.kind {
            PushKind::SMessage => {
                if let (Some(name), Some(Value::BulkString(payload))) =
                    (name, push.info.data.get(1))
                {
                    self.channels.on_payload(&name, payload);
                }
            }
            PushKind::SUnsubscribe => {
                // Ours (the hub's unsubscribe) find the channel no longer tracked; any other
                // means the node gave up the slot.
                if let Some(channel) = name.as_deref().and_then(channel_of_events)
                    && self.channels.contains(&channel)
                    && self.placed.get(&channel) == Some(&push.node)
                {
                    log::info!(channel:% = channel, node:% = push.node; "A node dropped a shard subscription; moving it.");
                    self.unplace(&channel);
                    self.topology.refresh_soon();
                }
            }
            PushKind::Disconnection => {
                log::warn!(node:% = push.node; "Subscriber connection to a primary lost.");
                self.drop_node(&push.node);
            }
            _ => {}
        }
    }

    /// Moves subscriptions to where the slot map says their slots are, retries those that
    /// are not live, and closes connections to nodes no channel needs.
    async fn check(&mut self) {
        let mut map = self.topology.map();
        if !map.covers_all() {
            // Not read yet (starting) or incomplete (a shard is failing over): read it now.
            if let Err(e) = self.topology.refresh().await {
                log::warn!(error:% = e; "Cannot read the cluster's slot map.");
            }
            map = self.topology.map();
        }
        self.up.send_replace(map.covers_all());
        let misplaced: Vec<(ChannelId, NodeAddr)> = self
            .placed
            .iter()
            .filter(|(channel, at)| map.owner(Self::slot_of(channel)) != Some(*at))
            .map(|(c, at)| (c.clone(), at.clone()))
            .collect();
        for (channel, old) in misplaced {
            log::info!(channel:% = channel, node:% = old; "The channel's slot moved; moving its subscription.");
            self.unsubscribe_on(&old, &channel).await;
            self.unplace(&channel);
        }
        let stalled: Vec<ChannelId> = self
            .channels
            .channels()
            .into_iter()
            .filter(|c| !self.placed.contains_key(c))
            .collect();
        if !stalled.is_empty() {
            self.subscribe(&stalled).await;
        }
        let needed: Vec<NodeAddr> = self.placed.values().cloned().collect();
        self.connections.retain(&needed);
    }

    /// Pings every subscriber connection; one that does not answer is dropped.
    async fn ping_all(&mut self, within: Duration) {
        for node in self.connections.unanswered_pings(within).await {
            log::warn!(node:% = node; "Subscriber connection did not answer a ping; reconnecting.");
            self.drop_node(&node);
        }
    }
}
