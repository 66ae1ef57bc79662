//! A connection's writer: the only task that writes frames to the socket once the replay is
//! done, and the one that closes it.

use std::{future::Future, sync::Arc};

use actix_ws::{CloseCode, CloseReason, Session};
use protocol::MessageId;
use tokio::sync::mpsc;

use crate::hub::{Closer, Outbound};

pub async fn run(
    mut session: Session,
    mut inbox: mpsc::Receiver<Outbound>,
    mut last_sent: Option<MessageId>,
    closer: Arc<Closer>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let reason = loop {
        tokio::select! {
            biased;
            reason = closer.requested() => break Some(reason),
            _ = &mut shutdown => break Some(CloseReason {
                code: CloseCode::Restart,
                description: Some("server restarting; reconnect with since".into()),
            }),
            next = inbox.recv() => match next {
                // The session is over and the hub has let go of this connection.
                None => break None,
                Some(frame) => {
                    if let Some(id) = frame.id {
                        // Already replayed from history, or a duplicate: never send twice.
                        if last_sent.is_some_and(|last| id <= last) {
                            continue;
                        }
                        last_sent = Some(id);
                    }
                    if session.text(frame.text).await.is_err() {
                        return;
                    }
                }
            },
        }
    };
    let _ = session.close(reason).await;
}
