//! The payload published on a channel's pub/sub channel.
//!
//! Written by the Lua scripts (and `Bus::signal`) and read by every instance's subscriber,
//! so it is kept trivial to produce in Lua: newline-separated fields, the free-text field
//! last. A display name has no newline (no control character), so it can be a field.
//! - message: `m\n<id>\n<client id>\n<text>`, or with a name `M\n<id>\n<client id>\n<name>\n<text>`
//! - presence: `j\n<client id>\n<online count>` (join) or `l\n…` (leave); with a name,
//!   `J`/`L` and the name as a fourth field
//! - typing: `t\n<client id>\n<name>` (the name empty for none); it has no id, so it is
//!   delivered as it comes, without the gap checks messages get
//!
//! The unnamed forms are those from before names existed: payloads still in flight from an
//! older instance read the same, and an older instance reads a new unnamed one.

use protocol::{
    ChannelId, ChatMessage, ClientId, DisplayName, PresenceEvent, time::rfc3339_millis,
};

use crate::bus::{BusEvent, Signal};

#[derive(Debug, thiserror::Error)]
#[error("malformed event payload: {0}")]
pub struct MalformedEvent(&'static str);

/// The payload of a `typing` signal.
pub fn encode_typing(client: &ClientId, name: Option<&DisplayName>) -> String {
    format!("t\n{client}\n{}", name.map_or("", DisplayName::as_str))
}

pub fn encode_disconnect(client: &ClientId, reason: &str) -> String {
    format!("x\n{client}\n{reason}")
}

pub fn decode(channel: &ChannelId, payload: &[u8]) -> Result<BusEvent, MalformedEvent> {
    let text = std::str::from_utf8(payload).map_err(|_| MalformedEvent("not UTF-8"))?;
    let (kind, rest) = text.split_once('\n').ok_or(MalformedEvent("no kind"))?;
    match kind {
        "m" | "M" => message(channel, rest, kind == "M"),
        "j" | "l" | "J" | "L" => {
            let mut fields = rest.splitn(3, '\n');
            let (Some(client), Some(count)) = (fields.next(), fields.next()) else {
                return Err(MalformedEvent("presence fields missing"));
            };
            let name = match (kind, fields.next()) {
                ("J" | "L", Some(name)) => Some(display_name(name)?),
                ("j" | "l", None) => None,
                _ => return Err(MalformedEvent("presence name out of place")),
            };
            Ok(BusEvent::Presence {
                event: if kind.eq_ignore_ascii_case("j") {
                    PresenceEvent::Join
                } else {
                    PresenceEvent::Leave
                },
                client_id: client_id(client)?,
                online_count: count.parse().map_err(|_| MalformedEvent("bad count"))?,
                name,
            })
        }
        "t" => {
            let (client, name) = rest
                .split_once('\n')
                .ok_or(MalformedEvent("typing fields missing"))?;
            Ok(BusEvent::Signal(Signal::Typing {
                client: client_id(client)?,
                name: (!name.is_empty()).then(|| display_name(name)).transpose()?,
            }))
        }
        "x" => {
            let (client, reason) = rest
                .split_once('\n')
                .ok_or(MalformedEvent("disconnect fields missing"))?;
            Ok(BusEvent::Signal(Signal::Disconnect {
                client: client_id(client)?,
                reason: reason.to_owned(),
            }))
        }
        _ => Err(MalformedEvent("unknown kind")),
    }
}

fn message(channel: &ChannelId, rest: &str, named: bool) -> Result<BusEvent, MalformedEvent> {
    let mut fields = rest.splitn(if named { 4 } else { 3 }, '\n');
    let (Some(id), Some(client)) = (fields.next(), fields.next()) else {
        return Err(MalformedEvent("message fields missing"));
    };
    let name = match named {
        true => Some(display_name(
            fields.next().ok_or(MalformedEvent("name missing"))?,
        )?),
        false => None,
    };
    let message = fields.next().ok_or(MalformedEvent("text missing"))?;
    let id: protocol::MessageId = id.parse().map_err(|_| MalformedEvent("bad id"))?;
    Ok(BusEvent::Message(ChatMessage {
        id,
        channel_id: channel.clone(),
        client_id: client_id(client)?,
        time: rfc3339_millis(id.millis),
        message: message.to_owned(),
        name,
    }))
}

fn client_id(raw: &str) -> Result<ClientId, MalformedEvent> {
    ClientId::parse(raw).map_err(|_| MalformedEvent("bad client"))
}

fn display_name(raw: &str) -> Result<DisplayName, MalformedEvent> {
    DisplayName::parse(raw).map_err(|_| MalformedEvent("bad name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> ChannelId {
        ChannelId::parse("room").unwrap()
    }

    #[test]
    fn decodes_messages_with_newlines_in_the_text() {
        let event = decode(
            &room(),
            "m\n1700000000000-3\nalice\nline 1\nline 2".as_bytes(),
        )
        .unwrap();
        let BusEvent::Message(m) = event else {
            panic!("not a message")
        };
        assert_eq!(m.id.to_string(), "1700000000000-3");
        assert_eq!(m.message, "line 1\nline 2");
        assert_eq!(m.time, "2023-11-14T22:13:20.000Z");
        assert_eq!(m.name, None);
    }

    #[test]
    fn decodes_named_messages_and_presence() {
        let BusEvent::Message(m) =
            decode(&room(), "M\n1-0\nlei\n李雷\nhi\nthere".as_bytes()).unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(m.name.as_ref().map(DisplayName::as_str), Some("李雷"));
        assert_eq!(m.message, "hi\nthere");
        assert_eq!(
            decode(&room(), "J\nzoe\n2\nZoë Smith".as_bytes()).unwrap(),
            BusEvent::Presence {
                event: PresenceEvent::Join,
                client_id: ClientId::parse("zoe").unwrap(),
                online_count: 2,
                name: Some(DisplayName::parse("Zoë Smith").unwrap()),
            }
        );
    }

    #[test]
    fn disconnects_round_trip_with_any_reason() {
        let client = ClientId::parse("troll").unwrap();
        for reason in ["", "spam", "two\nlines"] {
            let payload = encode_disconnect(&client, reason);
            assert_eq!(
                decode(&room(), payload.as_bytes()).unwrap(),
                BusEvent::Signal(Signal::Disconnect {
                    client: client.clone(),
                    reason: reason.to_owned(),
                })
            );
        }
    }

    #[test]
    fn typing_round_trips_with_and_without_a_name() {
        let client = ClientId::parse("ob").unwrap();
        for name in [None, Some(DisplayName::parse("O'Brien").unwrap())] {
            let payload = encode_typing(&client, name.as_ref());
            assert_eq!(
                decode(&room(), payload.as_bytes()).unwrap(),
                BusEvent::Signal(Signal::Typing {
                    client: client.clone(),
                    name
                })
            );
        }
    }

    #[test]
    fn decodes_presence_and_rejects_garbage() {
        assert_eq!(
            decode(&room(), b"l\nbob\n4").unwrap(),
            BusEvent::Presence {
                event: PresenceEvent::Leave,
                client_id: ClientId::parse("bob").unwrap(),
                online_count: 4,
                name: None,
            }
        );
        for bad in [
            &b"x\n1"[..],
            b"m\n1-0\nalice",
            b"M\n1-0\nalice\nAlice",
            b"j\nbob\nmany",
            b"j\nbob\n1\nBob",
            b"J\nbob\n1\n\x07",
            b"t\nbob",
            b"m\nnope\na\nb",
            b"\xff",
        ] {
            assert!(decode(&room(), bad).is_err(), "{bad:?}");
        }
    }
}
