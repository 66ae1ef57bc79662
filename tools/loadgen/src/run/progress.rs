//! The live progress line on stderr, shown only when stderr is a terminal.

use std::{io::Write as _, sync::atomic::Ordering::Relaxed};

use super::shared::Shared;

pub(super) struct Progress {
    pub(super) enabled: bool,
    pub(super) total: usize,
}

impl Progress {
    pub(super) fn show(&self, phase: &str, s: &Shared, rate: f64, p99_ms: Option<f64>) {
        if !self.enabled {
            return;
        }
        let p99 = p99_ms.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{phase:<8} conns {}/{} failed {} | sent {} acked {} | {:.0} deliveries/s | p99 {p99}",
            s.opened.load(Relaxed),
            self.total,
            s.failed.load(Relaxed),
            s.sent.load(Relaxed),
            s.acked.load(Relaxed),
            rate,
        );
        let _ = err.flush();
    }

    pub(super) fn done(&self) {
        if self.enabled {
            let _ = writeln!(std::io::stderr());
        }
    }
}
