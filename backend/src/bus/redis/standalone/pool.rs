//! The command pool on one Redis: deadpool over multiplexed connections, checked before
//! reuse only when there is reason to doubt them.
//!
//! deadpool-redis's own manager sends `UNWATCH` + `PING` on every checkout: a round trip
//! per command, which costs Redis about as much as a small script (a read, a write and a
//! wake-up of its event loop). Nothing here uses `WATCH`, and a connection whose last command
//! was answered a moment ago is known to work; so this manager pings only a connection that
//! has been idle for a while or whose last command went unanswered (failed on the way, or
//! was abandoned at a timeout), and drops one whose last command failed with it.
//!
//! When one connection fails, the others may well have failed with it (Redis restarted, the
//! network path was cut) without anyone noticing yet: every connection is then in doubt and
//! pinged before its next command, so one failed command, not one per pooled connection,
//! is what such an event costs (plus any in flight when it happened).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, Value,
    aio::{ConnectionLike, MultiplexedConnection},
};

/// How long after its last answer a connection is reused without a ping.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

pub type Pool = managed::Pool<Manager>;
pub type Pooled = managed::Object<Manager>;

/// Opens connections like deadpool-redis's manager; checks them as the module says.
pub struct Manager {
    inner: deadpool_redis::Manager,
    /// Bumped whenever a connection fails: connections checked before are in doubt.
    failures: Arc<AtomicU64>,
}

impl Manager {
    pub fn new(inner: deadpool_redis::Manager) -> Self {
        Self {
            inner,
            failures: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A pooled connection and what its last command says about it.
pub struct Connection {
    connection: MultiplexedConnection,
    /// When a command on it was last answered, or it was opened or pinged.
    answered: Instant,
    /// A command was sent and no answer came back (yet).
    pending: bool,
    /// A command failed because the connection did: it is not reused.
    broken: bool,
    /// The pool's failure count when this connection last proved to work.
    failures_seen: u64,
    failures: Arc<AtomicU64>,
}

impl Connection {
    /// Notes what a request's outcome says about the connection.
    fn settle<T>(&mut self, result: &redis::RedisResult<T>) {
        match result {
            Err(e) if is_connection_failure(e) => {
                self.broken = true;
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.pending = false;
                self.answered = Instant::now();
                self.failures_seen = self.failures.load(Ordering::Relaxed);
            }
        }
    }
}

/// Errors that mean the connection itself failed (rather than Redis refusing a command).
fn is_connection_failure(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() || e.is_timeout()
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        let failures_seen = self.failures.load(Ordering::Relaxed);
        Ok(Connection {
            connection: self.inner.create().await?,
            answered: Instant::now(),
            pending: false,
            broken: false,
            failures_seen,
            failures: self.failures.clone(),
        })
    }

    async fn recycle(&self, c: &mut Connection, metrics: &Metrics) -> RecycleResult<RedisError> {
        if c.broken {
            return Err(RecycleError::message("the connection failed"));
        }
        let failures = self.failures.load(Ordering::Relaxed);
        if !c.pending && c.answered.elapsed() < TRUSTED_FOR && c.failures_seen == failures {
            return Ok(());
        }
        if let Err(e) = self.inner.recycle(&mut c.connection, metrics).await {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        c.pending = false;
        c.answered = Instant::now();
        c.failures_seen = failures;
        Ok(())
    }
}

/// Marks the connection pending before each request, so one abandoned before its answer
/// (a timeout drops the future) is pinged before it serves again.
impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.pending = true;
            let result = self.connection.req_packed_command(cmd).await;
            self.settle(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.pending = true;
            let result = self
                .connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.settle(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.connection.get_db()
    }
}
