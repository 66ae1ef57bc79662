//! The Redis bus: any number of stateless instances share one Redis, or one Redis Cluster.
//!
//! - A channel's messages live in a stream (`XADD`, oldest trimmed with `XDEL`); entry
//!   ids are message ids. The history's epoch is the name of the stream's consumer group,
//!   so it exists exactly as long as the stream does.
//! - One Lua script stores and publishes each message, so ids and delivery order agree.
//! - Each instance holds its own pub/sub connection(s), subscribed to a channel only while
//!   it has local members there, and command connections (a pool, or one per primary).
//! - Presence is a sorted set per channel scored by expiry; instances refresh their own
//!   connections, so a crashed instance's entries vanish after the presence TTL. Display
//!   names sit beside it in a hash, set on join and removed with the client's last leave.
//! - Ephemeral signals (typing) are published on the same pub/sub channel, never stored.
//!
//! How the modules stack (each uses only those below it):
//! - shared: [`settings`], [`connect`] (TCP and TLS of every connection), [`iam_tokens`]
//!   (the access tokens a cluster with IAM authentication takes as passwords), [`keys`],
//!   [`scripts`], [`events`], and [`subscriptions`] (the delivery rules both subscribers
//!   follow, and the [`subscriptions::ChannelLog`] reads they need from the bus);
//! - the two targets, siblings: [`standalone`] (pool, one pub/sub connection) and
//!   [`cluster`] (slot routing, one sharded subscriber connection per primary);
//! - [`commands`]: running commands over a [`commands::source::CommandSource`] that is
//!   either target's, the replicas an ack waits for, and what subscribers read;
//! - [`engine`]: the `Bus` impl, each operation written once for both targets;
//! - here: [`RedisBus`], built for either target by one constructor.
//!
//! `RedisBus` is one type for both targets: its state is the command source, the scripts
//! and a handle on the subscriber task. It implements `Bus` itself (no layer forwards to
//! another), and `ChannelLog` for the subscriber task, which holds it only weakly so that
//! dropping the bus ends the task.

mod cluster;
mod commands;
mod connect;
mod engine;
mod events;
mod iam_tokens;
mod keys;
mod scripts;
mod settings;
mod standalone;
mod subscriptions;

use std::sync::{Arc, atomic::AtomicUsize};

use self::{
    cluster::{
        nodes::{CommandConnections, NodeConnector},
        router::Router,
        subscriber::ClusterSubscriber,
        topology::Topology,
    },
    commands::source::CommandSource,
    iam_tokens::AccessTokens,
    scripts::Scripts,
    standalone::subscriber::Subscriber,
    subscriptions::{LogHandle, SubscriberHandle, SubscriberSetup},
};
pub use self::{
    iam_tokens::METADATA_TOKEN_URL,
    settings::{RedisSettings, RedisTarget},
};
use super::{BusError, ChannelPolicy, EventSink};
use crate::metrics::Metrics;

pub struct RedisBus {
    /// The pool (one Redis) or the router (a cluster) every command runs through.
    source: CommandSource,
    scripts: Scripts,
    policy: ChannelPolicy,
    settings: RedisSettings,
    /// Replicas each ack waits for now: the setting, bounded by how many the primaries have
    /// (kept current by [`RedisBus::watch_replicas`]).
    wait_for: AtomicUsize,
    /// The subscriber task's queue and readiness.
    subscriber: SubscriberHandle,
}

/// What the subscriber task of each target is started from.
enum PubSub {
    Single(Box<redis::Client>),
    Cluster(Arc<Topology>, Arc<NodeConnector>),
}

impl RedisBus {
    /// Sets up the command connections for `settings.target` and starts the subscriber
    /// task. Does not wait for Redis: an instance that starts while Redis is away reports
    /// not ready and catches up when it is back.
    pub fn start(
        settings: RedisSettings,
        policy: ChannelPolicy,
        sink: Arc<dyn EventSink>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, BusError> {
        // rustls is built without a default crypto provider; ring is the one we ship. An
        // error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (source, pubsub) = match &settings.target {
            RedisTarget::Single { url } => {
                let client = standalone::client(url, settings.ca_cert.as_deref())?;
                let pool = standalone::command_pool(&client, &settings)?;
                (
                    CommandSource::Single(pool),
                    PubSub::Single(Box::new(client)),
                )
            }
            // Every key and the (sharded) pub/sub channel of one chat channel live on one
            // shard; commands follow the slot map, events travel by `SPUBLISH`/`SSUBSCRIBE`.
            RedisTarget::Cluster { seeds } => {
                let tokens = settings
                    .iam_token_url
                    .as_deref()
                    .map(AccessTokens::start)
                    .transpose()
                    .map_err(|e| BusError::Unavailable(format!("bad IAM token URL: {e}")))?;
                let (connector, seed_addrs) = NodeConnector::new(
                    seeds,
                    settings.ca_cert.clone(),
                    settings.command_timeout,
                    tokens,
                )?;
                let connector = Arc::new(connector);
                let connections = CommandConnections::new(connector.clone());
                let topology = Topology::start(seed_addrs, connections);
                let router = Router::new(topology.clone());
                (
                    CommandSource::Cluster(router),
                    PubSub::Cluster(topology, connector),
                )
            }
        };
        let (subscriber, requests, up) = SubscriberHandle::new();
        let ping_every = settings.subscriber_ping;
        let bus = Arc::new(Self {
            scripts: Scripts::new(source.publish_mode()),
            source,
            policy,
            settings,
            wait_for: AtomicUsize::new(0),
            subscriber,
        });
        tokio::spawn(Self::watch_replicas(Arc::downgrade(&bus)));
        let log: LogHandle = Arc::downgrade(&bus) as LogHandle;
        let setup = SubscriberSetup {
            log,
            requests,
            sink,
            up,
            metrics,
            ping_every,
        };
        match pubsub {
            PubSub::Single(client) => tokio::spawn(Subscriber::new(*client, setup).run()),
            PubSub::Cluster(topology, connector) => {
                tokio::spawn(ClusterSubscriber::new(topology, connector, setup).run())
            }
        };
        Ok(bus)
    }
}
