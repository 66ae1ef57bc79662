//! A connection's outbound side: its queue, bounded by frames and by bytes, and the means
//! to close it from anywhere.
//!
//! The hub offers every live event without waiting. A connection whose queue is full (its
//! client reads slower than the channel talks) is closed with 1013 and resumes from history
//! when it comes back, rather than losing messages silently or stalling anyone else.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use actix_ws::{CloseCode, CloseReason};
use bytestring::ByteString;
use protocol::{MessageId, ServerFrame};
use tokio::sync::{Notify, mpsc};

/// One frame queued for a connection's writer.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Set for `message` frames: the writer drops any whose id it has already sent, which is
    /// what makes replayed history and live delivery meet without a duplicate.
    pub id: Option<MessageId>,
    /// The serialized frame, shared by every recipient.
    pub text: ByteString,
}

impl Outbound {
    pub fn frame(frame: &ServerFrame) -> Self {
        let id = match frame {
            ServerFrame::Message(m) => Some(m.id),
            _ => None,
        };
        Self {
            id,
            text: frame.to_json().into(),
        }
    }
}

/// Asks a connection's writer to close the socket, from anywhere and at most once.
#[derive(Default)]
pub struct Closer {
    reason: Mutex<Option<CloseReason>>,
    notify: Notify,
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
        self.notify.notify_one();
        true
    }

    /// Resolves with the first requested reason.
    pub async fn requested(&self) -> CloseReason {
        loop {
            if let Some(reason) = self
                .reason
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return reason;
            }
            self.notify.notified().await;
        }
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
        let len = frame.text.len();
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
    /// own reader ever waits here.
    pub async fn send(&self, frame: Outbound) -> Result<(), Gone> {
        let len = frame.text.len();
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        self.frames.send(frame).await.map_err(|_| {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            Gone
        })
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
    pub async fn recv(&mut self) -> Option<Outbound> {
        let frame = self.frames.recv().await?;
        self.queued_bytes
            .fetch_sub(frame.text.len(), Ordering::Relaxed);
        Some(frame)
    }
}
