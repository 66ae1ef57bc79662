//! Connections to single cluster nodes, made from a seed URL's settings (scheme, AUTH, the
//! CA to trust) with the node's own address, as the cluster reports it; with IAM
//! authentication, the password is the access token current at connect time.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo,
    ProtocolVersion, RedisError, RedisResult, aio::AsyncPushSender, aio::MultiplexedConnection,
};

use crate::bus::{
    BusError,
    redis::{connect, iam_tokens::AccessTokens},
};

/// A node's address: `host:port`, as in `CLUSTER SLOTS`, `MOVED` and `ASK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    /// Parses `host:port` (the host may be an IPv6 address: the port is after the last `:`).
    pub fn parse(text: &str) -> Option<Self> {
        let (host, port) = text.rsplit_once(':')?;
        Some(Self {
            host: host.trim_matches(['[', ']']).to_owned(),
            port: port.parse().ok()?,
        })
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Makes connections to any node of the cluster.
pub struct NodeConnector {
    /// The first seed's settings; only the address changes from node to node.
    template: ConnectionInfo,
    ca_cert: Option<Vec<u8>>,
    /// Longest a connect, or one command's answer, may take.
    timeout: Duration,
    /// With IAM authentication, the password of every new connection: the token current
    /// when it connects (connections made earlier stay authenticated when it expires).
    tokens: Option<AccessTokens>,
}

impl NodeConnector {
    pub fn new(
        seeds: &[String],
        ca_cert: Option<Vec<u8>>,
        timeout: Duration,
        tokens: Option<AccessTokens>,
    ) -> Result<(Self, Vec<NodeAddr>), BusError> {
        let bad = |why: String| BusError::Unavailable(format!("bad REDIS_CLUSTER_URLS: {why}"));
        let mut addrs = Vec::new();
        let mut template = None;
        for seed in seeds {
            let info = seed
                .as_str()
                .into_connection_info()
                .map_err(|e| bad(e.to_string()))?;
            let addr = match info.addr() {
                ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                    NodeAddr {
                        host: host.clone(),
                        port: *port,
                    }
                }
                _ => return Err(bad(format!("{seed} is not a TCP address"))),
            };
            addrs.push(addr);
            template.get_or_insert(info);
        }
        let template = template.ok_or_else(|| bad("no seed node".into()))?;
        let template = template.set_tcp_settings(connect::no_delay());
        Ok((
            Self {
                template,
                ca_cert,
                timeout,
                tokens,
            },
            addrs,
        ))
    }

    fn client(&self, addr: &NodeAddr, protocol: ProtocolVersion) -> RedisResult<Client> {
        let node = match self.template.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                host: addr.host.clone(),
                port: addr.port,
                insecure: *insecure,
                tls_params: None,
            },
            _ => ConnectionAddr::Tcp(addr.host.clone(), addr.port),
        };
        let mut redis = self
            .template
            .redis_settings()
            .clone()
            .set_protocol(protocol);
        if let Some(tokens) = &self.tokens {
            let token = tokens.current().ok_or_else(|| {
                RedisError::from((
                    ErrorKind::AuthenticationFailed,
                    "no IAM access token yet: the token endpoint has not answered",
                ))
            })?;
            redis = redis.set_password(token);
        }
        let info = self
            .template
            .clone()
            .set_addr(node)
            .set_redis_settings(redis);
        connect::client(info, self.ca_cert.as_deref())
    }

    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
    }

    /// A connection for commands (RESP2, like the single-Redis pool, so replies parse alike).
    pub async fn command_connection(&self, addr: &NodeAddr) -> RedisResult<MultiplexedConnection> {
        self.client(addr, ProtocolVersion::RESP2)?
            .get_multiplexed_async_connection_with_config(&self.config())
            .await
    }

    /// A connection for sharded subscriptions (RESP3: messages and subscription changes
    /// arrive as pushes on `pushes`, and a dropped connection as a `Disconnection` push).
    pub async fn subscriber_connection(
        &self,
        addr: &NodeAddr,
        pushes: impl AsyncPushSender,
    ) -> RedisResult<MultiplexedConnection> {
        self.client(addr, ProtocolVersion::RESP3)?
            .get_multiplexed_async_connection_with_config(&self.config().set_push_sender(pushes))
            .await
    }
}

/// One command connection per node, made on first use and dropped when it fails. Each node
/// has its own lock, so connecting to a node that does not answer never holds up commands
/// for the others.
pub struct CommandConnections {
    connector: Arc<NodeConnector>,
    cells: Mutex<HashMap<NodeAddr, Arc<tokio::sync::Mutex<Option<MultiplexedConnection>>>>>,
}

impl CommandConnections {
    pub fn new(connector: Arc<NodeConnector>) -> Self {
        Self {
            connector,
            cells: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, addr: &NodeAddr) -> Arc<tokio::sync::Mutex<Option<MultiplexedConnection>>> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.entry(addr.clone()).or_default().clone()
    }

    pub async fn get(&self, addr: &NodeAddr) -> RedisResult<MultiplexedConnection> {
        let cell = self.cell(addr);
        let mut slot = cell.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self.connector.command_connection(addr).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the node's connection after an error; the next command makes a fresh one.
    pub fn forget(&self, addr: &NodeAddr) {
        let cell = self.cell(addr);
        if let Ok(mut slot) = cell.try_lock() {
            *slot = None;
        }
    }

    /// Keeps connections only to `nodes` (the current primaries).
    pub fn retain(&self, nodes: &[NodeAddr]) {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        cells.retain(|addr, _| nodes.contains(addr));
    }
}

#[cfg(test)]
mod tests {
    use super::NodeAddr;

    #[test]
    fn parses_redirect_addresses() {
        assert_eq!(
            NodeAddr::parse("127.0.0.1:7001"),
            Some(NodeAddr {
                host: "127.0.0.1".into(),
                port: 7001
            })
        );
        assert_eq!(
            NodeAddr::parse("[::1]:7001").map(|a| a.host),
            Some("::1".into())
        );
        assert_eq!(NodeAddr::parse("nohost"), None);
    }
}
