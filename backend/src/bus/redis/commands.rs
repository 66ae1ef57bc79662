//! Everything the Redis bus asks of Redis through its command pool.
//!
//! Shared by the bus (sends, history, presence) and the subscriber (baselines and backfill
//! after a reconnect), so both read history the same way.

use std::{future::Future, time::Duration};

use deadpool_redis::{Pool, Runtime};
use protocol::{
    ChannelId, ChatMessage, ClientId, Epoch, MessageId, frames::MAX_WELCOME_ONLINE,
    time::rfc3339_millis,
};

use super::{
    cluster::router::{NodeConn, Router},
    keys::ChannelKeys,
    scripts::{Publish, Scripts},
};
use crate::bus::{BusError, ChannelPolicy, ConnKey, History, Resume, Roster, epoch};

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
    /// Replicas that must have a message before it is acked: `None` = as many as answer
    /// (at most one), `Some(0)` = never wait.
    pub wait_replicas: Option<usize>,
    /// Longest wait for them; past it the send is answered `not_confirmed` (stored, but a
    /// failover could still lose it).
    pub wait_timeout: Duration,
}

impl RedisSettings {
    /// A client for `url`, trusting `ca_cert` when given, with Nagle off: a publish is a
    /// small write that must not wait for the previous one's ACK (it cost acks ~40 ms).
    pub fn client(&self) -> Result<redis::Client, BusError> {
        use redis::IntoConnectionInfo;
        let bad_url = |e: redis::RedisError| BusError::Unavailable(format!("bad REDIS_URL: {e}"));
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(bad_url)?
            .set_tcp_settings(no_delay());
        match &self.ca_cert {
            None => redis::Client::open(info).map_err(bad_url),
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )
            .map_err(bad_url),
        }
    }
}

/// Where commands run: a pool of connections to one Redis, or the cluster router, which
/// sends each command to the primary serving its key over that node's one multiplexed
/// connection — a pool on top of it would add nothing.
enum Source {
    Pool(Pool),
    Cluster(Router),
}

/// A connection from either source, usable wherever redis-rs takes one.
pub enum Conn {
    Pooled(deadpool_redis::Connection),
    Node(NodeConn),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Pooled(c) => c.req_packed_command(cmd),
            Conn::Node(c) => c.req_packed_command(cmd),
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
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Pooled(c) => c.get_db(),
            Conn::Node(c) => c.get_db(),
        }
    }
}

pub struct RedisCommands {
    source: Source,
    /// Replicas each ack waits for now: the setting, bounded by how many the primaries have
    /// (refreshed by [`RedisCommands::refresh_replicas`]).
    wait_for: std::sync::atomic::AtomicUsize,
    scripts: Scripts,
    policy: ChannelPolicy,
    settings: RedisSettings,
}

/// How much longer than its own timeout a `WAIT` may take to answer (the round trip) before
/// it counts as confirming nothing.
const WAIT_SLACK: Duration = Duration::from_millis(250);

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
            wait_for: std::sync::atomic::AtomicUsize::new(0),
            source: Source::Pool(pool),
            scripts: Scripts::new(Publish::Plain),
            policy,
            settings,
        })
    }

    /// Commands over a Redis Cluster connection; messages are published with `SPUBLISH`
    /// (sharded pub/sub) so each stays on its channel's shard.
    pub fn cluster(router: Router, settings: RedisSettings, policy: ChannelPolicy) -> Self {
        Self {
            wait_for: std::sync::atomic::AtomicUsize::new(0),
            source: Source::Cluster(router),
            scripts: Scripts::new(Publish::Sharded),
            policy,
            settings,
        }
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// How long a channel's stream is kept after its last message or join, in ms.
    fn channel_ttl_ms(&self) -> u64 {
        (self.policy.channel_ttl.as_millis() as u64).max(1)
    }

    /// Runs one command within the command timeout: on a pooled connection, or on a
    /// cluster on the primary serving `key` (any primary for `None`), where `command` may
    /// run again after a redirect (it was not executed then).
    async fn with_connection<T, F, Fut>(&self, key: Option<&str>, command: F) -> Result<T, BusError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let result = match &self.source {
                Source::Pool(pool) => {
                    let connection = pool
                        .get()
                        .await
                        .map_err(|e| BusError::Unavailable(e.to_string()))?;
                    command(Conn::Pooled(connection)).await
                }
                Source::Cluster(router) => {
                    router
                        .run(key.map(str::as_bytes), |node| command(Conn::Node(node)))
                        .await
                }
            };
            result.map_err(|e| {
                if e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || matches!(
                        e.code(),
                        Some(
                            "MOVED"
                                | "ASK"
                                | "TRYAGAIN"
                                | "CLUSTERDOWN"
                                | "MASTERDOWN"
                                | "LOADING"
                                | "READONLY"
                        )
                    )
                {
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
        let keys = &ChannelKeys::new(channel);
        let (id, wanted, confirmed): (String, usize, usize) = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                let mut call = self.scripts.publish.key(keys.log());
                if let Some(nonce) = nonce {
                    call.key(keys.nonce(client, nonce));
                }
                let id: String = call
                    .arg(self.policy.history_max)
                    .arg(keys.events())
                    .arg(client.as_str())
                    .arg(text)
                    .arg(self.policy.dedupe_window.as_millis() as u64)
                    .arg(epoch::mint().as_str())
                    .arg(self.channel_ttl_ms())
                    .invoke_async(&mut c)
                    .await?;
                let replicas = self.wait_for.load(std::sync::atomic::Ordering::Relaxed);
                // From here on the message is stored and published: whatever happens to the
                // wait, the caller must learn its id, never "not stored".
                let confirmed = if replicas == 0 {
                    0
                } else {
                    self.wait(&mut c, replicas).await
                };
                Ok((id, replicas, confirmed))
            })
            .await?;
        let id = parse_id(&id)?;
        // Replication is asynchronous: an ack promises the message survives a failover, so it
        // waits until a replica has it. If none confirms in time the message may be lost with
        // the primary; the sender resends (same nonce), which waits again.
        if confirmed < wanted {
            return Err(BusError::NotConfirmed {
                id,
                confirmed,
                wanted,
            });
        }
        Ok(id)
    }

    /// `WAIT` on the connection that took the write: on one Redis the same pooled
    /// connection, on a cluster the channel's primary's (one connection per node), so the
    /// wait covers this write. How many replicas confirmed; none when the wait itself failed
    /// or overran, since it then confirmed nothing.
    async fn wait(&self, c: &mut Conn, replicas: usize) -> usize {
        let timeout = self.settings.wait_timeout;
        let mut command = redis::cmd("WAIT");
        command.arg(replicas).arg(timeout.as_millis() as u64);
        let wait = command.query_async::<usize>(c);
        match tokio::time::timeout(timeout + WAIT_SLACK, wait).await {
            Ok(Ok(confirmed)) => confirmed,
            Ok(Err(e)) => {
                log::warn!(error:% = e; "WAIT for a replica failed.");
                0
            }
            Err(_) => 0,
        }
    }

    /// Learns how many replicas every primary has, so acks wait for one where one answers
    /// and never stall where there is none (one Redis without replicas, or a replica down).
    pub async fn refresh_replicas(&self) -> Result<(), BusError> {
        let configured = self.settings.wait_replicas.unwrap_or(1);
        if configured == 0 {
            return Ok(());
        }
        let fewest = match &self.source {
            Source::Pool(_) => {
                self.with_connection(None, |mut c| async move {
                    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut c).await?;
                    Ok(match role.get(2) {
                        Some(redis::Value::Array(replicas)) => replicas.len(),
                        _ => 0,
                    })
                })
                .await
            }
            Source::Cluster(_) => {
                self.with_connection(None, |mut c| async move {
                    let nodes: String = redis::cmd("CLUSTER")
                        .arg("NODES")
                        .query_async(&mut c)
                        .await?;
                    Ok(fewest_replicas(&nodes))
                })
                .await
            }
        };
        let fewest = fewest?;
        let wait_for = match self.settings.wait_replicas {
            Some(n) => n.min(fewest),
            None => fewest.min(1),
        };
        self.wait_for
            .store(wait_for, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Messages kept per channel: the most a backfill can need.
    pub fn history_max(&self) -> usize {
        self.policy.history_max
    }

    /// The first `limit` messages a client joining with (or without) a resume position must
    /// be replayed; the subscriber's backfill asks for all of them.
    pub async fn history(
        &self,
        channel: &ChannelId,
        resume: Option<&Resume>,
        limit: usize,
    ) -> Result<History, BusError> {
        let keys = &ChannelKeys::new(channel);
        let since = &resume.map(|r| r.since.to_string()).unwrap_or_default();
        let claimed = resume
            .and_then(|r| r.epoch.as_ref())
            .map_or("", Epoch::as_str);
        let candidate = &epoch::mint();
        let (epoch, recovered, entries): (String, u8, Vec<Entry>) = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .history
                    .key(keys.log())
                    .arg(since)
                    .arg(self.policy.history_limit)
                    .arg(claimed)
                    .arg(candidate.as_str())
                    .arg(self.channel_ttl_ms())
                    .arg(limit)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let messages = entries
            .into_iter()
            .map(|entry| message_from_entry(channel, entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(History {
            messages,
            recovered: recovered == 1,
            epoch: parse_epoch(&epoch)?,
        })
    }

    /// The next page of a replay, `None` when entries right after `after` were trimmed or
    /// the history is another than `epoch`.
    pub async fn history_after(
        &self,
        channel: &ChannelId,
        after: MessageId,
        epoch: &Epoch,
        limit: usize,
    ) -> Result<Option<Vec<ChatMessage>>, BusError> {
        let keys = &ChannelKeys::new(channel);
        let after = &after.to_string();
        let entries: Option<Vec<Entry>> = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                self.scripts
                    .history_after
                    .key(keys.log())
                    .arg(after)
                    .arg(limit)
                    .arg(epoch.as_str())
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        entries
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|entry| message_from_entry(channel, entry))
                    .collect()
            })
            .transpose()
    }

    /// Where each channel's history stands (its epoch and newest message id, zero when it
    /// has none), creating an empty history for a channel without one. A burst of first
    /// joins (or a resubscription) must not cost a round trip each: on one Redis a script
    /// call per `POSITIONS_PER_CALL` channels; on a cluster, where the channels live on
    /// different shards, one call each, all at once.
    pub async fn positions(&self, channels: &[ChannelId]) -> Result<Vec<Resume>, BusError> {
        /// Channels per script call on one Redis, so no call blocks Redis for long.
        const POSITIONS_PER_CALL: usize = 500;
        let chunks: Vec<&[ChannelId]> = match &self.source {
            Source::Cluster(_) => channels.chunks(1).collect(),
            Source::Pool(_) => channels.chunks(POSITIONS_PER_CALL).collect(),
        };
        let calls = chunks.into_iter().map(|chunk| async move {
            let first_log = chunk.first().map(|c| ChannelKeys::new(c).log());
            let flat: Vec<String> = self
                .with_connection(first_log.as_deref(), |mut c| async move {
                    let mut call = self.scripts.position.prepare_invoke();
                    for channel in chunk {
                        call.key(ChannelKeys::new(channel).log())
                            .arg(epoch::mint().as_str());
                    }
                    call.arg(self.channel_ttl_ms());
                    call.invoke_async(&mut c).await
                })
                .await?;
            flat.chunks_exact(2)
                .map(|pair| {
                    Ok(Resume {
                        epoch: Some(parse_epoch(&pair[0])?),
                        since: parse_id(&pair[1])?,
                    })
                })
                .collect::<Result<Vec<_>, BusError>>()
        });
        let per_chunk = futures_util::future::try_join_all(calls).await?;
        let positions: Vec<Resume> = per_chunk.into_iter().flatten().collect();
        if positions.len() != channels.len() {
            return Err(BusError::Protocol(format!(
                "asked for {} positions, got {}",
                channels.len(),
                positions.len()
            )));
        }
        Ok(positions)
    }

    pub async fn join_presence(
        &self,
        channel: &ChannelId,
        client: &ClientId,
        conn: &ConnKey,
    ) -> Result<Roster, BusError> {
        let keys = &ChannelKeys::new(channel);
        let (online_count, online): (u64, Vec<String>) = self
            .with_connection(Some(&keys.log()), |mut c| async move {
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
        let keys = &ChannelKeys::new(channel);
        let _: u8 = self
            .with_connection(Some(&keys.log()), |mut c| async move {
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
        let keys = &ChannelKeys::new(channel);
        let _: u64 = self
            .with_connection(Some(&keys.log()), |mut c| async move {
                let mut call = self.scripts.presence_refresh.key(keys.online());
                call.arg(self.settings.presence_ttl.as_millis() as u64)
                    .arg(keys.events())
                    .arg(keys.connections_prefix());
                for (client, conn) in members {
                    call.key(keys.connections(client))
                        .arg(client.as_str())
                        .arg(conn.as_str());
                }
                call.key(keys.log()).arg(self.channel_ttl_ms());
                call.invoke_async(&mut c).await
            })
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), BusError> {
        let pong: String = self
            .with_connection(None, |mut c| async move {
                redis::cmd("PING").query_async(&mut c).await
            })
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

fn parse_epoch(epoch: &str) -> Result<Epoch, BusError> {
    Epoch::parse(epoch).map_err(|_| BusError::Protocol(format!("bad epoch {epoch:?}")))
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

/// TCP settings for every Redis connection: no Nagle delay on small writes.
pub fn no_delay() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

/// The fewest connected replicas any primary has, from `CLUSTER NODES`.
fn fewest_replicas(nodes: &str) -> usize {
    let mut primaries: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut replicas_of: Vec<&str> = Vec::new();
    for line in nodes.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(id), Some(flags), Some(master), Some(state)) =
            (fields.first(), fields.get(2), fields.get(3), fields.get(7))
        else {
            continue;
        };
        if flags.contains("fail") || *state != "connected" {
            continue;
        }
        if flags.contains("master") {
            primaries.entry(id).or_insert(0);
        } else if flags.contains("slave") {
            replicas_of.push(master);
        }
    }
    for master in replicas_of {
        if let Some(count) = primaries.get_mut(master) {
            *count += 1;
        }
    }
    primaries.values().copied().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::fewest_replicas;

    #[test]
    fn counts_live_replicas_per_primary() {
        let nodes = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922
a3 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
b1 127.0.0.1:7004@17004 slave a1 0 0 1 connected
b2 127.0.0.1:7005@17005 slave a2 0 0 2 connected
b3 127.0.0.1:7006@17006 slave,fail a3 0 0 3 disconnected
";
        assert_eq!(fewest_replicas(nodes), 0);
        let healed = nodes.replace(
            "slave,fail a3 0 0 3 disconnected",
            "slave a3 0 0 3 connected",
        );
        assert_eq!(fewest_replicas(&healed), 1);
    }
}
