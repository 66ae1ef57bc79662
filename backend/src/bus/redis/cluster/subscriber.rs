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
//! delivered (`bus::redis::tracked`), so moving loses and repeats nothing.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use protocol::ChannelId;
use redis::{PushInfo, PushKind, Value, aio::MultiplexedConnection};
use tokio::sync::{mpsc, watch};

use super::{
    nodes::{NodeAddr, NodeConnector},
    slot::key_slot,
    topology::Topology,
};
use crate::{
    bus::{
        EventSink,
        redis::{
            commands::RedisCommands,
            keys::{ChannelKeys, channel_of_events},
            subscriber::Command,
            tracked::Tracked,
        },
    },
    metrics::Metrics,
};

/// How often subscriptions are checked against the slot map and stalled ones retried.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// After a node fails a subscription, how long its channels wait before the next attempt: a
/// node that hangs (rather than refusing) would otherwise hold this task for a connect
/// timeout per channel, delaying every other shard's messages.
const NODE_BACKOFF: Duration = Duration::from_secs(1);

/// A push, and which connection it came from.
struct Push {
    node: NodeAddr,
    connection: u64,
    info: PushInfo,
}

/// The subscriber connection to one primary.
struct NodeSubscriber {
    connection: MultiplexedConnection,
    /// Which connection this is; pushes carry it.
    id: u64,
}

pub struct ClusterSubscriber {
    topology: Arc<Topology>,
    connector: Arc<NodeConnector>,
    commands: Arc<RedisCommands>,
    requests: mpsc::UnboundedReceiver<Command>,
    pushes: mpsc::UnboundedReceiver<Push>,
    /// Given to every connection, tagged with its node and id.
    push_sender: mpsc::UnboundedSender<Push>,
    next_id: Arc<AtomicU64>,
    /// Whether the cluster answers and every slot has an owner, for `/readyz`.
    up: watch::Sender<bool>,
    metrics: Arc<Metrics>,
    nodes: HashMap<NodeAddr, NodeSubscriber>,
    /// The node each live channel is subscribed on.
    placed: HashMap<ChannelId, NodeAddr>,
    /// Nodes whose last subscription attempt failed, and when.
    failing: HashMap<NodeAddr, tokio::time::Instant>,
    channels: Tracked,
}

impl ClusterSubscriber {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topology: Arc<Topology>,
        connector: Arc<NodeConnector>,
        commands: Arc<RedisCommands>,
        requests: mpsc::UnboundedReceiver<Command>,
        sink: Arc<dyn EventSink>,
        up: watch::Sender<bool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (push_sender, pushes) = mpsc::unbounded_channel();
        Self {
            topology,
            connector,
            commands,
            requests,
            pushes,
            push_sender,
            next_id: Arc::new(AtomicU64::new(0)),
            up,
            metrics,
            nodes: HashMap::new(),
            placed: HashMap::new(),
            failing: HashMap::new(),
            channels: Tracked::new(sink),
        }
    }

    pub async fn run(mut self) {
        let mut check = tokio::time::interval(CHECK_EVERY);
        let ping_every = self.commands.settings().subscriber_ping;
        let mut ping = tokio::time::interval(ping_every);
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => return,
                    Some(Command::Subscribe(channel, live)) => {
                        self.channels.want(channel.clone(), live);
                        self.subscribe(&channel).await;
                    }
                    Some(Command::Unsubscribe(channel)) => self.unsubscribe(&channel).await,
                },
                Some(push) = self.pushes.recv() => self.on_push(push).await,
                _ = check.tick() => self.check().await,
                _ = ping.tick() => self.ping_all(ping_every).await,
            }
        }
    }

    fn slot_of(channel: &ChannelId) -> u16 {
        key_slot(ChannelKeys::new(channel).events().as_bytes())
    }

    /// Subscribes `channel` on the primary serving its slot, then backfills it and marks
    /// it live. On failure it stays not live and the periodic check tries again.
    async fn subscribe(&mut self, channel: &ChannelId) {
        if let Err(e) = self.channels.ensure_baseline(&self.commands, channel).await {
            log::warn!(channel:% = channel, error:% = e; "Cannot read the channel's position; will retry.");
            return;
        }
        let slot = Self::slot_of(channel);
        let owner = match self.topology.owner(slot) {
            Some(owner) => owner,
            None => {
                let _ = self.topology.refresh().await;
                match self.topology.owner(slot) {
                    Some(owner) => owner,
                    None => return,
                }
            }
        };
        if self
            .failing
            .get(&owner)
            .is_some_and(|at| at.elapsed() < NODE_BACKOFF)
        {
            return;
        }
        let name = ChannelKeys::new(channel).events();
        let result = match self.node(&owner).await {
            Ok(mut connection) => subscribe_command(&mut connection, "SSUBSCRIBE", &name).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            log::warn!(channel:% = channel, node:% = owner, error:% = e; "Shard subscription failed; will retry.");
            self.failing
                .insert(owner.clone(), tokio::time::Instant::now());
            self.drop_node_if_broken(&owner, &e);
            self.topology.refresh_soon();
            return;
        }
        self.failing.remove(&owner);
        self.placed.insert(channel.clone(), owner);
        match self.channels.backfill(&self.commands, channel).await {
            Ok(()) => {
                if let Some(subscription) = self.channels.wanted.get(channel) {
                    subscription.live.send_replace(true);
                }
            }
            Err(e) => {
                // Subscribed but not caught up: not live; the check backfills again.
                log::warn!(channel:% = channel, error:% = e; "Backfill failed; will retry.");
                self.placed.remove(channel);
            }
        }
    }

    async fn unsubscribe(&mut self, channel: &ChannelId) {
        self.channels.wanted.remove(channel);
        if let Some(node) = self.placed.remove(channel)
            && let Some(subscriber) = self.nodes.get(&node)
        {
            let mut connection = subscriber.connection.clone();
            let name = ChannelKeys::new(channel).events();
            if let Err(e) = subscribe_command(&mut connection, "SUNSUBSCRIBE", &name).await {
                self.drop_node_if_broken(&node, &e);
            }
        }
    }

    /// The subscriber connection to `node`, made if there is none.
    async fn node(&mut self, node: &NodeAddr) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(subscriber) = self.nodes.get(node) {
            return Ok(subscriber.connection.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sender = self.push_sender.clone();
        let tag = node.clone();
        let pushes = move |info: PushInfo| {
            sender.send(Push {
                node: tag.clone(),
                connection: id,
                info,
            })
        };
        let connection = self.connector.subscriber_connection(node, pushes).await?;
        log::info!(node:% = node; "Subscriber connected to a primary.");
        self.nodes.insert(
            node.clone(),
            NodeSubscriber {
                connection: connection.clone(),
                id,
            },
        );
        Ok(connection)
    }

    /// Forgets a connection that failed (not one that merely got a server error), with every
    /// channel subscribed on it: they are subscribed again where their slots now live.
    fn drop_node_if_broken(&mut self, node: &NodeAddr, error: &redis::RedisError) {
        if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
            self.drop_node(node);
        }
    }

    fn drop_node(&mut self, node: &NodeAddr) {
        if self.nodes.remove(node).is_none() {
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
        if let Some(subscription) = self.channels.wanted.get(channel) {
            subscription.live.send_replace(false);
        }
    }

    async fn on_push(&mut self, push: Push) {
        let current = self
            .nodes
            .get(&push.node)
            .is_some_and(|n| n.id == push.connection);
        if !current {
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
                // Ours (the hub's unsubscribe) find the channel unwanted; any other means the
                // node gave up the slot.
                if let Some(channel) = name.as_deref().and_then(channel_of_events)
                    && self.channels.wanted.contains_key(&channel)
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
            if let Some(subscriber) = self.nodes.get(&old) {
                let mut connection = subscriber.connection.clone();
                let name = ChannelKeys::new(&channel).events();
                let _ = tokio::time::timeout(
                    CHECK_EVERY,
                    subscribe_command(&mut connection, "SUNSUBSCRIBE", &name),
                )
                .await;
            }
            self.unplace(&channel);
        }
        let stalled: Vec<ChannelId> = self
            .channels
            .wanted
            .keys()
            .filter(|c| !self.placed.contains_key(*c))
            .cloned()
            .collect();
        for channel in stalled {
            self.subscribe(&channel).await;
        }
        let needed: Vec<NodeAddr> = self.placed.values().cloned().collect();
        self.nodes.retain(|node, _| needed.contains(node));
    }

    /// Pings every subscriber connection; one that does not answer is dropped.
    async fn ping_all(&mut self, within: Duration) {
        let nodes: Vec<(NodeAddr, MultiplexedConnection)> = self
            .nodes
            .iter()
            .map(|(n, s)| (n.clone(), s.connection.clone()))
            .collect();
        for (node, mut connection) in nodes {
            let answered = tokio::time::timeout(
                within,
                redis::cmd("PING").query_async::<Value>(&mut connection),
            )
            .await;
            let healthy = matches!(answered, Ok(Ok(Value::SimpleString(ref s))) if s == "PONG");
            if !healthy {
                log::warn!(node:% = node; "Subscriber connection did not answer a ping; reconnecting.");
                self.drop_node(&node);
            }
        }
    }
}

/// `SSUBSCRIBE`/`SUNSUBSCRIBE` of one channel. Its confirmation push is the reply; a reply
/// that is not that confirmation (an unrelated push taken for it) is an error, so the
/// connection is replaced rather than trusted.
async fn subscribe_command(
    connection: &mut MultiplexedConnection,
    command: &str,
    channel: &str,
) -> redis::RedisResult<()> {
    let reply: Value = redis::cmd(command)
        .arg(channel)
        .query_async(connection)
        .await?;
    let confirmed = match &reply {
        Value::Push { kind, data } => {
            kind.to_string().eq_ignore_ascii_case(command)
                && data.first().and_then(text) == Some(channel)
        }
        _ => false,
    };
    if confirmed {
        Ok(())
    } else {
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "unexpected subscription confirmation",
            format!("{reply:?}"),
        )))
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
