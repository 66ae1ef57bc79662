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

/// The `message` frame as the backend writes it (`ServerFrame::to_json`: the tag, then the
/// fields in declaration order), scanned key by key: `{"type":"message","id":"<id>",
/// "channel_id":"…","client_id":"…","time":"…","message":"<text>"[,"name":…]}`.
fn scan_message(text: &str) -> Option<Incoming<'_>> {
    let rest = text.strip_prefix(r#"{"type":"message","id":""#)?;
    let (id, rest) = super::plain_string(rest)?;
    let mut rest = rest;
    for key in [r#","channel_id":""#, r#","client_id":""#, r#","time":""#] {
        (_, rest) = super::plain_string(rest.strip_prefix(key)?)?;
    }
    let (message, rest) = super::plain_string(rest.strip_prefix(r#","message":""#)?)?;
    if !(rest == "}" || rest.starts_with(',')) {
        return None;
    }
    Some(match id.parse::<MessageId>() {
        Ok(id) => Incoming::Message {
            id: Some(id),
            text: Cow::Borrowed(message),
        },
        Err(_) => Incoming::Bad,
    })
}

pub(super) fn parse(text: &str) -> Incoming<'_> {
    if let Some(message) = scan_message(text) {
        return message;
    }
    // Then a borrowing parse of the same frame in any layout: protocol::ServerFrame is an
    // internally tagged enum, which serde buffers.
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
        // The backend's frames (ServerFrame::to_json) take the scan; an escaped text does not.
        let plain = ServerFrame::Message(protocol::ChatMessage {
            message: "deadbeef:0:1:2".into(),
            ..match &frame {
                ServerFrame::Message(m) => m.clone(),
                _ => unreachable!(),
            }
        });
        assert!(scan_message(&plain.to_json()).is_some());
        assert!(scan_message(&frame.to_json()).is_none());
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
        // The scan takes the frame as the backend writes it; other layouts, escapes and a
        // name after the text still read the same.
        let plain = r#"{"type":"message","id":"5-1","channel_id":"c","client_id":"k","time":"t","message":"deadbeef:0:1:2"}"#;
        let named = r#"{"type":"message","id":"5-1","channel_id":"c","client_id":"k","time":"t","message":"deadbeef:0:1:2","name":"N"}"#;
        let moved = r#"{"type":"message","channel_id":"c","client_id":"k","time":"t","message":"deadbeef:0:1:2","id":"5-1"}"#;
        let want = Incoming::Message {
            id: Some("5-1".parse().unwrap()),
            text: "deadbeef:0:1:2".into(),
        };
        assert!(matches!(
            scan_message(plain),
            Some(Incoming::Message { .. })
        ));
        assert!(matches!(
            scan_message(named),
            Some(Incoming::Message { .. })
        ));
        assert!(scan_message(moved).is_none());
        for frame in [plain, named, moved] {
            assert_eq!(parse(frame), want, "{frame}");
        }
        let bad_id = r#"{"type":"message","id":"x","channel_id":"c","client_id":"k","time":"t","message":"m"}"#;
        assert_eq!(parse(bad_id), Incoming::Bad);
        let sent = send("hi".into(), 3).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["type"], "send");
        assert_eq!(sent["nonce"], "3");
        assert_eq!(sent["message"], "hi");
    }
}
