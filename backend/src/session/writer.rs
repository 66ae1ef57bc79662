//! A connection's writer: the only task that writes frames to the socket once the replay is
//! done. It ends when the connection must close, and says why; the session says goodbye
//! after cleaning up.

use std::sync::Arc;

use actix_ws::{CloseReason, Session};
use protocol::MessageId;

use crate::{
    metrics::Metrics,
    outbox::{Closer, Inbox},
};

/// Writes queued frames until a close is requested (returned) or the connection is gone
/// (`None`).
pub async fn run(
    mut session: Session,
    mut inbox: Inbox,
    mut last_sent: Option<MessageId>,
    closer: Arc<Closer>,
    metrics: Arc<Metrics>,
) -> Option<CloseReason> {
    loop {
        let frame = tokio::select! {
            biased;
            reason = closer.requested() => return Some(reason),
            next = inbox.recv() => next?,
        };
        if let Some(id) = frame.id {
            // Already replayed from history, or a duplicate: never send twice.
            if last_sent.is_some_and(|last| id <= last) {
                continue;
            }
            last_sent = Some(id);
        }
        // A client that stops reading blocks this write; a close request must still win.
        tokio::select! {
            biased;
            reason = closer.requested() => return Some(reason),
            sent = session.text(frame.text) => sent.ok()?,
        }
        if frame.id.is_some() {
            metrics.message_out();
        }
    }
}
