//! Sends each command to the primary that serves its key's slot, and follows the cluster
//! when that changes.
//!
//! What is retried, and why it is safe: a command that was never executed — the node
//! answered `MOVED`/`ASK` (redirect), `TRYAGAIN`/`CLUSTERDOWN`/`MASTERDOWN`/`LOADING`/
//! `READONLY` (the slot is changing hands), or the connection to the node could not even be
//! made — is sent again, to the owner the cluster names, until the caller's command timeout.
//! A command whose connection failed after it was sent may have run, so it is not retried:
//! the caller reports `unavailable`, and a client that resends does so with its nonce, which
//! the store-and-publish script deduplicates.

use std::{future::Future, sync::Arc, time::Duration};

use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value,
    aio::{ConnectionLike, MultiplexedConnection},
};

use super::{nodes::NodeAddr, slot::key_slot, topology::Topology};

/// Pause before retrying a command for a slot that is changing hands (a failover takes a
/// second or two: this keeps the retries few).
const SETTLE: Duration = Duration::from_millis(100);
/// A bound on retries besides the caller's timeout.
const MAX_ATTEMPTS: usize = 40;

/// A connection to the node a command must run on.
#[derive(Clone)]
pub enum NodeConn {
    Direct(MultiplexedConnection),
    /// The slot is being imported by this node (`ASK`): each command is preceded by
    /// `ASKING`, in the same write, so no other command can take the flag in between.
    Asking(MultiplexedConnection),
}

impl ConnectionLike for NodeConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            NodeConn::Direct(c) => c.req_packed_command(cmd),
            NodeConn::Asking(c) => Box::pin(async move {
                let mut pipe = redis::pipe();
                pipe.cmd("ASKING").ignore().add_command(cmd.clone());
                let mut replies: Vec<Value> = pipe.query_async(c).await?;
                replies.pop().ok_or_else(|| {
                    RedisError::from((redis::ErrorKind::UnexpectedReturnType, "no reply"))
                })
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            NodeConn::Direct(c) => c.req_packed_commands(pipeline, offset, count),
            NodeConn::Asking(c) => Box::pin(async move {
                let mut asking = redis::pipe();
                asking.cmd("ASKING");
                for cmd in pipeline.cmd_iter() {
                    asking.add_command(cmd.clone());
                }
                c.req_packed_commands(&asking, offset + 1, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        0
    }
}

pub struct Router {
    topology: Arc<Topology>,
}

enum Target {
    Owner,
    Moved(NodeAddr),
    Ask(NodeAddr),
}

impl Router {
    pub fn new(topology: Arc<Topology>) -> Self {
        Self { topology }
    }

    /// Runs `command` on the node serving `key` (any primary when `None`), following
    /// redirects and topology changes as the module comment says.
    pub async fn run<T, F, Fut>(&self, key: Option<&[u8]>, command: F) -> RedisResult<T>
    where
        F: Fn(NodeConn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let slot = key.map(key_slot);
        let mut target = Target::Owner;
        let mut last_error = None;
        for _ in 0..MAX_ATTEMPTS {
            let (addr, asking) = match std::mem::replace(&mut target, Target::Owner) {
                Target::Owner => match self.owner(slot).await {
                    Some(addr) => (addr, false),
                    None => {
                        tokio::time::sleep(SETTLE).await;
                        continue;
                    }
                },
                Target::Moved(addr) => (addr, false),
                Target::Ask(addr) => (addr, true),
            };
            let connection = match self.topology.connections.get(&addr).await {
                Ok(connection) => connection,
                Err(e) => {
                    // Not sent: the node is down (failing over) or unreachable.
                    self.topology.connections.forget(&addr);
                    last_error = Some(e);
                    self.settle().await;
                    continue;
                }
            };
            let connection = if asking {
                NodeConn::Asking(connection)
            } else {
                NodeConn::Direct(connection)
            };
            let error = match command(connection).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            match error.code() {
                Some("MOVED") => {
                    target = match redirect(&error) {
                        Some((to, moved_slot)) => {
                            self.topology.moved(moved_slot, to.clone());
                            Target::Moved(to)
                        }
                        None => Target::Owner,
                    };
                    self.topology.refresh_soon();
                }
                Some("ASK") => {
                    if let Some((to, _)) = redirect(&error) {
                        target = Target::Ask(to);
                    }
                }
                Some("TRYAGAIN" | "CLUSTERDOWN" | "MASTERDOWN" | "LOADING" | "READONLY") => {
                    self.settle().await;
                }
                _ if error.is_connection_refusal() => {
                    self.topology.connections.forget(&addr);
                    self.settle().await;
                }
                _ => {
                    if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
                        self.topology.connections.forget(&addr);
                        self.topology.refresh_soon();
                    }
                    return Err(error);
                }
            }
            last_error = Some(error);
        }
        Err(last_error.unwrap_or_else(|| {
            RedisError::from((redis::ErrorKind::Io, "no node serves this slot"))
        }))
    }

    async fn owner(&self, slot: Option<u16>) -> Option<NodeAddr> {
        let known = match slot {
            Some(slot) => self.topology.owner(slot),
            None => self.topology.any_node(),
        };
        if known.is_some() {
            return known;
        }
        if let Err(e) = self.topology.refresh().await {
            log::warn!(error:% = e; "Cannot read the cluster's slot map.");
        }
        match slot {
            Some(slot) => self.topology.owner(slot),
            None => self.topology.any_node(),
        }
    }

    /// Waits a moment, then re-reads the slot map before the next attempt.
    async fn settle(&self) {
        tokio::time::sleep(SETTLE).await;
        if let Err(e) = self.topology.refresh().await {
            log::debug!(error:% = e; "Cannot read the cluster's slot map yet.");
        }
    }
}

fn redirect(error: &RedisError) -> Option<(NodeAddr, u16)> {
    let (addr, slot) = error.redirect_node()?;
    Some((NodeAddr::parse(addr)?, slot))
}
