//! Refused upgrades, told to operators without letting a client flood the log.
//!
//! Every refusal is counted (by reason, in the metrics). A log line is written for a source
//! address and reason once per [`QUIET_PERIOD`], and never more than [`LINES_PER_PERIOD`] lines
//! a period in all: a client retrying a bad token a hundred times a second, or a botnet
//! hitting the connection limit from many addresses, costs a few lines, not one a request.
//! What was left out is said in the next line written (`suppressed`).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::handshake_error::{HandshakeError, RefusalReason};

/// How long a source is not logged again for the same reason.
pub const QUIET_PERIOD: Duration = Duration::from_secs(60);
/// Lines this instance writes about refusals per [`QUIET_PERIOD`], whatever the sources.
pub const LINES_PER_PERIOD: u32 = 100;
/// Sources remembered at once; beyond it a refusal from a new source is not logged (it is
/// still counted), so remembering cannot grow without bound either.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub struct RefusalLog {
    state: Mutex<Window>,
    /// Refusals not logged since the last line that was.
    suppressed: AtomicU64,
}

#[derive(Debug)]
struct Window {
    /// When the current period began; `lines` and `seen` start over with each period.
    began: Instant,
    lines: u32,
    seen: HashMap<(Option<IpAddr>, RefusalReason), Instant>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self {
            state: Mutex::new(Window {
                began: Instant::now(),
                lines: 0,
                seen: HashMap::new(),
            }),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl RefusalLog {
    /// Logs `refusal` of a request from `source` unless that source was logged for the same
    /// reason within the quiet period or the period's lines are spent.
    pub fn note(&self, refusal: &HandshakeError, source: Option<IpAddr>) {
        if !self.should_log(source, refusal.reason(), Instant::now()) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        let source = source.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        log::warn!(
            reason = refusal.reason().label(),
            code = refusal.code(),
            source = source.as_str(),
            suppressed = suppressed;
            "Refused a WebSocket upgrade: {refusal}."
        );
    }

    fn should_log(&self, source: Option<IpAddr>, reason: RefusalReason, now: Instant) -> bool {
        let mut window = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(window.began) >= QUIET_PERIOD {
            window.began = now;
            window.lines = 0;
            window
                .seen
                .retain(|_, logged| now.duration_since(*logged) < QUIET_PERIOD);
        }
        if window.lines >= LINES_PER_PERIOD {
            return false;
        }
        let key = (source, reason);
        match window.seen.get(&key) {
            Some(logged) if now.duration_since(*logged) < QUIET_PERIOD => return false,
            None if window.seen.len() >= MAX_REMEMBERED => return false,
            _ => {}
        }
        window.seen.insert(key, now);
        window.lines += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn a_source_is_logged_once_per_reason_and_period() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        assert!(log.should_log(addr(1), RefusalReason::Token, t0));
        assert!(!log.should_log(addr(1), RefusalReason::Token, t0));
        assert!(log.should_log(addr(1), RefusalReason::Origin, t0));
        assert!(log.should_log(addr(2), RefusalReason::Token, t0));
        let later = t0 + QUIET_PERIOD;
        assert!(log.should_log(addr(1), RefusalReason::Token, later));
    }

    #[test]
    fn many_sources_cost_a_bounded_number_of_lines() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        let logged = (0..=u16::MAX)
            .filter(|n| {
                let source = Some(IpAddr::from([10, 1, (n >> 8) as u8, *n as u8]));
                log.should_log(source, RefusalReason::LimitAddress, t0)
            })
            .count();
        assert_eq!(logged, LINES_PER_PERIOD as usize);
        let next_period = t0 + QUIET_PERIOD;
        assert!(log.should_log(addr(200), RefusalReason::LimitAddress, next_period));
    }
}
