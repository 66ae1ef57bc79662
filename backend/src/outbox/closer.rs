//! Closing a connection from anywhere: the hub (too slow, gap, shutdown), the session's
//! event loop (the client left, pong timeout, bad frames) or the session's end (cleanup
//! done).

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
};

use actix_http::ws::{CloseCode, CloseReason};
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Closes a connection in steps, from anywhere and at most once.
///
/// [`request`](Self::request) stops delivery at once (nothing more is written after it)
/// and wakes the session, which cleans up; [`farewell`](Self::farewell) then lets the
/// writer send the close frame, and [`hang_up`](Self::hang_up) end its stream, which
/// closes the TCP connection.
#[derive(Default)]
pub struct Closer {
    reason: Mutex<Option<CloseReason>>,
    /// Mirrors `reason.is_some()`, so the writer can check it on every wake-up without a lock.
    requested: AtomicBool,
    /// Set when the first request lets the writer send what was already queued before the
    /// close frame: the client closed or broke the protocol, and what it was owed (the
    /// answer to its last message, the pong to its last ping) still goes out.
    drain: AtomicBool,
    farewell: AtomicBool,
    hang_up: AtomicBool,
    /// Wakes the session's waits for room in the queue.
    notify: Notify,
    /// Wakes the session's event loop: a waker slot rather than a [`Notify`] waiter, which
    /// would keep about a hundred bytes in every idle connection's state.
    session: AtomicWaker,
    /// Wakes the writer.
    writer: AtomicWaker,
}

impl Closer {
    /// Requests a close; the first reason wins. Returns whether this was the first.
    pub fn request(&self, code: CloseCode, description: &str) -> bool {
        let mut reason = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if reason.is_some() {
            return false;
        }
        *reason = Some(CloseReason {
            code,
            description: Some(description.to_owned()),
        });
        self.requested.store(true, Ordering::Release);
        drop(reason);
        self.notify.notify_waiters();
        self.session.wake();
        self.writer.wake();
        true
    }

    /// Requests a close after whatever is queued now has gone out (the first reason still
    /// wins; a close already requested stays immediate).
    pub fn request_after_queued(&self, code: CloseCode, description: &str) {
        if self.request(code, description) {
            self.drain.store(true, Ordering::Release);
        }
    }

    /// For the writer: whether queued frames still go out before the close frame.
    pub fn drains(&self) -> bool {
        self.drain.load(Ordering::Acquire)
    }

    /// Lets the writer send the close frame (with the first requested reason, or `code`
    /// and `description` if none was requested) and end the connection.
    pub fn farewell(&self, code: CloseCode, description: &str) {
        self.request(code, description);
        self.farewell.store(true, Ordering::Release);
        self.writer.wake();
    }

    /// Lets the writer end its stream once its close frame is out.
    pub fn hang_up(&self) {
        self.hang_up.store(true, Ordering::Release);
        self.writer.wake();
    }

    /// For the writer: whether its stream may end.
    pub fn hang_up_due(&self) -> bool {
        self.hang_up.load(Ordering::Acquire)
    }

    /// Resolves with the first requested reason.
    pub async fn requested(&self) -> CloseReason {
        loop {
            // Listen before looking, so a request between the two is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }

    /// For the session's event loop (one waiter): ready once a close has been requested.
    pub fn poll_requested(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before the flag is read, so a request in between still wakes it.
        self.session.register(cx.waker());
        if self.is_requested() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// For the writer: the close frame to send now, if the farewell has been said.
    pub fn farewell_due(&self) -> Option<CloseReason> {
        if self.farewell.load(Ordering::Acquire) {
            self.reason()
        } else {
            None
        }
    }

    /// For the writer: wake `waker` on the next request or farewell.
    pub fn register_writer(&self, waker: &Waker) {
        self.writer.register(waker);
    }

    fn reason(&self) -> Option<CloseReason> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{Arc, atomic::AtomicUsize},
        task::Wake,
    };

    use super::*;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_request_wakes_the_waiting_event_loop_once_ready() {
        let closer = Closer::default();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(closer.poll_requested(&mut cx), Poll::Pending);
        assert!(closer.request(CloseCode::Away, "bye"));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(closer.poll_requested(&mut cx), Poll::Ready(()));
    }
}
