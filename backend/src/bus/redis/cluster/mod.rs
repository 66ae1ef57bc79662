//! The Redis bus on a Redis Cluster: our own slot routing and per-primary sharded
//! subscribers, on plain per-node connections.
//!
//! Why not the redis crate's cluster connection (RESP3, 1.8), which this replaced: measured
//! here with the cluster chaos test (`chaos_cluster`: 200 clients, two instances SIGTERMed
//! and SIGKILLed, one primary SIGKILLed), both passed with nothing lost, but with the crate
//! the clients caught up 38 s after sending stopped (2 runs of 2; ~470 client reconnects)
//! against 0.1–6 s here (400 reconnects, one per instance restart). While a dead node still
//! owns slots, each request for them fails with "connection not found" and starts a
//! "reconnect to initial nodes" that replaces every node connection, healthy shards' and
//! their subscriptions included, while all requests wait behind it. Here a dead node costs
//! only its own slots, only until its replica is promoted.
//!
//! - [`slot`]: the slot of a key; every name of a chat channel shares one hash tag.
//! - [`topology`]: which primary serves which slots (`CLUSTER SLOTS`), kept current.
//! - [`nodes`]: connections to single nodes, made from the seed URL's settings.
//! - [`router`]: commands to their slot's primary, following `MOVED`/`ASK` and failovers.
//! - [`replicas`]: how many replicas the primaries have, so acks know what to wait for.
//! - [`subscriber`]: one `SSUBSCRIBE` connection per primary that serves local channels.

pub mod nodes;
pub mod replicas;
pub mod router;
pub mod slot;
pub mod subscriber;
pub mod topology;
