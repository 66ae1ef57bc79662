//! Behaviour tests of the backend over real sockets: real WebSocket clients, and Redis servers
//! of each test's own. Every behaviour test runs on all three engines: the embedded bus (one
//! instance), one Redis (two instances bridged through a private `redis-server`) and a Redis
//! Cluster (two instances over a private three-primary cluster, sharded pub/sub).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_harness;
mod helpers;

mod admission;
mod auth;
mod bounds;
mod browser_refusals;
mod bus_presence;
mod chaos;
mod chat;
mod chatters;
mod cluster;
mod conformance;
mod frames;
mod handshake;
mod history;
mod iam_auth;
mod limits;
mod lost_history;
mod metrics;
mod names;
mod paging;
mod presence;
mod proxy;
mod read_side_fuzz;
mod redis_faults;
mod redis_tls;
mod redis_usage;
mod replication;
mod retention;
mod server_api;
mod settings;
mod shutdown;
mod slow_input;
mod stored_data;
mod subscriber_faults;
mod token_expiry;
mod typing;
