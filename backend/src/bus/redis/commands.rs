//! Everything the Redis bus asks of Redis through its command pool.
//!
//! Shared by the bus (sends, history, presence) and the subscriber (baselines and backfill
//! after a reconnect), so both read history the same way.

use std::{future::Future, time::Duration};

use deadpool_redis::{Pool, Runtime};
use protocol::{
    ChannelId, ChatMessage, ClientId, MessageId, frames::MAX_WELCOME_ONLINE, time::rfc3339_millis,
};

use super::{
    keys::ChannelKeys,
    scripts::{Publish, Scripts},
};
use crate::bus::{BusError, ChannelPolicy, ConnKey, History, Roster};

/// Settings of the Redis bus.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS), with `user:password@` for AUTH.
    pub url: String,
    /// PEM roots to trust for `rediss://` instead of the system's.
    pub ca_cert: Option<Vec<u8>>,
    pub pool_size: usize,
    /// Longest a single command may take before its caller is told `unavailable`.
    pub command_timeout: Duration,
    /// How long a connection stays present without a refresh.
    pub presence_ttl: Duration,
    /// How often the subscriber connection is pinged to find out it hangs.
    pub subscriber_ping: Duration,
}

impl RedisSettings {
    /// A client for `url`, trusting `ca_cert` when given.
    pub fn client(&self) -> Result<redis::Client, BusError> {
        let bad_url = |e: redis::RedisError| BusError::Unavailable(format!("bad REDIS_URL: {e}"));
        match &self.ca_cert {
            None => redis::Client::open(self.url.as_str()).map_err(bad_url),
            Some(pem) => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )
            .map_err(bad_url),
        }
    }
}

/// Where commands run: a pool of connections to one Redis, or the cluster connection, which
/// is multiplexed per node and routes each command (by its first key) to the slot's owner,
/// following MOVED/ASK redirects itself — a pool on top of it would add nothing.
enum Source {
    Pool(Pool),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// A connection from either source, usable wherever redis-rs takes one.
pub enum Conn {
    Pooled(deadpool_redis::Connection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Pooled(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Pooled(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Pooled(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

pub struct RedisCommands {
    source: Source,
    scripts: Scripts,
    policy: ChannelPolicy,
    settings: RedisSettings,
}

/// A stream entry as returned by XRANGE: id and flat field/value pairs.
type Entry = (String, Vec<String>);

impl RedisCommands {
    /// Creates the pool; connections are opened on first use, so Redis may be away now.
    pub fn new(settings: RedisSettings, policy: ChannelPolicy) -> Result<Self, BusError> {
        // The client carries the TLS roots; the pool's manager is built from its connection
        // info so pooled connections trust the same CA as the subscriber.
        let client = settings.client()?;
        let manager = deadpool_redis::Manager::new(client.get_connection_info().clone())
            .map_err(|e| BusError::Unavailable(format!("bad REDIS_URL: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.command_timeout))
            .create_timeout(Some(settings.command_timeout))
            // Recycling pings the connection; a hung one must be dropped (and a fresh one
            // made) well within the command timeout.
            .recycle_timeout(Some(settings.command_timeout / 4))
            .build()
            .map_err(|e| BusError::Unavailable(format!("cannot create the Redis pool: {e}")))?;
        Ok(Self {
            source: Source::Pool(pool),
            scripts: Scripts::new(Publish::Plain),
            policy,
            settings,
        })
    }

    /// Commands over a Redis Cluster connection; messages are published with `SPUBLISH`
    /// (sharded pub/sub) so each stays on its channel's shard.
    pub fn cluster(
        connection: redis::cluster_async::ClusterConnection,
        settings: RedisSettings,
        policy: ChannelPolicy,
    ) -> Self {
        Self {
            source: Source::Cluster(connection),
            scripts: Scripts::new(Publish::Sharded),
            policy,
            settings,
        }
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// Runs one command on a pooled connection within the command timeout.
    async fn with_connection<T, F, Fut>(&self, command: F) -> Result<T, BusError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let connection = match &self.source {
                Source::Pool(pool) => Conn::Pooled(
                    pool.get()
                        .await
                        .map_err(|e| BusError::Unavailable(e.to_string()))?,
                ),
                Source::Cluster(connection) => Conn::Cluster(connection.clone()),
            };
            command(connection).await.map_err(|e| {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    BusError::Unavailable(e.to_string())
                } else {
                    BusError::Protocol(e.to_string())
                }
            })
        };
        tokio::time::timeout(self.settings.command_timeout, work)
            .await
            .unwrap_or_else(|_| Err(BusError::Unavailable("Redis command timed out".into())))
    }

    pub async fn publish(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        text: &str,
        nonce: Option<&str>,
    ) -> Result<MessageId, BusError> {
        let keys = ChannelKeys::new(channel);
        let id: String = self
            .with_connection(|mut c| async move {
                let mut call = self.scripts.publish.key(keys.log());
                if let Some(nonce) = nonce {
                    call.key(keys.nonce(client, nonce));
                }
                call.arg(self.policy.history_max)
                    .arg(keys.events())
                    .arg(client.as_str())
                    .arg(text)
                    .arg(self.policy.dedupe_window.as_millis() as u64)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        parse_id(&id)
    }

    pub async fn history(
        &self,
        channel: &ChannelId,
        since: Option<MessageId>,
    ) -> Result<History, BusError> {
        let keys = ChannelKeys::new(channel);
        let since = since.map(|s| s.to_string()).unwrap_or_default();
        let (recovered, entries): (u8, Vec<Entry>) = self
            .with_connection(|mut c| async move {
                self.scripts
                    .history
                    .key(keys.log())
                    .arg(since)
                    .arg(self.policy.history_limit)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let recovered = recovered == 1;
        let mut messages = entries
            .into_iter()
            .map(|entry| message_from_entry(channel, entry))
            .collect::<Result<Vec<_>, _>>()?;
        if !recovered {
            // The script returns the recent window newest first.
            messages.reverse();
        }
        Ok(History {
            messages,
            recovered,
        })
    }

    /// The id of the channel's newest message, or zero when it has none.
    pub async fn last_id(&self, channel: &ChannelId) -> Result<MessageId, BusError> {
        let keys = ChannelKeys::new(channel);
        let newest: Vec<Entry> = self
            .with_connection(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(keys.log())
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        newest
            .first()
            .map_or(Ok(MessageId::ZERO), |(id, _)| parse_id(id))
    }

    pub async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        let keys = ChannelKeys::new(channel);
        let (online_count, online): (u64, Vec<String>) = self
            .with_connection(|mut c| async move {
                self.scripts
                    .presence_join
                    .key(keys.online())
                    .key(keys.connections(client))
                    .arg(client.as_str())
                    .arg(conn.as_str())
                    .arg(self.settings.presence_ttl.as_millis() as u64)
                    .arg(keys.events())
                    .arg(MAX_WELCOME_ONLINE)
                    .arg(keys.connections_prefix())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(Roster {
            online: online
                .iter()
                .filter_map(|id| ClientId::parse(id).ok())
                .collect(),
            online_count,
        })
    }

    pub async fn leave_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<(), BusError> {
        let keys = ChannelKeys::new(channel);
        let _: u8 = self
            .with_connection(|mut c| async move {
                self.scripts
                    .presence_leave
                    .key(keys.online())
                    .key(keys.connections(client))
                    .arg(client.as_str())
                    .arg(conn.as_str())
                    .arg(keys.events())
                    .arg(keys.connections_prefix())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    pub async fn refresh_presence(
        &self,
        channel: &ChannelId,
        members: &[(ClientId, ConnKey)],
    ) -> Result<(), BusError> {
        if members.is_empty() {
            return Ok(());
        }
        let keys = ChannelKeys::new(channel);
        let _: u64 = self
            .with_connection(|mut c| async move {
                let mut call = self.scripts.presence_refresh.key(keys.online());
                call.arg(self.settings.presence_ttl.as_millis() as u64)
                    .arg(keys.events())
                    .arg(keys.connections_prefix());
                for (client, conn) in members {
                    call.key(keys.connections(client))
                        .arg(client.as_str())
                        .arg(conn.as_str());
                }
                call.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        let pong: String = self
            .with_connection(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(BusError::Protocol(format!("PING answered {pong}")))
        }
    }
}

fn parse_id(id: &str) -> Result<MessageId, BusError> {
    id.parse()
        .map_err(|_| BusError::Protocol(format!("bad stream id {id}")))
}

fn message_from_entry(channel: &ChannelId, (id, fields): Entry) -> Result<ChatMessage, BusError> {
    let id = parse_id(&id)?;
    let field = |name: &str| {
        fields
            .chunks_exact(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .ok_or_else(|| BusError::Protocol(format!("entry {id} has no field {name}")))
    };
    Ok(ChatMessage {
        id,
        channel_id: channel.clone(),
        client_id: ClientId::parse(&field("c")?)
            .map_err(|e| BusError::Protocol(format!("entry {id}: bad client id: {e}")))?,
        time: rfc3339_millis(id.millis),
        message: field("m")?,
    })
}
