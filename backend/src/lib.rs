//! The chat service's WebSocket backend.
//!
//! Stateless instances behind a load balancer without session affinity; every instance sees
//! every message of the channels its clients are in through the [`bus`].
//!
//! Read from the top: [`config`] → [`startup`] → [`routes`] → [`session`] → [`hub`] →
//! [`bus`]. docs/ARCHITECTURE.md follows one message through these modules, file by file.
//!
//! - [`config`]: settings from the environment, grouped as the system is and validated before
//!   the runtime starts.
//! - [`startup`]: builds the app on its listeners (port 0 in tests) and runs it until a stop
//!   signal, then shuts down gracefully ([`shutdown`]).
//! - [`routes`]: the public port's `/healthz`, `/readyz`, `/ws/{channel}/{client}`
//!   (validated before the upgrade; refusals counted and logged) and the server API under
//!   `/api/v1`, and `/metrics` on the metrics port.
//! - [`admission`]: connections per client id and per source address; [`rate_limit`]: sends
//!   per client id and channel.
//! - [`auth`]: optional HS256 tokens checked before the upgrade and on `refresh`.
//! - [`session`]: one WebSocket connection after the upgrade: join, replay, the event loop,
//!   the answers, cleanup; it does the socket's I/O itself.
//! - [`outbox`]: a connection's bounded outbound queue and how it is closed.
//! - [`hub`]: this instance's connections per channel and the fan-out to them.
//! - [`presence`]: keeps this instance's connections present in the shared roster, sends
//!   each channel's presence events in short batches ([`presence_batch`]), and tells large
//!   channels how many are online.
//! - [`bus`]: the store-and-publish engines (embedded, Redis, Redis Cluster) behind one trait.
//! - [`metrics`]: counters and gauges, with the process's own figures.
//! - [`state`]: what every handler and session shares; [`random`]: values that only need to
//!   differ.

pub mod admission;
pub mod auth;
pub mod bus;
pub mod config;
pub mod hub;
pub mod listener;
pub mod metrics;
pub mod outbox;
pub mod presence;
pub mod presence_batch;
pub mod random;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod shutdown;
pub mod startup;
pub mod state;
