//! Why this instance is not ready, told to the log once per change.

use std::sync::Mutex;

use crate::bus::BusError;

/// Logs why this instance is not ready when that changes, not on every probe: probes come
/// every few seconds and would bury the one line that matters.
#[derive(Debug, Default)]
pub struct ReadinessLog {
    /// The last failure logged; `None` while ready. Held only for a comparison, never
    /// across an `.await`.
    last_failure: Mutex<Option<String>>,
}

impl ReadinessLog {
    pub fn note(&self, outcome: &Result<(), BusError>) {
        let now = outcome.as_ref().err().map(ToString::to_string);
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last == now {
            return;
        }
        match &now {
            Some(error) => log::warn!(error:% = error; "Not ready: the bus cannot serve."),
            None => log::info!("Ready again: the bus serves."),
        }
        *last = now;
    }
}
