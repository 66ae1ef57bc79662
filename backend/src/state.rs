//! What every request handler and session shares.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use crate::{
    admission::Admission,
    bus::{Bus, ConnKey, history_flights::HistoryFlights},
    config::Settings,
    hub::Hub,
    metrics::Metrics,
    rate_limit::SendBudgets,
    routes::{readiness_log::ReadinessLog, refusal_log::RefusalLog},
    shutdown::{ConnectionTracker, Shutdown},
};

pub struct AppState {
    pub settings: Settings,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    /// History reads under way, shared by clients joining one channel at once.
    pub history_flights: HistoryFlights,
    pub shutdown: Shutdown,
    pub connections: Arc<ConnectionTracker>,
    pub metrics: Arc<Metrics>,
    /// Why `/readyz` last failed, so it is logged once per change, not once per probe.
    pub readiness: ReadinessLog,
    /// Refused upgrades, logged once per source and reason at a bounded rate.
    pub refusals: RefusalLog,
    /// Send budgets per channel and client id, kept across reconnects until refilled.
    pub send_budgets: SendBudgets,
    /// Open connections per client id and per source address.
    pub admission: Arc<Admission>,
    /// Unique per process, so connection keys of two instances (or two runs of one
    /// revision) never collide in shared presence.
    pub instance_id: String,
    /// The runtime sessions run on: the hub's and the bus's, not the HTTP server's worker
    /// threads. A session then outlives the HTTP connection task that answered its upgrade
    /// (so that task, and all it held for the handshake, is freed after the `101`), and the
    /// hub's wake-ups of a connection's writer stay on one runtime.
    pub sessions: tokio::runtime::Handle,
    next_connection: AtomicU64,
}

impl AppState {
    pub fn new(
        settings: Settings,
        hub: Arc<Hub>,
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
    ) -> Self {
        // Built inside the runtime that runs the hub and the bus (it spawned them).
        let sessions = tokio::runtime::Handle::current();
        let instance_id = settings.instance_id.clone();
        let send_budgets = SendBudgets::new(settings.limits.rate);
        let connections = settings.limits.connections;
        let admission = Arc::new(Admission::new(
            connections.per_client,
            connections.per_address,
        ));
        Self {
            settings,
            hub,
            bus,
            shutdown: Shutdown::default(),
            connections: Arc::default(),
            metrics,
            readiness: ReadinessLog::default(),
            refusals: RefusalLog::default(),
            send_budgets,
            history_flights: HistoryFlights::default(),
            admission,
            instance_id,
            sessions,
            next_connection: AtomicU64::new(0),
        }
    }

    pub fn next_conn_key(&self) -> ConnKey {
        let n = self.next_connection.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.instance_id)
    }
}
