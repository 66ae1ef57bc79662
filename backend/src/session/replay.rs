//! A joining client's replay, read page by page as its socket drains.
//!
//! Each page is serialized only when the connection's queue has room for it (within the
//! queue's limits, see [`crate::outbox`]), so a client that resumes from the start of a long
//! history and reads nothing holds one page and a bounded queue, not the whole history
//! escaped into JSON. The replay ends with the session: what it had not sent is dropped.

use std::future::{Future, poll_fn};

use actix_http::ws::CloseCode;
use protocol::{ChannelId, ChatMessage, Epoch, ServerFrame};

use crate::{
    outbox::{Outbound, Outbox},
    state::AppState,
};

/// Messages read from the bus at once.
pub const PAGE: usize = 32;

/// Queues `first` (the page read when the client joined), then the following pages, and
/// lets live frames follow once the replay is complete. A page shorter than [`PAGE`] is the
/// last: anything newer is also queued live since the join, and the writer sends each id once.
pub async fn send(
    state: &AppState,
    channel: &ChannelId,
    epoch: &Epoch,
    first: Vec<ChatMessage>,
    outbox: &Outbox,
) {
    let mut page = first;
    loop {
        let full = page.len() >= PAGE;
        let mut last = None;
        for message in page {
            last = Some(message.id);
            let frame = Outbound::frame(&ServerFrame::Message(message));
            if outbox.replay(frame).await.is_err() {
                return;
            }
        }
        let Some(after) = last.filter(|_| full) else {
            break;
        };
        page = match state.bus.history_after(channel, after, epoch, PAGE).await {
            Ok(Some(page)) => page,
            Ok(None) => {
                // Trimmed (or the history lost) while the client was being replayed: it
                // resumes and is told.
                outbox.closer().request(
                    CloseCode::Again,
                    "messages may have been missed; reconnect with since",
                );
                return;
            }
            Err(e) => {
                log::warn!(channel:% = channel, error:% = e; "Could not read the rest of a replay.");
                outbox
                    .closer()
                    .request(CloseCode::Again, "unavailable, retry later");
                return;
            }
        };
    }
    outbox.end_replay();
}

/// Runs `events` (the session's event loop) to its end with `replay` alongside; a replay not
/// finished when the loop ends is dropped with the session. The replay is polled first, so
/// one that needs no waiting (a short history) is complete before the loop sees anything:
/// the answers to frames the client sent right away (and then closed) are not held behind an
/// unfinished replay.
///
/// Both live on the heap, not in the caller's task: the replay is freed once done, so a
/// connection that has been replayed to keeps nothing of it, and neither is stored twice
/// (an `async fn` would keep its arguments beside the running futures).
pub fn alongside<T>(
    replay: impl Future<Output = ()>,
    events: impl Future<Output = T>,
) -> impl Future<Output = T> {
    let mut replay = Some(Box::pin(replay));
    let mut events = Box::pin(events);
    poll_fn(move |cx| {
        if let Some(pending) = replay.as_mut()
            && pending.as_mut().poll(cx).is_ready()
        {
            replay = None;
        }
        events.as_mut().poll(cx)
    })
}
