//! A connection's outbound side: its queue, bounded by frames and by bytes, and the means
//! to close it from anywhere.
//!
//! The hub offers every live event without waiting. A connection whose queue is full (its
//! client reads slower than the channel talks) is closed with 1013 and resumes from history
//! when it comes back, rather than losing messages silently or stalling anyone else.
//!
//! The receiving end ([`OutboxReceiver`]) belongs to the connection's writer, which writes
//! to the socket itself, so a queued frame is one wake-up away from the socket, and frames
//! that queued up while the socket was busy go out in one write.

mod closer;
mod queue;

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use actix_http::ws::CloseCode;
use bytes::Bytes;
use bytestring::ByteString;
use protocol::{MessageId, ServerFrame};

pub use self::closer::Closer;
use self::queue::{Queue, Refused};

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
    pub(crate) fn len(&self) -> usize {
        match &self.kind {
            FrameKind::Text(text) => text.len(),
            FrameKind::Ping => 0,
            FrameKind::Pong(payload) => payload.len(),
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
pub struct Outbox {
    queue: Arc<Queue>,
    closer: Arc<Closer>,
}

/// The receiving side, owned by the connection's writer.
pub struct OutboxReceiver {
    queue: Arc<Queue>,
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

/// A connection's queue: the sending side for the hub and the session, the receiving side
/// for its writer.
pub fn channel(limits: QueueLimits) -> (Outbox, OutboxReceiver) {
    let queue = Arc::new(Queue::new(limits));
    (
        Outbox {
            queue: queue.clone(),
            closer: Arc::new(Closer::default()),
        },
        OutboxReceiver { queue },
    )
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.queue.add_sender();
        Self {
            queue: self.queue.clone(),
            closer: self.closer.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.queue.drop_sender();
    }
}

impl Outbox {
    /// Queues a live event without waiting. A connection that cannot take it is closed
    /// (1013); the client resumes with `since` and misses nothing.
    pub fn offer(&self, frame: Outbound) -> Offered {
        match self.queue.try_push(frame) {
            Ok(()) => Offered::Queued,
            Err(Refused::Full(_)) => Offered::TooSlow {
                first_close: self.closer.request(
                    CloseCode::Again,
                    "too slow: outbound queue full; reconnect with since",
                ),
            },
            // The connection is on its way out; its cleanup removes it from the hub.
            Err(Refused::Gone) => Offered::Gone,
        }
    }

    /// Queues a reply to the client's own frame, waiting for room (in frames and bytes):
    /// only the session's own event loop ever waits here. Once a close is requested the
    /// writer stops draining the queue, so the wait ends there too.
    pub async fn send(&self, frame: Outbound) -> Result<(), Gone> {
        tokio::select! {
            sent = self.queue.push(frame) => sent,
            _ = self.closer.requested() => Err(Gone),
        }
    }

    /// Queues a frame of the joining client's replay, ahead of live frames, once there is
    /// room: the replay is read page by page as the socket drains, never held whole.
    pub async fn replay(&self, frame: Outbound) -> Result<(), Gone> {
        tokio::select! {
            sent = self.queue.push_replay(frame) => sent,
            _ = self.closer.requested() => Err(Gone),
        }
    }

    /// The replay is complete; live frames follow. Until then none are written.
    pub fn end_replay(&self) {
        self.queue.end_replay();
    }

    /// The session is over: drops everything still queued (nothing more is written after a
    /// close request) and refuses anything more, so a client that stopped reading holds no
    /// replay or backlog while its close frame waits. A close that lets queued frames go out
    /// first (the client closed, or broke the protocol) keeps what it was owed.
    pub fn discard(&self) {
        if self.closer.drains() {
            self.queue.close_keeping_answers();
        } else {
            self.queue.close();
        }
    }

    pub fn closer(&self) -> &Arc<Closer> {
        &self.closer
    }
}

impl OutboxReceiver {
    /// Takes the next queued frame, or registers `cx` to be woken when one arrives.
    /// `Ready(None)` once every sender is gone.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        self.queue.poll_pop(cx)
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.queue.close();
    }
}
