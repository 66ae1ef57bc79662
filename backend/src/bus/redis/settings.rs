//! What the Redis bus is configured with: which Redis (one server or a cluster) and how
//! patient to be with it.

use std::time::Duration;

/// Which Redis the bus talks to. The URLs are `redis://` or `rediss://` (TLS), with
/// `user:password@` for AUTH.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// One Redis server (possibly with replicas behind a failover endpoint).
    Single { url: String },
    /// A Redis Cluster: `seeds` are any of its nodes; the rest is learned from them.
    Cluster { seeds: Vec<String> },
}

/// Settings of the Redis bus.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub target: RedisTarget,
    /// PEM roots to trust for `rediss://` instead of the system's.
    pub ca_cert: Option<Vec<u8>>,
    /// Where access tokens come from when a cluster authenticates with IAM (Memorystore
    /// for Redis Cluster's `AUTH_MODE_IAM_AUTH`): each new node connection sends
    /// `AUTH <token>`. `None`: the URLs' own credentials, if any.
    pub iam_token_url: Option<String>,
    /// Connections in the command pool (one Redis; a cluster has one per primary).
    pub pool_size: usize,
    /// Longest a single command may take before its caller is told `unavailable`.
    pub command_timeout: Duration,
    /// How long a connection stays present without a refresh.
    pub presence_ttl: Duration,
    /// How often the subscriber connection is pinged to find out it hangs.
    pub subscriber_ping: Duration,
    /// Replicas that must have a message before it is acked: `None` = as many as answer
    /// (at most one), `Some(0)` = never wait.
    pub wait_replicas: Option<usize>,
    /// Longest wait for them; past it the send is answered `not_confirmed` (stored, but a
    /// failover could still lose it).
    pub wait_timeout: Duration,
}
