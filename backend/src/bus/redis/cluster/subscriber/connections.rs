//! The cluster subscriber's connections: at most one per primary, each made on first need
//! with its pushes tagged by node and connection, so a push from a connection that was
//! already replaced can be told apart and ignored.

use std::{collections::HashMap, sync::Arc, time::Duration};

use redis::{PushInfo, Value, aio::MultiplexedConnection};
use tokio::{sync::mpsc, time::Instant};

use super::super::nodes::{NodeAddr, NodeConnector};

/// After a node fails a subscription, how long its channels wait before the next attempt: a
/// node that hangs (rather than refusing) would otherwise hold the subscriber for a connect
/// timeout per attempt, delaying every other shard's messages.
const NODE_BACKOFF: Duration = Duration::from_secs(1);

/// A push, and which connection it came from.
pub struct Push {
    pub node: NodeAddr,
    pub connection: u64,
    pub info: PushInfo,
}

/// The subscriber connection to one primary.
struct NodeSubscriber {
    connection: MultiplexedConnection,
    /// Which connection this is; pushes carry it.
    id: u64,
}

pub struct ShardConnections {
    connector: Arc<NodeConnector>,
    nodes: HashMap<NodeAddr, NodeSubscriber>,
    /// Given to every connection, tagged with its node and id.
    push_sender: mpsc::UnboundedSender<Push>,
    next_id: u64,
    /// Nodes whose last subscription attempt failed, and when.
    failing: HashMap<NodeAddr, Instant>,
}

impl ShardConnections {
    /// No connections yet, and the queue every connection's pushes will arrive on.
    pub fn new(connector: Arc<NodeConnector>) -> (Self, mpsc::UnboundedReceiver<Push>) {
        let (push_sender, pushes) = mpsc::unbounded_channel();
        let connections = Self {
            connector,
            nodes: HashMap::new(),
            push_sender,
            next_id: 0,
            failing: HashMap::new(),
        };
        (connections, pushes)
    }

    /// Whether `push` came from the node's current connection.
    pub fn is_current(&self, push: &Push) -> bool {
        self.nodes
            .get(&push.node)
            .is_some_and(|n| n.id == push.connection)
    }

    /// Whether the node failed a subscription too recently to be tried again.
    pub fn backing_off(&self, node: &NodeAddr) -> bool {
        self.failing
            .get(node)
            .is_some_and(|at| at.elapsed() < NODE_BACKOFF)
    }

    /// `SSUBSCRIBE`s `names` on `node`, connecting first if needed, in one round trip. A
    /// failure puts the node in backoff.
    pub async fn subscribe(&mut self, node: &NodeAddr, names: &[String]) -> redis::RedisResult<()> {
        let result = match self.connection(node).await {
            Ok(mut connection) => subscription_command(&mut connection, "SSUBSCRIBE", names).await,
            Err(e) => Err(e),
        };
        match &result {
            Ok(()) => self.failing.remove(node),
            Err(_) => self.failing.insert(node.clone(), Instant::now()),
        };
        result
    }

    /// `SUNSUBSCRIBE`s `name` on `node`, if connected there, waiting at most `within`: a
    /// node that does not answer in time is left to the pings. The error, if the command
    /// failed.
    pub async fn unsubscribe(
        &self,
        node: &NodeAddr,
        name: String,
        within: Duration,
    ) -> Option<redis::RedisError> {
        let mut connection = self.nodes.get(node)?.connection.clone();
        let names = [name];
        let command = subscription_command(&mut connection, "SUNSUBSCRIBE", &names);
        tokio::time::timeout(within, command).await.ok()?.err()
    }

    /// The subscriber connection to `node`, made if there is none.
    async fn connection(&mut self, node: &NodeAddr) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(subscriber) = self.nodes.get(node) {
            return Ok(subscriber.connection.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
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

    /// Forgets the node's connection; whether there was one.
    pub fn remove(&mut self, node: &NodeAddr) -> bool {
        self.nodes.remove(node).is_some()
    }

    /// Closes connections to every node but `needed`.
    pub fn retain(&mut self, needed: &[NodeAddr]) {
        self.nodes.retain(|node, _| needed.contains(node));
    }

    /// Pings every connection; the nodes whose connection did not answer within `within`.
    pub async fn unanswered_pings(&self, within: Duration) -> Vec<NodeAddr> {
        let mut unanswered = Vec::new();
        for (node, subscriber) in &self.nodes {
            let mut connection = subscriber.connection.clone();
            let answered = tokio::time::timeout(
                within,
                redis::cmd("PING").query_async::<Value>(&mut connection),
            )
            .await;
            let healthy = matches!(answered, Ok(Ok(Value::SimpleString(ref s))) if s == "PONG");
            if !healthy {
                unanswered.push(node.clone());
            }
        }
        unanswered
    }
}

/// `SSUBSCRIBE`/`SUNSUBSCRIBE` of `names`, as one pipeline of one-channel commands: one
/// write and one round trip, yet each command answered by exactly one confirmation push,
/// which is how the multiplexed connection pairs replies with commands (a many-channel
/// command answers once per channel). A reply that is not the expected confirmation (an
/// unrelated push taken for it) is an error, so the connection is replaced rather than
/// trusted.
async fn subscription_command(
    connection: &mut MultiplexedConnection,
    command: &str,
    names: &[String],
) -> redis::RedisResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut pipeline = redis::pipe();
    for name in names {
        pipeline.cmd(command).arg(name);
    }
    let replies: Vec<Value> = pipeline.query_async(connection).await?;
    let confirmed = replies.len() == names.len()
        && replies.iter().zip(names).all(|(reply, name)| match reply {
            Value::Push { kind, data } => {
                kind.to_string().eq_ignore_ascii_case(command)
                    && data.first().and_then(text) == Some(name.as_str())
            }
            _ => false,
        });
    if confirmed {
        Ok(())
    } else {
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "unexpected subscription confirmation",
            format!("{replies:?}"),
        )))
    }
}

/// A push's text field (a channel name).
pub fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}
