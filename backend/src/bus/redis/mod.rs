//! The Redis bus: any number of stateless instances share one Redis.
//!
//! - A channel's messages live in a stream (`XADD`, oldest trimmed with `XDEL`); entry
//!   ids are message ids. The history's epoch is the name of the stream's consumer group,
//!   so it exists exactly as long as the stream does.
//! - One Lua script stores and publishes each message, so ids and delivery order agree.
//! - Each instance holds one pub/sub connection (`subscriber`), subscribed to a channel
//!   only while it has local members there, and a small pool for commands (`commands`).
//! - Presence is a sorted set per channel scored by expiry; instances refresh their own
//!   connections, so a crashed instance's entries vanish after the presence TTL.

pub mod cluster;
mod commands;
pub mod events;
pub mod keys;
mod scripts;
mod subscriber;
mod tracked;

use std::sync::Arc;

use async_trait::async_trait;
use protocol::{ChannelId, ChatMessage, ClientId, Epoch, MessageId};
use tokio::sync::{mpsc, watch};

pub use self::commands::RedisSettings;
use self::{
    cluster::{
        nodes::{CommandConnections, NodeConnector},
        router::Router,
        subscriber::ClusterSubscriber,
        topology::Topology,
    },
    commands::RedisCommands,
    subscriber::Command,
};
use super::{Bus, BusError, ChannelPolicy, ConnKey, EventSink, History, Resume, Roster};
use crate::metrics::Metrics;

pub struct RedisBus {
    commands: Arc<RedisCommands>,
    /// Requests to the subscriber task, in the order the hub made them.
    subscriber: mpsc::UnboundedSender<Command>,
    /// Whether the subscriber connection is up; an instance without it is not ready.
    subscriber_up: watch::Receiver<bool>,
}

impl RedisBus {
    /// Sets up the pool and starts the subscriber task. Does not wait for Redis: an instance
    /// that starts while Redis is away reports not ready and catches up when it is back.
    pub fn start(
        settings: RedisSettings,
        policy: ChannelPolicy,
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BusError> {
        // rustls is built without a default crypto provider; ring is the one we ship. An
        // error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = settings.client()?;
        let commands = Arc::new(RedisCommands::new(settings, policy)?);
        tokio::spawn(watch_replicas(Arc::downgrade(&commands)));
        let (requests, queue) = mpsc::unbounded_channel();
        let (up, subscriber_up) = watch::channel(false);
        tokio::spawn(
            subscriber::Subscriber::new(client, commands.clone(), queue, sink, up, metrics).run(),
        );
        Ok(Self {
            commands,
            subscriber: requests,
            subscriber_up,
        })
    }
}

impl RedisBus {
    /// The same bus on a Redis Cluster: every key and the (sharded) pub/sub channel of one
    /// chat channel live on one shard, commands follow the slot map, and events travel by
    /// `SPUBLISH`/`SSUBSCRIBE`. `seeds` are any of the cluster's nodes.
    pub fn start_cluster(
        seeds: &[String],
        settings: RedisSettings,
        policy: ChannelPolicy,
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BusError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (connector, seed_addrs) =
            NodeConnector::new(seeds, settings.ca_cert.clone(), settings.command_timeout)?;
        let connector = Arc::new(connector);
        let topology = Topology::start(seed_addrs, CommandConnections::new(connector.clone()));
        let commands = Arc::new(RedisCommands::cluster(
            Router::new(topology.clone()),
            settings,
            policy,
        ));
        tokio::spawn(watch_replicas(Arc::downgrade(&commands)));
        let (requests, queue) = mpsc::unbounded_channel();
        let (up, subscriber_up) = watch::channel(false);
        tokio::spawn(
            ClusterSubscriber::new(
                topology,
                connector,
                commands.clone(),
                queue,
                sink,
                up,
                metrics,
            )
            .run(),
        );
        Ok(Self {
            commands,
            subscriber: requests,
            subscriber_up,
        })
    }
}

/// How often the bus re-learns how many replicas the primaries have.
const REPLICA_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps the number of replicas acks wait for current, for as long as the bus exists.
async fn watch_replicas(commands: std::sync::Weak<RedisCommands>) {
    loop {
        let Some(commands) = commands.upgrade() else {
            return;
        };
        let pause = match commands.refresh_replicas().await {
            Ok(()) => REPLICA_CHECK,
            // Redis not reachable yet (starting, failing over): look again soon.
            Err(_) => REPLICA_CHECK / 5,
        };
        drop(commands);
        tokio::time::sleep(pause).await;
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn subscribe(&self, channel: &ChannelId) -> watch::Receiver<bool> {
        let (live, receiver) = watch::channel(false);
        // If the subscriber task is gone the watch never turns true and joiners time out
        // with `unavailable`, which is the truth.
        let _ = self
            .subscriber
            .send(Command::Subscribe(channel.clone(), live));
        receiver
    }

    fn unsubscribe(&self, channel: &ChannelId) {
        let _ = self.subscriber.send(Command::Unsubscribe(channel.clone()));
    }

    async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError> {
        self.commands.publish(channel, client, text, nonce).await
    }

    async fn history(
        &self,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
    ) -> Result<History, BusError> {
        self.commands.history(channel, resume, limit).await
    }

    async fn history_after(
        &self,
        channel: &ChannelId,
        after: MessageId,
        epoch: &Epoch,
        limit: usize,
    ) -> Result<Option<Vec<ChatMessage>>, BusError> {
        self.commands
            .history_after(channel, after, epoch, limit)
            .await
    }

    async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        self.commands.join_presence(channel, client, conn).await
    }

    async fn leave_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<(), BusError> {
        self.commands.leave_presence(channel, client, conn).await
    }

    async fn refresh_presence(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError> {
        self.commands.refresh_presence(channel, members).await
    }

    async fn check_ready(&self) -> Result<(), BusError> {
        self.commands.ping().await?;
        if *self.subscriber_up.borrow() {
            Ok(())
        } else {
            Err(BusError::Unavailable(
                "the pub/sub connection is down; reconnecting".into(),
            ))
        }
    }
}
