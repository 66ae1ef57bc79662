//! A connection's outbound side: its queue, bounded by frames and by bytes, and the means
//! to close it from anywhere.
//!
//! The hub offers every live event without waiting. A connection whose queue is full (its
//! client reads slower than the channel talks) is closed with 1013 and resumes from history
//! when it comes back, rather than losing messages silently or stalling anyone else.
//!
//! The receiving end is the socket's writer itself (the WebSocket response body), so a
//! queued frame is one wake-up away from the socket, and frames that queued up while the
//! socket was busy go out in one write.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};
use std::task::{Context, Poll, Waker};

use actix_http::ws::{CloseCode, CloseReason};
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use protocol::{MessageId, ServerFrame};
use tokio::sync::{Notify, mpsc};

/// One frame queued for a connection's socket.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Set for `message` frames: the writer drops any whose id it has already sent, which is
    /// what makes replayed history and live delivery meet without a duplicate.
    pub id: Option<MessageId>,
    pub kind: FrameKind,
}

#[derive(Debug, Clone)]
pub enum FrameKind {
    /// A serialized server frame, shared by every recipient.
    Text(ByteString),
    /// The server's liveness probe.
    Ping,
    /// The answer to a client's ping, echoing its payload.
    Pong(Bytes),
}

impl Outbound {
    pub fn frame(frame: &ServerFrame) -> Self {
        let id = match frame {
            ServerFrame::Message(m) => Some(m.id),
            _ => None,
        };
        Self {
            id,
            kind: FrameKind::Text(frame.to_json().into()),
        }
    }

    pub fn ping() -> Self {
        Self {
            id: None,
            kind: FrameKind::Ping,
        }
    }

    pub fn pong(payload: Bytes) -> Self {
        Self {
            id: None,
            kind: FrameKind::Pong(payload),
        }
    }

    /// What the frame counts for against the queue's byte limit.
    fn len(&self) -> usize {
        match &self.kind {
            FrameKind::Text(text) => text.len(),
            FrameKind::Ping => 0,
            FrameKind::Pong(payload) => payload.len(),
        }
    }
}

/// Closes a connection in steps, from anywhere and at most once.
///
/// [`request`](Self::request) stops delivery at once (nothing more is written after it)
/// and wakes the session, which cleans up; [`farewell`](Self::farewell) then lets the
/// writer send the close frame, and [`hang_up`](Self::hang_up) end the response, which
/// closes the TCP connection.
#[derive(Default)]
pub struct Closer {
    reason: Mutex<Option<CloseReason>>,
    /// Mirrors `reason.is_some()`, so the writer can check it on every wake-up without a lock.
    requested: AtomicBool,
    farewell: AtomicBool,
    hang_up: AtomicBool,
    /// Wakes the session.
    notify: Notify,
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
        self.writer.wake();
        true
    }

    /// Lets the writer send the close frame (with the first requested reason, or `code`
    /// and `description` if none was requested) and end the connection.
    pub fn farewell(&self, code: CloseCode, description: &str) {
        self.request(code, description);
        self.farewell.store(true, Ordering::Release);
        self.writer.wake();
    }

    /// Lets the writer end the response once its close frame is out.
    pub fn hang_up(&self) {
        self.hang_up.store(true, Ordering::Release);
        self.writer.wake();
    }

    /// For the writer: whether the response may end.
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

/// How much a connection may have queued before it counts as too slow.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub frames: usize,
    pub bytes: usize,
}

/// The sending side, shared by the hub (fan-out) and the session (replies).
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Outbound>,
    /// Bytes queued and not yet written; the writer subtracts what it sends.
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    closer: Arc<Closer>,
}

/// The receiving side, owned by the connection's writer.
pub struct Inbox {
    frames: mpsc::Receiver<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
}

/// What became of a live event offered to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    Queued,
    /// The queue was full: the event was dropped and the connection asked to close
    /// (`first_close` is true the first time).
    TooSlow {
        first_close: bool,
    },
    /// The connection is closing anyway.
    Gone,
}

/// The connection is gone; nothing more can be queued for it.
#[derive(Debug)]
pub struct Gone;

pub fn outbox(limits: QueueLimits) -> (Outbox, Inbox) {
    let (sender, receiver) = mpsc::channel(limits.frames);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            frames: sender,
            queued_bytes: queued_bytes.clone(),
            max_bytes: limits.bytes,
            closer: Arc::new(Closer::default()),
        },
        Inbox {
            frames: receiver,
            queued_bytes,
        },
    )
}

impl Outbox {
    /// Queues a live event without waiting. A connection that cannot take it is closed
    /// (1013); the client resumes with `since` and misses nothing.
    pub fn offer(&self, frame: Outbound) -> Offered {
        let len = frame.len();
        if self.queued_bytes.fetch_add(len, Ordering::Relaxed) + len > self.max_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return self.too_slow();
        }
        match self.frames.try_send(frame) {
            Ok(()) => Offered::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                self.too_slow()
            }
            // The connection is on its way out; its cleanup removes it from the hub.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                Offered::Gone
            }
        }
    }

    /// Queues a reply to the client's own frame, waiting for room: only the connection's
    /// own reader ever waits here. Once a close is requested the writer stops draining the
    /// queue, so the wait ends there too.
    pub async fn send(&self, frame: Outbound) -> Result<(), Gone> {
        let len = frame.len();
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        let sent = tokio::select! {
            sent = self.frames.send(frame) => sent.is_ok(),
            _ = self.closer.requested() => false,
        };
        if !sent {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            return Err(Gone);
        }
        Ok(())
    }

    pub fn closer(&self) -> &Arc<Closer> {
        &self.closer
    }

    fn too_slow(&self) -> Offered {
        Offered::TooSlow {
            first_close: self.closer.request(
                CloseCode::Again,
                "too slow: outbound queue full; reconnect with since",
            ),
        }
    }
}

impl Inbox {
    /// Takes the next queued frame, or registers `cx` to be woken when one arrives.
    /// `Ready(None)` once every sender is gone.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        let polled = self.frames.poll_recv(cx);
        if let Poll::Ready(Some(frame)) = &polled {
            self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        }
        polled
    }
}
