//! Behaviour tests of the backend over real sockets: real WebSocket clients, a private
//! `redis-server` per test, and two backend instances bridged through it. Every behaviour
//! test runs twice: on the embedded bus (one instance) and on Redis (two instances).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_harness;
mod helpers;

mod admission;
mod auth;
mod bounds;
mod browser_refusals;
mod chaos;
mod chat;
mod chatters;
mod cluster;
mod conformance;
mod frames;
mod handshake;
mod history;
mod limits;
mod lost_history;
mod metrics;
mod presence;
mod proxy;
mod read_side_fuzz;
mod redis_faults;
mod redis_tls;
mod redis_usage;
mod replication;
mod retention;
mod settings;
mod shutdown;
mod slow_input;
mod subscriber_faults;
mod token_expiry;
