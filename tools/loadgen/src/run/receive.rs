//! The receiving side of a connection: every server frame accounted for (deliveries, acks,
//! refusals, disconnects), with a copy-free fast path for the `message` frames that are
//! nearly all the traffic.

use std::sync::atomic::Ordering::Relaxed;

use protocol::{MessageId, ServerFrame};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use super::{
    connection::{Conn, Step},
    shared::bump,
};
use crate::{body::Body, conn, stats::Seen};

/// The fields of a `message` frame loadgen needs, borrowed from the text when possible.
#[derive(Deserialize)]
struct FastMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<std::borrow::Cow<'a, str>>,
}

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
        // Fast path for the frame that is nearly all the traffic: `message`, read without
        // copying (protocol::ServerFrame is an internally tagged enum, which serde buffers).
        if let Ok(FastMessage {
            kind,
            id: Some(id),
            message: Some(message),
        }) = serde_json::from_str::<FastMessage>(&text)
            && kind == "message"
        {
            match id.parse::<MessageId>() {
                Ok(id) => self.on_message(id, &message),
                Err(_) => {
                    shared.bad_frames.fetch_add(1, Relaxed);
                }
            }
            return Step::Continue;
        }
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Message(m)) => self.on_message(m.id, &m.message),
            Ok(ServerFrame::Ack { nonce, .. }) => {
                let seq = nonce.and_then(|n| n.parse::<u32>().ok());
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
            Ok(ServerFrame::Error { code, nonce, .. }) => {
                if nonce.is_some() {
                    shared.refused_sends.fetch_add(1, Relaxed);
                }
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into());
                bump(&shared.send_errors, code);
            }
            Ok(
                ServerFrame::Welcome { .. }
                | ServerFrame::Presence { .. }
                | ServerFrame::Online { .. }
                | ServerFrame::Pong { .. }
                | ServerFrame::History { .. }
                | ServerFrame::Typing { .. }
                | ServerFrame::Refreshed { .. },
            ) => {}
            Err(_) => {
                shared.bad_frames.fetch_add(1, Relaxed);
            }
        }
        Step::Continue
    }

    fn on_message(&mut self, id: MessageId, text: &str) {
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
        self.tracker.observe_id(id);
        if self.tracker.observe(body.publisher, body.seq) != Seen::Duplicate {
            shared.unique.fetch_add(1, Relaxed);
            let micros = now.saturating_sub(body.sent_nanos) / 1000;
            shared.latency.record(self.idx, micros);
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::{ChannelId, ClientId};

    use super::*;

    #[test]
    fn fast_path_reads_the_protocol_message_frame() {
        let frame = ServerFrame::Message(protocol::ChatMessage {
            id: "1700000000000-3".parse().unwrap(),
            channel_id: ChannelId::parse("room").unwrap(),
            client_id: ClientId::parse("lg-p0").unwrap(),
            time: "2023-11-14T22:13:20.000Z".into(),
            message: "deadbeef:0:1:2 \"quoted\"".into(),
            name: None,
        });
        let text = frame.to_json();
        let fast: FastMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(fast.kind, "message");
        assert_eq!(fast.id.as_deref(), Some("1700000000000-3"));
        assert_eq!(fast.message.as_deref(), Some("deadbeef:0:1:2 \"quoted\""));
        let ack = ServerFrame::Ack {
            nonce: Some("1".into()),
            id: "1-0".parse().unwrap(),
        };
        let ack = ack.to_json();
        let fast: FastMessage = serde_json::from_str(&ack).unwrap();
        assert_eq!((fast.kind.as_ref(), fast.message), ("ack", None));
    }
}
