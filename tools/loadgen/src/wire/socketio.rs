//! The reference server's chat over socket.io: connect to the default namespace, `signin`
//! `{user, room}` (answered with the room's history), `sendMessage` text with an ack id, and
//! `message` `{user, text}` events back. Ack ids: 0 for the sign-in, `seq + 1` for the send of
//! sequence number `seq`, so an ack names the message it accepts.

use std::borrow::Cow;

use futures_util::SinkExt;
use serde::Deserialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{
    Incoming, Join,
    engineio::{self, Packet},
};
use crate::conn::{self, Ws};

/// The WebSocket-only Engine.IO endpoint (no HTTP long-polling first).
pub(super) const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

const SIGNIN_ACK: u64 = 0;

/// Engine.IO open, socket.io connect, then `signin` until its callback says no error.
pub(super) async fn sign_in(ws: &mut Ws, join: Join<'_>, deadline: Instant) -> Result<(), String> {
    match engineio::parse(&conn::next_text(ws, deadline, "open").await?) {
        Some(Packet::Open(_)) => {}
        _ => return Err("no_open".into()),
    }
    send(ws, engineio::CONNECT.to_owned(), deadline).await?;
    loop {
        match engineio::parse(&conn::next_text(ws, deadline, "connect").await?) {
            Some(Packet::Connect(_)) => break,
            Some(Packet::ConnectError(_)) => return Err("connect_error".into()),
            Some(Packet::Ping) => send(ws, engineio::PONG.to_owned(), deadline).await?,
            _ => return Err("no_connect".into()),
        }
    }
    let args = serde_json::json!(["signin", {"user": join.client, "room": join.channel}]);
    send(
        ws,
        engineio::event(Some(SIGNIN_ACK), &args.to_string()),
        deadline,
    )
    .await?;
    loop {
        match engineio::parse(&conn::next_text(ws, deadline, "signin").await?) {
            Some(Packet::Ack {
                id: SIGNIN_ACK,
                data,
            }) => {
                // The callback's arguments: (error, history).
                let args: Vec<serde_json::Value> =
                    serde_json::from_str(data).map_err(|_| "bad_signin_ack".to_owned())?;
                return match args.first() {
                    None | Some(serde_json::Value::Null) => Ok(()),
                    Some(_) => Err("signin_refused".into()),
                };
            }
            Some(Packet::Ping) => send(ws, engineio::PONG.to_owned(), deadline).await?,
            Some(Packet::Disconnect | Packet::Close) => return Err("closed_before_signin".into()),
            _ => {} // notifications of other members joining
        }
    }
}

async fn send(ws: &mut Ws, frame: String, deadline: Instant) -> Result<(), String> {
    tokio::time::timeout_at(deadline, ws.send(Message::text(frame)))
        .await
        .map_err(|_| "timeout".to_owned())?
        .map_err(|e| conn::ws_cause(&e))
}

/// The `sendMessage` event for `message`, sequence number `seq`.
pub(super) fn send_message(message: &str, seq: u32) -> Option<String> {
    let args = serde_json::to_string(&("sendMessage", message)).ok()?;
    Some(engineio::event(Some(u64::from(seq) + 1), &args))
}

/// The argument of a `message` event, borrowed from the frame when it has no escapes.
#[derive(Deserialize)]
struct ChatMessage<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// A `message` event as socket.io writes the reference's `{user, text}`, scanned:
/// `42["message",{"user":"<user>","text":"<text>"}]`.
fn scan_message(frame: &str) -> Option<Incoming<'_>> {
    let rest = frame.strip_prefix(r#"42["message",{"user":""#)?;
    let (_user, rest) = super::plain_string(rest)?;
    let rest = rest.strip_prefix(r#","text":""#)?;
    let (text, rest) = super::plain_string(rest)?;
    (rest == "}]").then_some(Incoming::Message {
        id: None,
        text: Cow::Borrowed(text),
    })
}

pub(super) fn parse(text: &str) -> Incoming<'_> {
    if let Some(message) = scan_message(text) {
        return message;
    }
    match engineio::parse(text) {
        Some(Packet::Event { data, .. }) if data.starts_with(r#"["message","#) => {
            match serde_json::from_str::<(&str, ChatMessage)>(data) {
                Ok((_, message)) => Incoming::Message {
                    id: None,
                    text: message.text,
                },
                Err(_) => Incoming::Bad,
            }
        }
        Some(Packet::Ack { id, data }) if id > SIGNIN_ACK => {
            let seq = u32::try_from(id - 1).ok();
            // The callback's first argument is the error; none (or null) means accepted.
            if matches!(data, "[]" | "[null]") {
                Incoming::Ack { seq }
            } else {
                Incoming::Error {
                    code: "refused".into(),
                    for_send: true,
                }
            }
        }
        Some(Packet::Ping) => Incoming::Reply(engineio::PONG),
        Some(Packet::Disconnect | Packet::Close) => Incoming::Closed("server_disconnect"),
        Some(Packet::ConnectError(_)) => Incoming::Closed("connect_error"),
        Some(_) => Incoming::Other,
        None => Incoming::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_carry_the_sequence_number_in_the_ack_id() {
        let frame = send_message("deadbeef:0:3:99 \"q\"", 3).unwrap();
        assert_eq!(frame, r#"424["sendMessage","deadbeef:0:3:99 \"q\""]"#);
        assert_eq!(parse("434[]"), Incoming::Ack { seq: Some(3) });
        assert_eq!(parse("434[null]"), Incoming::Ack { seq: Some(3) });
        assert!(matches!(
            parse(r#"434["User session not found."]"#),
            Incoming::Error { for_send: true, .. }
        ));
        // The sign-in's ack (id 0) is not a message's.
        assert_eq!(parse("430[null,null]"), Incoming::Other);
    }

    #[test]
    fn reads_messages_pings_and_the_rest() {
        assert_eq!(
            parse(r#"42["message",{"user":"lg-p0","text":"deadbeef:0:1:2"}]"#),
            Incoming::Message {
                id: None,
                text: "deadbeef:0:1:2".into()
            }
        );
        assert_eq!(
            parse(r#"42["message",{"text":"a\"b","user":"u"}]"#),
            Incoming::Message {
                id: None,
                text: "a\"b".into()
            }
        );
        assert!(scan_message(r#"42["message",{"user":"lg-p0","text":"x"}]"#).is_some());
        assert!(scan_message(r#"42["message",{"text":"a\"b","user":"u"}]"#).is_none());
        assert!(scan_message(r#"42["message",{"user":"u","text":"x","more":1}]"#).is_none());
        assert_eq!(parse(r#"42["message",{"user":"u"}]"#), Incoming::Bad);
        assert_eq!(parse("2"), Incoming::Reply("3"));
        assert_eq!(
            parse(r#"42["notification",{"title":"t","description":"d"}]"#),
            Incoming::Other
        );
        assert_eq!(parse("41"), Incoming::Closed("server_disconnect"));
        assert_eq!(parse("{}"), Incoming::Bad);
    }
}
