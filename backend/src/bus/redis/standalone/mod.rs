//! The Redis bus on one Redis server: a pool of command connections, and one dedicated
//! pub/sub connection ([`subscriber`]).

pub mod pool;
pub mod subscriber;

use deadpool_redis::Runtime;
use redis::{IntoConnectionInfo, aio::ConnectionLike};

use self::pool::{Manager, Pool};
use super::{connect, settings::RedisSettings};
use crate::bus::BusError;

/// A client for `url`, with every connection's TCP and TLS settings (see [`connect`]).
pub fn client(url: &str, ca_cert: Option<&[u8]>) -> Result<redis::Client, BusError> {
    let bad_url = |e: redis::RedisError| BusError::Unavailable(format!("bad REDIS_URL: {e}"));
    let info = url
        .into_connection_info()
        .map_err(bad_url)?
        .set_tcp_settings(connect::no_delay());
    connect::client(info, ca_cert).map_err(bad_url)
}

/// The command pool. Connections are opened on first use, so Redis may be away now. The
/// pool's manager is built from `client`'s connection info so pooled connections trust the
/// same CA as the subscriber's.
pub fn command_pool(client: &redis::Client, settings: &RedisSettings) -> Result<Pool, BusError> {
    let manager = deadpool_redis::Manager::new(client.get_connection_info().clone())
        .map_err(|e| BusError::Unavailable(format!("bad REDIS_URL: {e}")))?;
    Pool::builder(Manager::new(manager))
        .max_size(settings.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.command_timeout))
        .create_timeout(Some(settings.command_timeout))
        // Recycling pings a connection in doubt; a hung one must be dropped (and a fresh
        // one made) well within the command timeout.
        .recycle_timeout(Some(settings.command_timeout / 4))
        .build()
        .map_err(|e| BusError::Unavailable(format!("cannot create the Redis pool: {e}")))
}

/// How many replicas the server has, from `ROLE`.
pub async fn replica_count(connection: &mut impl ConnectionLike) -> redis::RedisResult<usize> {
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(connection).await?;
    Ok(match role.get(2) {
        Some(redis::Value::Array(replicas)) => replicas.len(),
        _ => 0,
    })
}
