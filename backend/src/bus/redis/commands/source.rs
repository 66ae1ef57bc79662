//! Where the bus's commands run: a pool of connections to one Redis, or the cluster router.
//! Every operation is written once, over [`CommandSource::run`]; the two differ only in
//! what they are asked here.

use std::{future::Future, time::Duration};

use super::super::{
    cluster::{self, router::NodeConn, router::Router},
    scripts::Publish,
    standalone::{
        self,
        pool::{Pool, Pooled},
    },
};
use crate::bus::BusError;

pub enum CommandSource {
    /// A pool of connections to one Redis.
    Single(Pool),
    /// The cluster router, which sends each command to the primary serving its key over
    /// that node's one multiplexed connection — a pool on top of it would add nothing.
    Cluster(Router),
}

/// A connection from either source, usable wherever redis-rs takes one.
pub enum Conn {
    Pooled(Pooled),
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

impl CommandSource {
    /// How the scripts publish: a cluster's events must stay on their channel's shard.
    pub fn publish_mode(&self) -> Publish {
        match self {
            CommandSource::Single(_) => Publish::Plain,
            CommandSource::Cluster(_) => Publish::Sharded,
        }
    }

    /// Channels whose positions one script call may read: many on one Redis (bounded, so
    /// no call blocks Redis for long); one on a cluster, where channels live on different
    /// shards.
    pub fn positions_per_call(&self) -> usize {
        match self {
            CommandSource::Single(_) => 500,
            CommandSource::Cluster(_) => 1,
        }
    }

    /// Runs one command within `timeout`: on a pooled connection, or on a cluster on the
    /// primary serving `key` (any primary for `None`), where `command` may run again after
    /// a redirect (it was not executed then).
    pub async fn run<T, F, Fut>(
        &self,
        key: Option<&str>,
        timeout: Duration,
        command: F,
    ) -> Result<T, BusError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let result = match self {
                CommandSource::Single(pool) => {
                    let connection = pool
                        .get()
                        .await
                        .map_err(|e| BusError::Unavailable(e.to_string()))?;
                    command(Conn::Pooled(connection)).await
                }
                CommandSource::Cluster(router) => {
                    router
                        .run(key.map(str::as_bytes), |node| command(Conn::Node(node)))
                        .await
                }
            };
            result.map_err(bus_error)
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(BusError::Unavailable("Redis command timed out".into())))
    }

    /// The fewest replicas any primary has now.
    pub async fn fewest_replicas(&self, timeout: Duration) -> Result<usize, BusError> {
        match self {
            CommandSource::Single(_) => {
                self.run(None, timeout, |mut c| async move {
                    standalone::replica_count(&mut c).await
                })
                .await
            }
            CommandSource::Cluster(_) => {
                self.run(None, timeout, |mut c| async move {
                    cluster::replicas::fewest_replicas(&mut c).await
                })
                .await
            }
        }
    }
}

/// Errors that say Redis (or the path to it) is away are `unavailable`; the rest are
/// answers we did not expect.
fn bus_error(e: redis::RedisError) -> BusError {
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
}
