//! Load generator for the chat service (protocol v1, or socket.io for the reference server,
//! see [`wire`]): opens many WebSockets against one or more backends, runs a bounded scenario (`idle`, `fanout`, `rooms`) and reports connection
//! failures by cause, lost / duplicated / reordered deliveries, end-to-end latency, and the
//! memory and CPU of local backend processes.
//!
//! [`drain`] is a scenario of its own (its binary: `src/bin/drain.rs`): the mass reconnect
//! when a backend shuts down, with its own report.
//!
//! The binary (`src/main.rs`) is a thin command line over [`run::run`]; tests and other tools
//! can call the library directly.

pub mod addrs;
pub mod body;
pub mod cli;
pub mod conn;
pub mod drain;
pub mod plot;
pub mod procstat;
pub mod redisstats;
pub mod report;
pub mod run;
pub mod stats;
pub mod wire;

pub use report::Report;
pub use run::{Config, Scenario, run};
