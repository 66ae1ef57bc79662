//! The payload published on a channel's pub/sub channel.
//!
//! Written by the Lua scripts and read by every instance's subscriber, so it is kept
//! trivial to produce in Lua: newline-separated fields, the free-text field last.
//! - message: `m\n<id>\n<client id>\n<text>`
//! - presence: `j\n<client id>\n<online count>` (join) or `l\n…` (leave)

use protocol::{ChannelId, ChatMessage, ClientId, PresenceEvent, time::rfc3339_millis};

use crate::bus::BusEvent;

#[derive(Debug, thiserror::Error)]
#[error("malformed event payload: {0}")]
pub struct MalformedEvent(&'static str);

pub fn decode(channel: &ChannelId, payload: &[u8]) -> Result<BusEvent, MalformedEvent> {
    let text = std::str::from_utf8(payload).map_err(|_| MalformedEvent("not UTF-8"))?;
    let (kind, rest) = text.split_once('\n').ok_or(MalformedEvent("no kind"))?;
    match kind {
        "m" => {
            let mut fields = rest.splitn(3, '\n');
            let (Some(id), Some(client), Some(message)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(MalformedEvent("message fields missing"));
            };
            let id: protocol::MessageId = id.parse().map_err(|_| MalformedEvent("bad id"))?;
            Ok(BusEvent::Message(ChatMessage {
                id,
                channel_id: channel.clone(),
                client_id: ClientId::parse(client).map_err(|_| MalformedEvent("bad client"))?,
                time: rfc3339_millis(id.millis),
                message: message.to_owned(),
            }))
        }
        "j" | "l" => {
            let (client, count) = rest
                .split_once('\n')
                .ok_or(MalformedEvent("presence fields missing"))?;
            Ok(BusEvent::Presence {
                event: if kind == "j" {
                    PresenceEvent::Join
                } else {
                    PresenceEvent::Leave
                },
                client_id: ClientId::parse(client).map_err(|_| MalformedEvent("bad client"))?,
                online_count: count.parse().map_err(|_| MalformedEvent("bad count"))?,
            })
        }
        _ => Err(MalformedEvent("unknown kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_messages_with_newlines_in_the_text() {
        let channel = ChannelId::parse("room").unwrap();
        let event = decode(
            &channel,
            "m\n1700000000000-3\nalice\nline 1\nline 2".as_bytes(),
        )
        .unwrap();
        let BusEvent::Message(m) = event else {
            panic!("not a message")
        };
        assert_eq!(m.id.to_string(), "1700000000000-3");
        assert_eq!(m.message, "line 1\nline 2");
        assert_eq!(m.time, "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn decodes_presence_and_rejects_garbage() {
        let channel = ChannelId::parse("room").unwrap();
        assert_eq!(
            decode(&channel, b"l\nbob\n4").unwrap(),
            BusEvent::Presence {
                event: PresenceEvent::Leave,
                client_id: ClientId::parse("bob").unwrap(),
                online_count: 4
            }
        );
        for bad in [
            &b"x\n1"[..],
            b"m\n1-0\nalice",
            b"j\nbob\nmany",
            b"m\nnope\na\nb",
            b"\xff",
        ] {
            assert!(decode(&channel, bad).is_err());
        }
    }
}
