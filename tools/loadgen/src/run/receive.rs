//! The receiving side of a connection: every server frame accounted for (deliveries, acks,
//! refusals, disconnects, keepalives to answer), whatever the server's protocol ([`Wire`]).
//!
//! [`Wire`]: crate::wire::Wire

use std::sync::atomic::Ordering::Relaxed;

use protocol::MessageId;
use tokio_tungstenite::tungstenite::Message;

use super::{
    connection::{Conn, Step},
    shared::bump,
};
use crate::{body::Body, conn, stats::Seen, wire::Incoming};

impl Conn {
    /// Accounts for one frame (or the end of the stream) from the server.
    pub(super) fn handle(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Step {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or("closed".to_owned(), |f| {
                    format!("close_{}", u16::from(f.code))
                });
                bump(&self.shared.disconnects, why);
                return Step::Closed;
            }
            Some(Ok(_)) => return Step::Continue,
            Some(Err(e)) => {
                bump(&self.shared.disconnects, conn::ws_cause(&e));
                return Step::Closed;
            }
            None => {
                bump(&self.shared.disconnects, "closed".into());
                return Step::Closed;
            }
        };
        let shared = &*self.shared;
        match shared.wire.parse(&text) {
            Incoming::Message { id, text } => self.on_message(id, &text),
            Incoming::Ack { seq } => {
                if let Some(seq) = seq.filter(|&s| s < self.next_seq)
                    && self.acked.insert(seq)
                {
                    shared.acked.fetch_add(1, Relaxed);
                    let members = shared
                        .members
                        .get()
                        .and_then(|m| m.get(self.spec.channel))
                        .copied()
                        .unwrap_or(0);
                    shared.expected.fetch_add(members, Relaxed);
                    let sent = self.sent_at.get(seq as usize).copied().unwrap_or(0);
                    shared
                        .ack_latency
                        .record(self.idx, shared.nanos().saturating_sub(sent) / 1000);
                }
            }
            Incoming::Error { code, for_send } => {
                if for_send {
                    shared.refused_sends.fetch_add(1, Relaxed);
                }
                bump(&shared.send_errors, code);
            }
            Incoming::Reply(answer) => return Step::Reply(answer),
            Incoming::Closed(why) => {
                bump(&shared.disconnects, why.into());
                return Step::Closed;
            }
            Incoming::Other => {}
            Incoming::Bad => {
                shared.bad_frames.fetch_add(1, Relaxed);
            }
        }
        Step::Continue
    }

    fn on_message(&mut self, id: Option<MessageId>, text: &str) {
        let shared = &*self.shared;
        let now = shared.nanos();
        let Some(body) = Body::decode(text).filter(|b| {
            b.run == shared.run
                && shared
                    .planned
                    .get(b.publisher as usize)
                    .is_some_and(|&n| b.seq < n)
        }) else {
            shared.foreign.fetch_add(1, Relaxed);
            return;
        };
        shared.deliveries.fetch_add(1, Relaxed);
        if let Some(id) = id {
            self.tracker.observe_id(id);
        }
        if self.tracker.observe(body.publisher, body.seq) != Seen::Duplicate {
            shared.unique.fetch_add(1, Relaxed);
            let micros = now.saturating_sub(body.sent_nanos) / 1000;
            shared.latency.record(self.idx, micros);
        }
    }
}
