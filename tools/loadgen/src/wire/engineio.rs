//! Engine.IO v4 packets carrying socket.io v5 packets, as text frames on a WebSocket
//! (`/socket.io/?EIO=4&transport=websocket`): one packet per frame, no binary attachments,
//! the default namespace only.
//!
//! An Engine.IO packet is a type digit and its data: `0` open (JSON handshake), `1` close,
//! `2` ping, `3` pong, `4` message, `6` noop. A message carries a socket.io packet: a type
//! digit (`0` connect, `1` disconnect, `2` event, `3` ack, `4` connect error), an optional
//! `/namespace,`, an optional ack id (digits), then JSON. So `42["message",{…}]` is an event
//! and `4312[]` the answer to the event sent with ack id 12.

/// One text frame, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// The session's handshake (`0{"sid":…,"pingInterval":…}`).
    Open(&'a str),
    Close,
    Ping,
    Pong,
    Noop,
    /// socket.io connected to the namespace.
    Connect(&'a str),
    Disconnect,
    ConnectError(&'a str),
    /// An event: its JSON array (`["name", args…]`), and the ack id when the sender wants an
    /// answer.
    Event {
        ack: Option<u64>,
        data: &'a str,
    },
    /// The answer to our event with ack id `id`: its JSON array of arguments.
    Ack {
        id: u64,
        data: &'a str,
    },
}

/// The frame answering a ping.
pub const PONG: &str = "3";
/// The frame connecting to the default namespace.
pub const CONNECT: &str = "40";

/// Reads a text frame; `None` for anything that is not an Engine.IO v4 text packet we know.
pub fn parse(text: &str) -> Option<Packet<'_>> {
    let (&kind, rest) = text.as_bytes().split_first()?;
    let data = &text[1..];
    Some(match kind {
        b'0' => Packet::Open(data),
        b'1' => Packet::Close,
        b'2' => Packet::Ping,
        b'3' => Packet::Pong,
        b'6' => Packet::Noop,
        b'4' => {
            let (&kind, _) = rest.split_first()?;
            let body = skip_namespace(&data[1..])?;
            match kind {
                b'0' => Packet::Connect(body),
                b'1' => Packet::Disconnect,
                b'4' => Packet::ConnectError(body),
                b'2' => {
                    let (ack, data) = ack_id(body)?;
                    Packet::Event { ack, data }
                }
                b'3' => match ack_id(body)? {
                    (Some(id), data) => Packet::Ack { id, data },
                    (None, _) => return None,
                },
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// An event frame: `42` + ack id (if any) + the JSON array `args` (which starts with the
/// event's name, quoted).
pub fn event(ack: Option<u64>, args: &str) -> String {
    let mut frame = String::with_capacity(args.len() + 12);
    frame.push_str("42");
    if let Some(id) = ack {
        frame.push_str(&id.to_string());
    }
    frame.push_str(args);
    frame
}

/// Skips `/namespace,` when there is one.
fn skip_namespace(body: &str) -> Option<&str> {
    if body.starts_with('/') {
        body.split_once(',').map(|(_, rest)| rest)
    } else {
        Some(body)
    }
}

/// Splits the leading ack id (digits) off a packet's data.
fn ack_id(body: &str) -> Option<(Option<u64>, &str)> {
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Some((None, body));
    }
    let id = body[..digits].parse().ok()?;
    Some((Some(id), &body[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_engine_packets() {
        assert_eq!(
            parse(r#"0{"sid":"x","pingInterval":25000}"#),
            Some(Packet::Open(r#"{"sid":"x","pingInterval":25000}"#))
        );
        assert_eq!(parse("1"), Some(Packet::Close));
        assert_eq!(parse("2"), Some(Packet::Ping));
        assert_eq!(parse("3"), Some(Packet::Pong));
        assert_eq!(parse("6"), Some(Packet::Noop));
        assert_eq!(parse(""), None);
        assert_eq!(parse("5"), None); // upgrade: never on a WebSocket-only session
        assert_eq!(parse("x"), None);
    }

    #[test]
    fn reads_socketio_packets() {
        assert_eq!(
            parse(r#"40{"sid":"abc"}"#),
            Some(Packet::Connect(r#"{"sid":"abc"}"#))
        );
        assert_eq!(parse("41"), Some(Packet::Disconnect));
        assert_eq!(
            parse(r#"44{"message":"no"}"#),
            Some(Packet::ConnectError(r#"{"message":"no"}"#))
        );
        assert_eq!(
            parse(r#"42["message",{"user":"a","text":"b"}]"#),
            Some(Packet::Event {
                ack: None,
                data: r#"["message",{"user":"a","text":"b"}]"#
            })
        );
        assert_eq!(
            parse(r#"4217["ping"]"#),
            Some(Packet::Event {
                ack: Some(17),
                data: r#"["ping"]"#
            })
        );
        assert_eq!(parse("4312[]"), Some(Packet::Ack { id: 12, data: "[]" }));
        assert_eq!(
            parse(r#"430[null,null]"#),
            Some(Packet::Ack {
                id: 0,
                data: "[null,null]"
            })
        );
        // A namespace is skipped; an ack without an id, or an unknown type, is not a packet.
        assert_eq!(
            parse(r#"42/chat,3["x"]"#),
            Some(Packet::Event {
                ack: Some(3),
                data: r#"["x"]"#
            })
        );
        assert_eq!(parse("43[]"), None);
        assert_eq!(parse("49"), None);
        assert_eq!(parse("4"), None);
        assert_eq!(parse("4399999999999999999999[]"), None);
    }

    #[test]
    fn writes_events() {
        assert_eq!(event(None, r#"["a"]"#), r#"42["a"]"#);
        assert_eq!(
            event(Some(5), r#"["sendMessage","hi"]"#),
            r#"425["sendMessage","hi"]"#
        );
        // What we write, we read back.
        let frame = event(Some(9), r#"["signin",{"user":"u","room":"r"}]"#);
        assert_eq!(
            parse(&frame),
            Some(Packet::Event {
                ack: Some(9),
                data: r#"["signin",{"user":"u","room":"r"}]"#
            })
        );
        assert_eq!(PONG, "3");
        assert_eq!(parse(CONNECT), Some(Packet::Connect("")));
    }
}
