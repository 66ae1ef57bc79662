//! The chat service's WebSocket backend.
//!
//! Stateless instances behind a load balancer without session affinity; every instance sees
//! every message of the channels its clients are in through the [`bus`].
//!
//! - [`admission`]: connections per client id and per source address.
//! - [`auth`]: optional HS256 tokens checked before the upgrade.
//! - [`config`]: settings from the environment, validated up front.
//! - [`startup`]: builds the app on a listener (port 0 in tests) and runs it until a stop
//!   signal, then shuts down gracefully ([`shutdown`]).
//! - [`routes`]: `/healthz`, `/readyz` and `/ws/{channel}/{client}` (validated before the
//!   upgrade; refusals in [`error`]).
//! - [`session`]: one WebSocket connection: join, replay, read frames, write frames; after
//!   the upgrade it does the socket's I/O itself.
//! - [`hub`]: this instance's connections per channel and the fan-out to them.
//! - [`outbox`]: a connection's bounded outbound queue and how it is closed.
//! - [`bus`]: the store-and-publish engines (embedded, Redis, Redis Cluster) behind one trait.
//! - [`metrics`]: counters and gauges served at `/metrics`.
//! - [`presence`]: keeps this instance's connections present in the shared roster, sends
//!   each channel's presence events in short batches ([`presence_batch`]), and tells large
//!   channels how many are online.

pub mod admission;
pub mod auth;
pub mod bus;
pub mod config;
pub mod hub;
pub mod metrics;
pub mod outbox;
pub mod presence;
pub mod presence_batch;
pub mod random;
pub mod routes;
pub mod session;
pub mod shutdown;
pub mod startup;
pub mod state;
