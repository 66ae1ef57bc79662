//! Graceful shutdown, after mini-redis: one signal every connection listens for, and a count
//! of live connections the server waits on before it exits.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::{Notify, watch};

/// Set once when the instance starts shutting down; cheap to check and to wait for.
pub struct Shutdown {
    begun: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            begun: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    pub fn begin(&self) {
        self.begun.send_replace(true);
    }

    pub fn has_begun(&self) -> bool {
        *self.begun.borrow()
    }

    /// A future that resolves once shutdown has begun (at once if it already has).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut begun = self.begun.subscribe();
        async move {
            // Err only if the sender is gone, which means the instance is gone too.
            let _ = begun.wait_for(|b| *b).await;
        }
    }
}

/// Counts open WebSocket sessions, to cap them and so shutdown can wait until each has
/// cleaned up after itself (presence removed, subscriptions released).
#[derive(Default)]
pub struct ConnectionTracker {
    active: AtomicUsize,
    idle: Notify,
}

/// Held by a session for its whole life.
pub struct ConnectionGuard {
    tracker: Arc<ConnectionTracker>,
}

impl ConnectionTracker {
    /// Counts a new session, unless `max` are already open.
    pub fn try_track(self: &Arc<Self>, max: usize) -> Option<ConnectionGuard> {
        self.active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(ConnectionGuard {
            tracker: self.clone(),
        })
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Resolves when no session is open.
    pub async fn all_closed(&self) {
        loop {
            // Created before the check, so a wake-up between the two is not missed.
            let idle = self.idle.notified();
            if self.active() == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.tracker.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.tracker.idle.notify_waiters();
        }
    }
}

/// Resolves on SIGTERM (Cloud Run's stop signal) or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                log::warn!(error:% = e; "Cannot listen for SIGTERM; only Ctrl-C stops the server.");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
