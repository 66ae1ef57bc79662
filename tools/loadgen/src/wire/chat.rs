//! Our chat protocol (v1): `welcome` on join, `send` with a nonce, `ack` / `error` / `message`
//! back; `message` frames, nearly all the traffic, are read without copying.

use std::borrow::Cow;

use protocol::{ClientFrame, MessageId, ServerFrame};
use serde::Deserialize;
use tokio::time::Instant;

use super::Incoming;
use crate::conn::{self, Ws};

/// Waits for `welcome` (the server's word that the socket joined its channel).
pub(super) async fn await_welcome(ws: &mut Ws, deadline: Instant) -> Result<(), String> {
    let text = conn::next_text(ws, deadline, "welcome").await?;
    match serde_json::from_str::<ServerFrame>(&text) {
        Ok(ServerFrame::Welcome { .. }) => Ok(()),
        Ok(ServerFrame::Error { code, .. }) => Err(format!("error_{}", code_name(&code))),
        _ => Err("no_welcome".into()),
    }
}

pub(super) fn send(message: String, seq: u32) -> Option<String> {
    let frame = ClientFrame::Send {
        message,
        nonce: Some(seq.to_string()),
    };
    serde_json::to_string(&frame).ok()
}

/// The fields of a `message` frame loadgen needs, borrowed from the text when possible.
#[derive(Deserialize)]
struct FastMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

pub(super) fn parse(text: &str) -> Incoming<'_> {
    // Fast path: protocol::ServerFrame is an internally tagged enum, which serde buffers.
    if let Ok(FastMessage {
        kind,
        id: Some(id),
        message: Some(message),
    }) = serde_json::from_str::<FastMessage>(text)
        && kind == "message"
    {
        return match id.parse::<MessageId>() {
            Ok(id) => Incoming::Message {
                id: Some(id),
                text: message,
            },
            Err(_) => Incoming::Bad,
        };
    }
    match serde_json::from_str::<ServerFrame>(text) {
        Ok(ServerFrame::Message(m)) => Incoming::Message {
            id: Some(m.id),
            text: Cow::Owned(m.message),
        },
        Ok(ServerFrame::Ack { nonce, .. }) => Incoming::Ack {
            seq: nonce.and_then(|n| n.parse::<u32>().ok()),
        },
        Ok(ServerFrame::Error { code, nonce, .. }) => Incoming::Error {
            code: code_name(&code),
            for_send: nonce.is_some(),
        },
        Ok(
            ServerFrame::Welcome { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Pong { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Refreshed { .. },
        ) => Incoming::Other,
        Err(_) => Incoming::Bad,
    }
}

/// An error code's wire name (`rate_limited`, …).
fn code_name(code: &impl serde::Serialize) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use protocol::{ChannelId, ClientId};

    use super::*;

    #[test]
    fn reads_message_ack_and_error_frames() {
        let frame = ServerFrame::Message(protocol::ChatMessage {
            id: "1700000000000-3".parse().unwrap(),
            channel_id: ChannelId::parse("room").unwrap(),
            client_id: ClientId::parse("lg-p0").unwrap(),
            time: "2023-11-14T22:13:20.000Z".into(),
            message: "deadbeef:0:1:2 \"quoted\"".into(),
            name: None,
        });
        assert_eq!(
            parse(&frame.to_json()),
            Incoming::Message {
                id: Some("1700000000000-3".parse().unwrap()),
                text: "deadbeef:0:1:2 \"quoted\"".into(),
            }
        );
        let ack = ServerFrame::Ack {
            nonce: Some("7".into()),
            id: "1-0".parse().unwrap(),
        };
        assert_eq!(parse(&ack.to_json()), Incoming::Ack { seq: Some(7) });
        assert_eq!(parse("{\"type\":\"nonsense\"}"), Incoming::Bad);
        let sent = send("hi".into(), 3).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["type"], "send");
        assert_eq!(sent["nonce"], "3");
        assert_eq!(sent["message"], "hi");
    }
}
